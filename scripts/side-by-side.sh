#!/usr/bin/env bash
# The article's Python beside our Rust: runs both versions of one program and shows their
# outputs and timings side by side.
#
#   scripts/side-by-side.sh NAME           NAME: processes, threads, coroutine
#   scripts/side-by-side.sh --check NAME   the same, and exit 1 unless they print the same lines
#
# The Python programs are in examples/python/ (the article's, as it prints them); ours are the
# examples of the same names. Where our example runs the program twice (threads, coroutine: a
# header line `# ...` before each version), each version must print the Python's lines. Where
# the order is the OS's to choose (multiprocessing, threading: processes and threads print as
# they are scheduled), the lines are compared as a set.
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
if [ "${1:-}" = --check ]; then
  check=true
  shift
fi
name=${1:-}
case $name in
  processes) python=examples/python/multiprocessing_demo.py; unordered=true ;;
  threads) python=examples/python/threading_demo.py; unordered=true ;;
  coroutine) python=examples/python/coroutine_demo.py; unordered=false ;;
  *)
    echo "usage: scripts/side-by-side.sh [--check] processes|threads|coroutine" >&2
    exit 2
    ;;
esac

"${CARGO:-cargo}" build --quiet --example "$name"
rust=target/debug/examples/$name
[ -n "${CARGO_TARGET_DIR:-}" ] && rust=$CARGO_TARGET_DIR/debug/examples/$name

py_out=$(mktemp)
rs_out=$(mktemp)
trap 'rm -f "$py_out" "$rs_out"' EXIT

now() { date +%s.%N; }
t0=$(now)
python3 "$python" >"$py_out"
t1=$(now)
"$rust" >"$rs_out"
t2=$(now)

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
printf '%-60s | %s\n' "python3 $python ($(secs "$t0" "$t1") s)" "$rust ($(secs "$t1" "$t2") s)"
printf '%.0s-' {1..60}
printf -- '-+-'
printf '%.0s-' {1..60}
echo
pr -m -t -w 123 "$py_out" "$rs_out"

$check || exit 0

# The comparison: Python's lines, against each version our example prints.
sorted_if() { if $unordered; then sort; else cat; fi; }
expected=$(sorted_if <"$py_out")
versions=0
mismatch=0
section=""
flush() {
  [ -z "$section" ] && return
  versions=$((versions + 1))
  if [ "$(printf '%s' "$section" | sorted_if)" != "$expected" ]; then
    echo "version $versions of our $name prints other lines than the Python:" >&2
    diff <(echo "$expected") <(printf '%s' "$section" | sorted_if) >&2 || true
    mismatch=1
  fi
  section=""
}
while IFS= read -r line; do
  if [[ $line == "# "* ]]; then
    flush
  else
    section+="$line"$'\n'
  fi
done <"$rs_out"
flush
if [ "$versions" -eq 0 ] || [ "$mismatch" -ne 0 ]; then
  exit 1
fi
echo "same lines: python3 and each of our $versions version(s)"
