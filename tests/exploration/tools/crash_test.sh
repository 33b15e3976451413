#!/bin/sh
# A run that crashes the process never loses its seed: for each way of
# crashing, the exploration's stderr names the seed and the reproduce line,
# the replay file it wrote is valid, and both the reproduce line's seed and
# the replay file crash again at the same seed.
#   crash_test.sh <crash_sample> <simloop-trace> <work dir>
set -u
sample=$1
trace=$2
work=$3
rm -rf "$work" && mkdir -p "$work"
export SIMLOOP_REPLAY_DIR="$work/replays"
# Under a sanitizer build, its reports end in abort(), as real crashes do.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1" UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}abort_on_error=1"
fail() { echo "crash_test: $*" >&2; exit 1; }

for mode in abort null terminate; do
  out="$work/$mode.err"
  SIMLOOP_RUNS=1000 "$sample" "$mode" >"$work/$mode.out" 2>"$out"
  status=$?
  [ "$status" -ne 0 ] && [ "$status" -ne 1 ] && [ "$status" -ne 2 ] || fail "$mode: exit status $status, expected death by a signal"
  grep -q "simloop: CRASHED crash_sample in run " "$out" || fail "$mode: no crash report:$(cat "$out")"
  seed=$(sed -n 's/^  seed: *\([0-9][0-9]*\) .*/\1/p' "$out" | head -n 1)
  [ -n "$seed" ] || fail "$mode: the report names no seed: $(cat "$out")"
  grep -q "  reproduce: SIMLOOP_SEED=$seed SIMLOOP_RUNS=1 " "$out" || fail "$mode: no reproduce line for seed $seed"
  file="$SIMLOOP_REPLAY_DIR/crash_sample-random-asyncio-seed$seed.simloop-replay"
  grep -q "  replay file: $file " "$out" || fail "$mode: the report names no replay file: $(cat "$out")"
  "$trace" validate "$file" >/dev/null 2>&1 || fail "$mode: the replay file is not valid: $("$trace" validate "$file" 2>&1)"
  # The seed alone crashes again, at the same seed.
  SIMLOOP_SEED=$seed SIMLOOP_RUNS=1 "$sample" "$mode" >/dev/null 2>"$work/$mode.seed.err"
  status=$?
  [ "$status" -gt 128 ] || [ "$status" -eq 1 -a "$mode" = null ] || fail "$mode: rerunning seed $seed exited $status"
  grep -q "seed:     $seed " "$work/$mode.seed.err" || fail "$mode: rerunning seed $seed did not crash there"
  # The replay file crashes again, in replay mode.
  SIMLOOP_REPLAY="$file" "$sample" "$mode" >/dev/null 2>"$work/$mode.replay.err"
  grep -q "simloop: CRASHED crash_sample" "$work/$mode.replay.err" || fail "$mode: replaying $file did not crash"
  grep -q "replaying $file" "$work/$mode.replay.err" || fail "$mode: the replay's crash report does not name the file"
  echo "crash_test: $mode: crashed at seed $seed; report, seed rerun and replay file all reproduce it"
done

# Isolation: each run in a forked child. A child killed by a signal is a
# failure like any other: reported with its seed (exit status 1, not a
# death), its replay file written by the child, minimized by re-running
# children, and its replay crashes again.
for mode in abort null; do
  out="$work/$mode.fork.out"
  SIMLOOP_ISOLATE=fork SIMLOOP_RUNS=1000 "$sample" "$mode" >"$out" 2>"$work/$mode.fork.err"
  status=$?
  [ "$status" -eq 1 ] || fail "$mode under fork: exit status $status, expected 1 (a failure found): $(cat "$out" "$work/$mode.fork.err")"
  grep -q "failure:  crash: the run's process (a forked child, SIMLOOP_ISOLATE=fork) was killed by SIG" "$out" ||
    fail "$mode under fork: the report does not name the signal: $(cat "$out")"
  seed=$(sed -n 's/^  seed: *\([0-9][0-9]*\) .*/\1/p' "$out" | head -n 1)
  [ -n "$seed" ] || fail "$mode under fork: no seed in the report"
  grep -q "simloop: CRASHED crash_sample in run .*" "$work/$mode.fork.err" || fail "$mode under fork: the child printed no crash report"
  file="$SIMLOOP_REPLAY_DIR/crash_sample-random-asyncio-seed$seed.simloop-replay"
  min="$SIMLOOP_REPLAY_DIR/crash_sample-random-asyncio-seed$seed.min.simloop-replay"
  "$trace" validate "$file" "$min" >/dev/null 2>&1 || fail "$mode under fork: invalid files: $("$trace" validate "$file" "$min" 2>&1)"
  grep -q "minimized file: $min" "$out" || fail "$mode under fork: no minimized file in the report"
  SIMLOOP_REPLAY="$min" "$sample" "$mode" >/dev/null 2>"$work/$mode.min.err"
  grep -q "simloop: CRASHED crash_sample" "$work/$mode.min.err" || fail "$mode under fork: the minimized file did not crash again"
  SIMLOOP_ISOLATE=fork SIMLOOP_REPLAY="$min" "$sample" "$mode" >"$work/$mode.min.fork.out" 2>/dev/null
  status=$?
  [ "$status" -eq 1 ] || fail "$mode under fork: replaying the minimized file exited $status"
  grep -q "replay: reproduced: the run crashed again with SIG" "$work/$mode.min.fork.out" ||
    fail "$mode under fork: replay verdict missing: $(cat "$work/$mode.min.fork.out")"
  echo "crash_test: $mode under SIMLOOP_ISOLATE=fork: seed $seed reported, minimized, replayed"
done
