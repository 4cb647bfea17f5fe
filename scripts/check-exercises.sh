#!/usr/bin/env bash
# Checks that BOOK.md's exercises still do what the book says (exercises/README.md explains the
# files and how to add one).
#
#   scripts/check-exercises.sh            every exercise
#   scripts/check-exercises.sh 4-2 2-5    only these (break patches and extend exercises by name)
#   scripts/check-exercises.sh --list     what there is, and what each one expects
#
# A "break it" exercise is exercises/break/<chapter>-<n>.patch. Its header (the text before the
# first `diff --git`) has one line per test the book names:
#
#   expect fail  timers::sleep_never_completes_early_on_the_real_clock
#   expect hang  waker_contract::wake_after_pending_polls_exactly_once_more
#   expect spin  tcp::echo_of_one_megabyte_through_tiny_buffers_is_exact
#   expect pass  tcp::peer_close_reads_as_zero_repeatedly
#
# `fail`: the test ends, failing. `hang`: still running after $HANG_SECS s, asleep (a lost
# wakeup: under a quarter of a core). `spin`: still running, busy (a busy loop: a quarter of a
# core or more). `pass`: the book says this one does not notice. The script applies the patch,
# builds the named tests' targets once, runs each named test alone (all of a patch's tests at
# once, each under a timeout), compares, and reverts the patch, also on Ctrl-C or an error.
#
# An "extend it" exercise is exercises/extend/<chapter>-<n>.rs, a test file whose header says
# where it goes (`//! install: runtime/tests/join_all.rs`). The script installs it, applies the
# reference solution exercises/solutions/<chapter>-<n>.patch, and expects every test in it to
# pass; then, without the solution, it applies each naive solution
# exercises/naive/<chapter>-<n>*.patch and expects what that patch's header says (naive
# solutions must be caught). Everything is removed again afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# A test expected to hang (or spin) is watched this long: long enough to measure its CPU use, and
# far beyond the fraction of a second these tests take when the code is right.
HANG_SECS=${HANG_SECS:-5}
# A test expected to end (pass or fail) may take this long before it counts as hung: it stops
# early when it ends, so this costs time only when an exercise is wrong.
END_SECS=${END_SECS:-60}

