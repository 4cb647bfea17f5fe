#!/usr/bin/env bash
# The article's Python beside our Rust: runs both versions of one program on the same local
# fixture and shows their outputs and timings side by side.
#
#   scripts/side-by-side.sh NAME           NAME: processes, threads, coroutine, asyncio, rq
#   scripts/side-by-side.sh --check NAME   the same, and exit 1 unless they print the same lines
#
# The Python programs are in examples/python/ (the article's, as it prints them, or as close as
# today's libraries allow) and examples/rq/; ours are the examples of the same names. Where our
# example runs the program twice (threads, coroutine: a header line `# ...` before each
# version), each version must print the Python's lines. Where the order is the OS's to choose
# (multiprocessing, threading: processes and threads print as they are scheduled), the lines are
# compared as a set.
#
# asyncio: `reddit_top --serve` is the one server both clients fetch from (the article's posts,
# with its delays); the Python is asyncio_demo.py on aiohttp. Our summary line (`fetched 3
# subreddits in ...`), which the article's program does not print, is left out of the check.
#
# rq: a redis-server of this script's own on a free port, and a page to count served by Python's
# http.server. examples/rq/enqueue.py enqueues the same job (same id, same page) once for each
# worker, each on a database of its own: Python's `rq worker --burst`, then our `rq_worker
# --burst`. The check compares the article's lines (the queue it listens on, the job's
# description, what the job printed, `Job OK`, how long the result is kept) after the clock and
# the worker's name, and what enqueue.py saw. Lines only one worker prints (its start and stop,
# rq's registry cleaning) are shown, not compared.
#
# asyncio and rq need a python with aiohttp and rq: $SIMUL_RQ_PYTHON, else target/rq-venv/bin/python
# (scripts/test.sh makes that venv with the pinned versions).
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
if [ "${1:-}" = --check ]; then
  check=true
  shift
fi
name=${1:-}
venv_python=${SIMUL_RQ_PYTHON:-target/rq-venv/bin/python}
case $name in
  processes) python=(python3 examples/python/multiprocessing_demo.py); unordered=true ;;
  threads) python=(python3 examples/python/threading_demo.py); unordered=true ;;
  coroutine) python=(python3 examples/python/coroutine_demo.py); unordered=false ;;
  asyncio) ours=reddit_top; unordered=false ;;
  rq) ours=rq_worker; unordered=false ;;
  *)
    echo "usage: scripts/side-by-side.sh [--check] processes|threads|coroutine|asyncio|rq" >&2
    exit 2
    ;;
esac
ours=${ours:-$name}

"${CARGO:-cargo}" build --quiet --example "$ours"
rust=target/debug/examples/$ours
[ -n "${CARGO_TARGET_DIR:-}" ] && rust=$CARGO_TARGET_DIR/debug/examples/$ours

