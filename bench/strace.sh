#!/usr/bin/env bash
# Syscalls per HTTP request (`strace -c -f`) for simul's client and hyper's
# (on tokio and on smol), over one keep-alive connection to our nginx.
# Counted as (calls(http R2) - calls(http R1)) / (R2 - R1), so connecting
# and process start-up cancel out; per syscall, then in total.
# Writes bench/results/strace.txt (RESULTS.md includes it).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v strace >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace
}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build -p bench --release -q
bin="$CARGO_TARGET_DIR/release/workload"
r1=200
r2=2200

# The body runs inside `workload with-nginx`, which sets BENCH_URL.
BENCH_BIN="$bin" R1=$r1 R2=$r2 "$bin" with-nginx bash -c '
  set -euo pipefail
  scratch=$(mktemp -d)
  trap "rm -rf $scratch" EXIT
  # "calls name" for every syscall of one run.
  counts() {
    strace -c -f -o "$scratch/c" "$BENCH_BIN" http "$1" "$2" 1 "$BENCH_URL" >/dev/null
    awk "\$1 ~ /^[0-9.]+$/ && \$NF != \"total\" { print \$4, \$NF }" "$scratch/c"
  }
  echo "syscalls per request (strace -c -f; http R 1; (calls(R=$R2) - calls(R=$R1)) / $((R2 - R1)))"
  for rt in simul tokio smol; do
    counts "$rt" "$R1" > "$scratch/a"
    counts "$rt" "$R2" > "$scratch/b"
    awk -v n=$((R2 - R1)) -v rt="$rt" "
      FNR == NR { a[\$2] = \$1; next }
      { d = (\$1 - a[\$2]) / n; if (d >= 0.01) { total += d; line = line sprintf(\" %s=%.2f\", \$2, d) } }
      END { printf \"%-6s total=%.2f%s\n\", rt, total, line }
    " "$scratch/a" "$scratch/b"
  done
' | tee bench/results/strace.txt