applied=()     # patches applied right now, reverted on exit
installed=()   # test files installed right now, removed on exit
cleanup() {
  local i
  for ((i = ${#applied[@]} - 1; i >= 0; i--)); do
    git apply -R "${applied[$i]}" || echo "check-exercises: could not revert ${applied[$i]}" >&2
  done
  applied=()
  for f in "${installed[@]}"; do rm -f "$f"; done
  installed=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apply() {
  if ! git apply --check "$1" 2>/dev/null; then
    echo "  ERROR: $1 does not apply to this tree (refresh it: see exercises/README.md)"
    return 1
  fi
  git apply "$1"
  applied+=("$1")
}

revert_all() { cleanup; }

# Where a test cited as `file::function` lives, as "package-dir target-name-or---lib exact".
locate() {
  local file=${1%::*}
  local dir
  for dir in runtime net . mini; do
    if [ -f "$dir/tests/$file.rs" ]; then
      echo "$dir --test:$file exact"
      return
    fi
  done
  for dir in runtime net; do
    if [ -f "$dir/src/$file.rs" ] || [ -f "$dir/src/$file/mod.rs" ]; then
      echo "$dir --lib:simul_$dir loose"
      return
    fi
  done
  echo "check-exercises: no test file for $1 (looked in */tests/${file}.rs, */src/${file}.rs)" >&2
  return 1
}

# Builds the targets ("--test:NAME" or "--lib:CRATE") and prints "target executable" lines.
# Integration tests are built without `-p`, as `cargo test` builds them; a crate's unit tests
# with `-p` and `--lib`, since `--lib` alone builds the unit tests of every default member. (Both
# resolve the dependencies' features as the whole workspace does, so neither rebuilds them.)
build() {
  local tests=() libs=() t
  for t in "$@"; do
    case $t in
      --test:*)
        tests+=(--test "${t#--test:}")
        # The facade's tests run the examples, which `cargo test` builds (as plain programs)
        # beside them; `cargo test --examples` would build them as tests instead.
        if [ -f "tests/${t#--test:}.rs" ]; then
          local out
          out=$(cargo build --quiet --examples 2>&1) || { echo "$out" >&2; return 1; }
        fi
        ;;
      --lib:*) libs+=("${t#--lib:}") ;;
    esac
  done
  if [ ${#tests[@]} -gt 0 ]; then
    build_with "$@" -- "${tests[@]}" || return 1
  fi
  for t in "${libs[@]}"; do
    build_with "$@" -- -p "${t//_/-}" --lib || return 1
  done
}

# `build_with WANTED... -- CARGO-ARGS...`: one `cargo test --no-run`, printing the executables
# of the wanted targets among those it built.
build_with() {
  local wanted=()
  while [ "$1" != -- ]; do
    wanted+=("$1")
    shift
  done
  shift
  local log
  log=$(mktemp)
  # Compiler messages go to a log, shown only if the build fails (a broken tree warns a lot).
  cargo test --quiet --no-run --message-format=json-render-diagnostics "$@" 2>"$log" |
    python3 -c '
import json, sys
wanted = sys.argv[1:]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    kinds, name = m["target"]["kind"], m["target"]["name"]
    key = ("--lib:" if "lib" in kinds else "--test:") + name
    if key in wanted:
        print(key, m["executable"])
' "${wanted[@]}"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || cat "$log" >&2
  rm -f "$log"
  return "$rc"
}

# CPU seconds (user + system) a process has used so far.
cpu_secs() {
  local stat ticks
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }   # the fields after the command name
  read -r -a f <<<"$stat"
  ticks=$((f[11] + f[12]))
  echo "$ticks $(getconf CLK_TCK)" | awk '{ printf "%.2f", $1 / $2 }'
}

# Runs tests at once and prints one outcome per line, in order: pass, fail, hang, spin, or none
# (no test matched the name). Arguments: quadruples "dir executable filter-args limit-secs"; a
# test still running after its limit is killed, and counts as hung or spinning by its CPU use.
run_tests() {
  local n=$(($# / 4)) i pids=() logs=() limits=() start outcome
  for ((i = 0; i < n; i++)); do
    local dir=${@:$((4 * i + 1)):1} exe=${@:$((4 * i + 2)):1} filter=${@:$((4 * i + 3)):1}
    limits[i]=${@:$((4 * i + 4)):1}
    logs[i]=$(mktemp)
    # shellcheck disable=SC2086 # the filter is "NAME --exact", "NAME", or empty (all tests)
    # In a process group of its own, so that a hung test's children (an example it runs) are
    # killed with it.
    (cd "$dir" && exec setsid "$exe" $filter --test-threads=1) >"${logs[i]}" 2>&1 &
    pids[i]=$!
  done
  start=$SECONDS
  for ((i = 0; i < n; i++)); do
    outcome=""
    while kill -0 "${pids[i]}" 2>/dev/null; do
      local wall=$((SECONDS - start))
      if [ "$wall" -ge "${limits[i]}" ]; then
        local cpu
        cpu=$(cpu_secs "${pids[i]}")
        kill -9 -- "-${pids[i]}" 2>/dev/null || kill -9 "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
        if awk -v c="$cpu" -v w="$wall" 'BEGIN { exit !(c >= 0.25 * w) }'; then
          outcome="spin (${cpu} s of CPU in ${wall} s)"
        else
          outcome="hang (${cpu} s of CPU in ${wall} s)"
        fi
        break
      fi
      sleep 0.2
    done
    if [ -z "$outcome" ]; then
      local rc=0
      wait "${pids[i]}" || rc=$?
      if grep -q '^running 0 tests' "${logs[i]}"; then
        outcome="none"
      elif [ "$rc" -eq 0 ]; then
        outcome="pass"
      else
        outcome="fail"
      fi
    fi
    echo "$outcome"
    rm -f "${logs[i]}"
  done
}

# Checks a patch's (or naive solution's) `expect` lines with the patch applied.
check_expectations() {
  local patch=$1 ok=0
  local -a verbs names targets
  local -a limits
  while read -r word verb name _; do
    [ "$word" = expect ] || continue
    # `fail@90`: this one may take up to 90 s to fail (the defaults: $HANG_SECS to hang or spin,
    # $END_SECS to pass or fail).
    verbs+=("${verb%@*}")
    if [ "$verb" != "${verb#*@}" ]; then
      limits+=("${verb#*@}")
    else
      case ${verb%@*} in
        hang | spin) limits+=("$HANG_SECS") ;;
        *) limits+=("$END_SECS") ;;
      esac
    fi
    names+=("$name")
  done < <(sed '/^diff --git/,$d' "$patch")
  if [ ${#names[@]} -eq 0 ]; then
    echo "  ERROR: $patch names no test (an \`expect VERB file::test\` line)"
    return 1
  fi
  local -a where
  local i
  for i in "${!names[@]}"; do
    where[i]=$(locate "${names[$i]}") || return 1
    targets+=("$(cut -d' ' -f2 <<<"${where[$i]}")")
  done
  local built began=$SECONDS
  built=$(build $(printf '%s\n' "${targets[@]}" | sort -u)) || {
    echo "  ERROR: the tree does not build with $patch applied"
    return 1
  }
  build_secs=$((SECONDS - began))
  local -a args
  for i in "${!names[@]}"; do
    local dir target mode exe fn
    read -r dir target mode <<<"${where[$i]}"
    exe=$(awk -v t="$target" '$1 == t { print $2; exit }' <<<"$built")
    fn=${names[$i]##*::}
    if [ "$mode" = exact ]; then fn="$fn --exact"; fi
    args+=("$root/$dir" "$exe" "$fn" "${limits[$i]}")
  done
  local outcomes
  mapfile -t outcomes < <(run_tests "${args[@]}")
  for i in "${!names[@]}"; do
    local got=${outcomes[$i]%% *}
    if [ "$got" = "${verbs[$i]}" ]; then
      printf '  ok    %-5s %s\n' "${verbs[$i]}" "${names[$i]}"
    else
      printf '  WRONG %-5s %s: it did %s\n' "${verbs[$i]}" "${names[$i]}" "${outcomes[$i]}"
      ok=1
    fi
  done
  return $ok
}

check_break() {
  local patch=$1 began=$SECONDS
  echo "break $(basename "$patch" .patch): $(sed -n '1s/^# *//p' "$patch")"
  apply "$patch" || return 1
  local rc=0
  build_secs=0
  check_expectations "$patch" || rc=1
  revert_all
  echo "  ($((SECONDS - began)) s, of which $build_secs s building)"
  return $rc
}

# Reverts the patch applied last.
unapply() {
  local last=$((${#applied[@]} - 1))
  git apply -R "${applied[$last]}"
  unset "applied[$last]"
}

check_extend() {
  local test=$1 id dest
  id=$(basename "$test" .rs)
  echo "extend $id: $(sed -n '1s/^\/\/! *//p' "$test")"
  dest=$(sed -n 's/^\/\/! install: *//p' "$test" | head -1)
  if [ -z "$dest" ] || [ -e "$dest" ]; then
    echo "  ERROR: $test needs an \`//! install: PATH\` line naming a file that does not exist yet"
    return 1
  fi
  local dir=${dest%/tests/*}
  [ "$dir" = "$dest" ] && dir=.
  case $dest in tests/*) dir=. ;; esac
  local target="--test:$(basename "$dest" .rs)" solution=exercises/solutions/$id.patch rc=0
  cp "$test" "$dest"
  installed+=("$dest")
  # Without a solution the tests must not pass (if they compile at all): they test something.
  local bare
  if bare=$(build "$target" 2>/dev/null | awk '{ print $2; exit }') && [ -n "$bare" ]; then
    local before
    before=$(run_tests "$root/$dir" "$bare" "" "$END_SECS")
    if [ "$before" = pass ]; then
      echo "  WRONG fail  without a solution: the tests pass on the tree as it is"
      rc=1
    else
      echo "  ok    fail  without a solution (${before})"
    fi
  else
    echo "  ok    fail  without a solution (the tests do not compile)"
  fi
  # The reference solution passes every test of the exercise.
  if [ ! -f "$solution" ]; then
    echo "  ERROR: no reference solution $solution"
    rc=1
  elif apply "$solution"; then
    local exe outcome
    exe=$(build "$target" | awk '{ print $2; exit }') || true
    if [ -n "$exe" ]; then
      outcome=$(run_tests "$root/$dir" "$exe" "" "$END_SECS")
      if [ "$outcome" = pass ]; then
        echo "  ok    pass  with the reference solution, $solution"
      else
        echo "  WRONG pass  with the reference solution, $solution: it did $outcome"
        rc=1
      fi
    else
      echo "  ERROR: the tree does not build with $solution"
      rc=1
    fi
    unapply
  else
    rc=1
  fi
  # Each naive solution is caught by the exercise's tests.
  local naive
  for naive in exercises/naive/"$id".patch exercises/naive/"$id"-*.patch; do
    [ -f "$naive" ] || continue
    echo "  naive $(basename "$naive" .patch): $(sed -n '1s/^# *//p' "$naive")"
    if apply "$naive"; then
      check_expectations "$naive" || rc=1
      unapply
    else
      rc=1
    fi
  done
  revert_all
  return $rc
}

# The break patches in the book's order (chapter 2 before chapter 10).
break_patches() { printf '%s\n' exercises/break/*.patch | sort -V; }

list() {
  local f
  for f in $(break_patches); do
    echo "break $(basename "$f" .patch): $(sed -n '1s/^# *//p' "$f")"
    sed '/^diff --git/,$d' "$f" | grep '^expect' | sed 's/^/    /'
  done
  for f in exercises/extend/*.rs; do
    echo "extend $(basename "$f" .rs): $(sed -n '1s/^\/\/! *//p' "$f")"
  done
}

if [ "${1:-}" = --list ]; then
  list
  exit 0
fi

wanted=("$@")
selected() {
  [ ${#wanted[@]} -eq 0 ] && return 0
  local w
  for w in "${wanted[@]}"; do [ "$w" = "$1" ] && return 0; done
  return 1
}

failed=()
checked=0
for patch in $(break_patches); do
  [ -f "$patch" ] || continue
  selected "$(basename "$patch" .patch)" || continue
  checked=$((checked + 1))
  check_break "$patch" || failed+=("$(basename "$patch" .patch)")
done
for test in exercises/extend/*.rs; do
  [ -f "$test" ] || continue
  selected "$(basename "$test" .rs)" || continue
  checked=$((checked + 1))
  check_extend "$test" || failed+=("$(basename "$test" .rs)")
done

if [ "$checked" -eq 0 ]; then
  echo "check-exercises: no exercise matched ${wanted[*]:-anything}" >&2
  exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "check-exercises: ${#failed[@]} of $checked exercises do not do what BOOK.md says: ${failed[*]} ($SECONDS s)"
  exit 1
fi
echo "check-exercises: all $checked exercises do what BOOK.md says ($SECONDS s)"