tmp=$(mktemp -d)
py_out=$tmp/python.out
rs_out=$tmp/ours.out
background=()
cleanup() {
  for pid in "${background[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
die() {
  echo "side-by-side $name: $*" >&2
  exit 1
}
# Polls (up to 10 s) until FILE has a line matching REGEX.
wait_for_line() {
  local deadline=$((SECONDS + 10))
  until grep -q "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.02
  done
}
# Polls (up to 10 s) until something accepts connections on the loopback PORT.
wait_for_port() {
  local deadline=$((SECONDS + 10))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.02
  done
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
needs_venv() {
  [ -x "$venv_python" ] \
    || die "needs $venv_python (rq and aiohttp): run scripts/test.sh, which makes target/rq-venv, or set SIMUL_RQ_PYTHON"
  for module in "$@"; do
    "$venv_python" -c "import $module" 2>/dev/null \
      || die "$venv_python has no $module: run scripts/test.sh (it installs the pinned version), or set SIMUL_RQ_PYTHON to a python that has it"
  done
}

case $name in
  processes | threads | coroutine)
    py_label="${python[*]}"
    t0=$(now)
    "${python[@]}" >"$py_out"
    t1=$(now)
    "$rust" >"$rs_out"
    t2=$(now)
    py_secs=$(secs "$t0" "$t1")
    rs_secs=$(secs "$t1" "$t2")
    cp "$py_out" "$tmp/python.cmp"
    cp "$rs_out" "$tmp/ours.cmp"
    ;;

  asyncio)
    needs_venv aiohttp
    "$rust" --serve >"$tmp/server.out" 2>&1 &
    background+=($!)
    wait_for_line "$tmp/server.out" '^serving ' || die "reddit_top --serve did not start: $(cat "$tmp/server.out")"
    base=$(sed -n 's/^serving //p' "$tmp/server.out")
    py_label="asyncio_demo.py $base"
    t0=$(now)
    PYTHONIOENCODING=utf-8 "$venv_python" examples/python/asyncio_demo.py "$base" >"$py_out"
    t1=$(now)
    "$rust" --base-url "$base" >"$rs_out"
    t2=$(now)
    py_secs=$(secs "$t0" "$t1")
    rs_secs=$(secs "$t1" "$t2")
    cp "$py_out" "$tmp/python.cmp"
    grep -v '^fetched [0-9]* subreddits in ' "$rs_out" >"$tmp/ours.cmp" || true
    ;;

  rq)
    needs_venv rq redis
    rq_cli=$(dirname "$venv_python")/rq
    [ -x "$rq_cli" ] || die "no rq command beside $venv_python"
    command -v redis-server >/dev/null || die "needs redis-server (scripts/test.sh installs it)"
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
      >"$tmp/redis.log" 2>&1 &
    background+=($!)
    mkdir "$tmp/www"
    "$venv_python" -c 'import sys; sys.path.insert(0, "examples/rq"); import enqueue; sys.stdout.write(enqueue.PAGE)' \
      >"$tmp/www/page.txt"
    page_port=$(free_port)
    python3 -m http.server --bind 127.0.0.1 --directory "$tmp/www" "$page_port" >"$tmp/www.log" 2>&1 &
    background+=($!)
    wait_for_port "$redis_port" || die "redis-server did not start: $(cat "$tmp/redis.log")"
    wait_for_port "$page_port" || die "the page server did not start: $(cat "$tmp/www.log")"
    page=http://127.0.0.1:$page_port/page.txt
    job_id=side-by-side-$$

    # One run: enqueue.py enqueues the job on database DB, then a worker (python: rq's; ours:
    # rq_worker) runs it in burst mode. OUT gets the worker's lines, then what enqueue.py saw.
    run_rq() {
      local db=$1 kind=$2 out=$3
      local url=redis://127.0.0.1:$redis_port/$db
      local worker=("$rust_path" --burst --url "$url" default)
      [ "$kind" = python ] && worker=("$rq_cli" worker --burst --url "$url" default)
      (cd examples/rq && exec "$venv_python" enqueue.py --url "$url" --page "$page" --job-id "$job_id" --wait 30) \
        >"$tmp/enqueue$db.out" 2>&1 &
      local enqueue=$!
      background+=("$enqueue")
      wait_for_line "$tmp/enqueue$db.out" '^Job ' || die "enqueue.py did not enqueue: $(cat "$tmp/enqueue$db.out")"
      # Python's modules are imported from examples/rq (mymodule.py); ours are compiled in.
      local start
      start=$(now)
      (cd examples/rq && timeout 60 "${worker[@]}") >"$tmp/worker$db.out" 2>"$tmp/worker$db.err" \
        || die "the $kind worker failed: $(cat "$tmp/worker$db.out" "$tmp/worker$db.err")"
      worker_secs=$(secs "$start" "$(now)")
      wait "$enqueue" || true
      # The clock and the worker's name differ from run to run; what follows them is the line.
      sed -E 's/^[0-9]{2}:[0-9]{2}:[0-9]{2} //; s/^Worker [0-9a-f]+( \[PID [0-9]+\])?:? //' "$tmp/worker$db.out" >"$out"
      grep -v '^Job ' "$tmp/enqueue$db.out" | sed 's/^/enqueue.py: /' >>"$out"
    }
    rust_path=$(realpath "$rust")
    py_label="rq worker (Python rq $("$venv_python" -c 'import rq; print(rq.__version__)'))"
    # Timed: the workers alone, from start to exit (enqueue.py starts before each).
    run_rq 0 python "$py_out"
    py_secs=$worker_secs
    run_rq 1 ours "$rs_out"
    rs_secs=$worker_secs
    # rq 2 words the result's lifetime as `job ID result is kept for N seconds`; the article's
    # rq, and ours, as `Result is kept for N seconds`.
    article_lines() {
      sed -E 's/^job [^ ]+ result is kept for /Result is kept for /' "$1" \
        | grep -E '^(\*\*\* Listening on |default: |[0-9]+$|Result is kept for |enqueue\.py: )' || true
    }
    article_lines "$py_out" >"$tmp/python.cmp"
    article_lines "$rs_out" >"$tmp/ours.cmp"
    ;;
esac

printf '%-60s | %s\n' "$py_label ($py_secs s)" "$rust ($rs_secs s)"
printf '%.0s-' {1..60}
printf -- '-+-'
printf '%.0s-' {1..60}
echo
pr -m -t -w 123 "$py_out" "$rs_out"

$check || exit 0

# The comparison: Python's lines, against each version our example prints.
sorted_if() { if $unordered; then sort; else cat; fi; }
expected=$(sorted_if <"$tmp/python.cmp")
[ -n "$expected" ] || die "the Python printed none of the lines to compare"
versions=0
mismatch=0
section=""
flush() {
  [ -z "$section" ] && return
  versions=$((versions + 1))
  if [ "$(printf '%s' "$section" | sorted_if)" != "$expected" ]; then
    echo "version $versions of our $ours prints other lines than the Python:" >&2
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
done <"$tmp/ours.cmp"
flush
if [ "$versions" -eq 0 ] || [ "$mismatch" -ne 0 ]; then
  exit 1
fi
echo "same lines: the Python and each of our $versions version(s)"
