#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this).
# Installs the Debian packages the tests talk to, only if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real servers the tests start on loopback, as binary:package pairs; and the tools the chaos
# test (tests/rq_chaos.rs) uses to make its two hosts and to watch their Redis.
servers="nginx:nginx redis-server:redis-server redis-cli:redis-tools ip:iproute2"
needed=()
for pair in $servers; do
  bin=${pair%%:*}
  pkg=${pair#*:}
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || needed+=("$pkg")
done
# The system's trust store: the TLS tests check that a private CA is *not* trusted by default,
# which needs a default to compare with (with no roots at all, a client refuses to start).
[ -s /etc/ssl/certs/ca-certificates.crt ] || needed+=("ca-certificates")
if [ ${#needed[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${needed[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${needed[@]}"
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Python's rq, for the interop tests in tests/rq_examples.rs, and aiohttp, for the article's
# asyncio program beside ours (tests/side_by_side.rs): a venv in target/rq-venv with pinned
# versions (the tests make the same venv themselves when SIMUL_RQ_PYTHON is not set). redis-py is
# pinned below 8.2, whose PubSubWorkerThread.stop() joins the thread without a timeout: rq's
# burst worker then sometimes waits out its 60 s pubsub poll before it exits.
rq_version=2.12.0
redis_py_version=8.1.0
aiohttp_version=3.14.5
rq_venv="$PWD/target/rq-venv"
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: python3 python3-venv"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3 python3-venv
fi
pinned="import sys, rq, redis, aiohttp
sys.exit((rq.__version__, redis.__version__, aiohttp.__version__) != ('$rq_version', '$redis_py_version', '$aiohttp_version'))"
if ! "$rq_venv/bin/python" -c "$pinned" 2>/dev/null; then
  python3 -m venv "$rq_venv"
  "$rq_venv/bin/python" -m pip install --quiet "rq==$rq_version" "redis==$redis_py_version" "aiohttp==$aiohttp_version"
fi
export SIMUL_RQ_PYTHON="$rq_venv/bin/python"

cargo test
# The BOOK's exercises: each "break it" patch still breaks what the book says, each "extend it"
# reference solution passes its tests and each naive solution fails them (exercises/README.md).
scripts/check-exercises.sh
# The benchmark harness (not a default member): build it, and run every
# workload on simul at a tiny size; it fails if any result check fails.
cargo build -p bench
cargo run -p bench -- tiny
