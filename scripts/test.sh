#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this).
# Installs the Debian packages the tests talk to, only if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real servers the tests start on loopback, as binary:package pairs.
servers="nginx:nginx redis-server:redis-server"
needed=()
for pair in $servers; do
  bin=${pair%%:*}
  pkg=${pair#*:}
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || needed+=("$pkg")
done
if [ ${#needed[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${needed[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${needed[@]}"
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test
