#!/usr/bin/env bash
# The demo under cancellation injection, every seed of a range, in the
# sanitizer build: zero sanitizer reports, zero crashes. bug_hunt stops at
# the first failure it finds (the oversell, or a cancelled customer), so
# the sweep restarts it at the next seed until the range is covered.
#   bug_hunt_cancel_sweep.sh <bug_hunt> <work dir> [first seed] [last seed]
set -uo pipefail
hunt=$1
work=$2
first=${3:-1}
last=${4:-2000}
rm -rf "$work" && mkdir -p "$work"
export SIMLOOP_REPLAY_DIR="$work/replays" SIMLOOP_CANCEL=0.05 SIMLOOP_STRATEGY=random SIMLOOP_MINIMIZE_RUNS=0
# A sanitizer report must not look like "a failure was found" (exit 1).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86" UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=86"

seed=$first processes=0 failures=0
while [ "$seed" -le "$last" ]; do
  runs=$((last - seed + 1))
  SIMLOOP_SEED=$seed SIMLOOP_RUNS=$runs "$hunt" >"$work/out" 2>"$work/err"
  status=$?
  processes=$((processes + 1))
  if grep -qE "Sanitizer|runtime error|CRASHED" "$work/err" "$work/out"; then
    cat "$work/out" "$work/err"
    echo "bug_hunt_cancel_sweep: a sanitizer report or a crash at seeds $seed..$last (exit $status)" >&2
    exit 1
  fi
  case $status in
    0) break ;;
    1)
      found=$(sed -n 's/^  seed: *\([0-9][0-9]*\) .*/\1/p' "$work/out" | head -n 1)
      if [ -z "$found" ] || [ "$found" -lt "$seed" ]; then
        cat "$work/out" "$work/err"
        echo "bug_hunt_cancel_sweep: exit 1 but no failing seed in the report" >&2
        exit 1
      fi
      failures=$((failures + 1))
      seed=$((found + 1))
      ;;
    *)
      cat "$work/out" "$work/err"
      echo "bug_hunt_cancel_sweep: bug_hunt exited $status at seeds $seed..$last" >&2
      exit 1
      ;;
  esac
done
echo "bug_hunt_cancel_sweep: seeds $first..$last under SIMLOOP_CANCEL=0.05: $failures failing seed(s) found, no sanitizer report ($processes processes)"
