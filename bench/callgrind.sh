#!/usr/bin/env bash
# Instructions per operation under callgrind (WORKLOADS.md, "Instruction
# counts"): spawn and yield at 1/10 size, minus a size-0 run of the same
# command, for simul, tokio and smol.
#   spawn: (Ir(spawn 100000) - Ir(spawn 0)) / 100,000
#   yield: (Ir(yield 100 1000) - Ir(yield 100 0)) / 100,000
# Writes bench/results/callgrind.txt (RESULTS.md includes it).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind
}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build -p bench --release -q
bin="$CARGO_TARGET_DIR/release/workload"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Total instructions (Ir) of one run of the workload binary.
instructions() {
  local out="$scratch/callgrind.out"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$@" >/dev/null 2>"$scratch/log" || {
    cat "$scratch/log" >&2
    return 1
  }
  awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

{
  echo "instructions per operation (callgrind, 1/10 size, minus a size-0 run)"
  printf '%-6s %18s %14s\n' runtime "per spawn+join" "per yield"
  for rt in simul tokio smol; do
    spawn=$(( ($(instructions spawn "$rt" 100000) - $(instructions spawn "$rt" 0)) / 100000 ))
    yield=$(( ($(instructions yield "$rt" 100 1000) - $(instructions yield "$rt" 100 0)) / 100000 ))
    printf '%-6s %18s %14s\n' "$rt" "$spawn" "$yield"
  done
} | tee bench/results/callgrind.txt
