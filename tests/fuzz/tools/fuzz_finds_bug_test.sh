#!/bin/sh
# The fuzz target finds a bug of the injection suite within a bounded run,
# and its crash file is a simloop replay:
#  - libFuzzer (pinned seed, bounded -runs, empty corpus) stops on a failing
#    input and writes it as a crash file; simloop's report names the replay
#    file, the minimized file and the minimized input;
#  - SIMLOOP_REPLAY_INPUT=<crash file> on the same binary fails again (exit
#    1), writes the replay file, shows the timeline;
#  - SIMLOOP_REPLAY=<replay file> reproduces it exactly (exit 1), and so does
#    the minimized file; simloop-trace shows its timeline with the injected
#    cancel; the minimized input fails too;
#  - the empty input (asyncio's order) passes (exit 0), simloop's own Lock
#    survives the same bounded fuzzing, and bad input is status 2.
#
#   fuzz_finds_bug_test.sh <fuzz binary> <simloop-trace> <work dir>
set -u
fuzzer=$1
trace=$2
work=$3
rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts" "$work/replays"
failures=0
fail() {
  echo "fuzz_finds_bug_test: $*" >&2
  failures=$((failures + 1))
}
export SIMLOOP_REPLAY_DIR="$work/replays"
export FUZZ_WORKLOAD=lock_drops_grant

# 1. Fuzzing finds the bug within the bounded run.
"$fuzzer" -seed=1 -runs=200000 -reload=0 -len_control=0 -max_len=256 -max_total_time=300 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/fuzz.out" 2>&1
status=$?
crash=$(ls "$work"/artifacts/crash-* 2>/dev/null | head -n 1)
if [ "$status" -eq 0 ] || [ -z "$crash" ]; then
  fail "libFuzzer found nothing in 200000 runs (status $status); tail of its log:"
  tail -n 30 "$work/fuzz.out" >&2
  exit 1
fi
grep -q "simloop: FAILED injection_suite" "$work/fuzz.out" || fail "no simloop report in the fuzzer's log"
# The dropped grant shows as a deadlock (a waiter never woken) or, when every
# worker ended anyway, as the lock still held: which one depends on the
# input the search reaches first (libFuzzer's search follows coverage,
# which varies with address randomization).
symptom='failure:  (deadlock|assertion failed: the lock is still held after every worker ended)'
grep -Eq "$symptom" "$work/fuzz.out" || fail "the report names neither symptom of the dropped grant"
grep -q "  minimized file: " "$work/fuzz.out" || fail "the report names no minimized file"
grep -q "  minimized input: " "$work/fuzz.out" || fail "the report names no minimized input"
executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.out")
echo "libFuzzer: the lock bug after ${executions:-?} executions; crash file $crash"

# 2. The crash file, run alone on the same binary.
SIMLOOP_REPLAY_INPUT="$crash" "$fuzzer" >"$work/input.out" 2>&1
status=$?
[ "$status" -eq 1 ] || fail "SIMLOOP_REPLAY_INPUT=<crash file>: exit status $status, expected 1"
found=$(grep -Eo "$symptom" "$work/fuzz.out" | head -n 1)
grep -qF "$found" "$work/input.out" || fail "SIMLOOP_REPLAY_INPUT: not the failure the fuzzer found ($found)"
grep -q "input:    $crash" "$work/input.out" || fail "SIMLOOP_REPLAY_INPUT: the report does not name the input"
grep -q "reproduce: SIMLOOP_REPLAY_INPUT=$crash" "$work/input.out" || fail "SIMLOOP_REPLAY_INPUT: no reproduce line"
grep -q "^simloop: timeline of " "$work/input.out" || fail "SIMLOOP_REPLAY_INPUT: no timeline"
replay_file=$(sed -n 's/^  replay file: \([^ ]*\) .*/\1/p' "$work/input.out" | head -n 1)
minimized=$(sed -n 's/^  minimized file: //p' "$work/input.out" | head -n 1)
min_input=$(sed -n 's/^  minimized input: \([^ ]*\) .*/\1/p' "$work/input.out" | head -n 1)
[ -f "$replay_file" ] || fail "no replay file ('$replay_file'); output: $(cat "$work/input.out")"
[ -f "$minimized" ] || fail "no minimized file ('$minimized')"
[ -f "$min_input" ] || fail "no minimized input ('$min_input')"

# 3. Replay files of the finding replay exactly, on the same binary.
for file in "$replay_file" "$minimized"; do
  [ -f "$file" ] || continue
  SIMLOOP_REPLAY="$file" "$fuzzer" >"$work/replay.out" 2>&1
  status=$?
  [ "$status" -eq 1 ] || fail "SIMLOOP_REPLAY=$file: exit status $status, expected 1: $(tail -n 5 "$work/replay.out")"
  grep -q "replay: reproduced exactly" "$work/replay.out" || fail "SIMLOOP_REPLAY=$file: not reproduced exactly"
done
if [ -f "$minimized" ]; then
  "$trace" show "$minimized" >"$work/timeline.out" 2>&1 || fail "simloop-trace show failed: $(cat "$work/timeline.out")"
  grep -q "injected cancel" "$work/timeline.out" || fail "the timeline shows no injected cancel"
fi
if [ -f "$min_input" ]; then
  SIMLOOP_REPLAY_INPUT="$min_input" "$fuzzer" >"$work/min_input.out" 2>&1
  status=$?
  [ "$status" -eq 1 ] || fail "SIMLOOP_REPLAY_INPUT=<minimized input>: exit status $status, expected 1"
fi

# 4. asyncio's order passes; simloop's own Lock survives the same fuzzing.
: >"$work/empty"
SIMLOOP_REPLAY_INPUT="$work/empty" "$fuzzer" >"$work/empty.out" 2>&1
status=$?
[ "$status" -eq 0 ] || fail "the empty input: exit status $status, expected 0: $(tail -n 5 "$work/empty.out")"
mkdir -p "$work/clean_corpus"
FUZZ_VARIANT=simloop "$fuzzer" -seed=1 -runs=20000 -reload=0 -artifact_prefix="$work/artifacts/clean-" "$work/clean_corpus" \
  >"$work/clean.out" 2>&1
status=$?
[ "$status" -eq 0 ] || fail "simloop's own Lock failed under fuzzing (status $status): $(grep -A3 FAILED "$work/clean.out")"

# 5. Bad input: a message and status 2, nothing run.
SIMLOOP_REPLAY_INPUT="$work/no-such-file" "$fuzzer" >"$work/bad.out" 2>&1
status=$?
[ "$status" -eq 2 ] || fail "a missing input file: exit status $status, expected 2"
grep -q "no-such-file" "$work/bad.out" || fail "a missing input file: the message does not name it"
SIMLOOP_CANCEL=2 "$fuzzer" -runs=1 >"$work/bad_var.out" 2>&1
status=$?
[ "$status" -eq 2 ] || fail "SIMLOOP_CANCEL=2: exit status $status, expected 2"
grep -q "SIMLOOP_CANCEL='2'" "$work/bad_var.out" || fail "SIMLOOP_CANCEL=2: the message does not name it"

[ "$failures" -eq 0 ] || exit 1
echo "fuzz_finds_bug_test: ok"
