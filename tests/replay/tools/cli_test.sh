#!/bin/sh
# End to end: a racy program fails under exploration and writes its replay
# files; the printed one-line command replays it exactly; simloop-trace
# reads the files; damaged files give clear errors and exit status 2.
#
#   cli_test.sh <simloop-trace> <replay_sample_program> <work dir> <replay_gtest_sample>
set -eu
TRACE=$1
PROG=$2
WORK=$3
GTEST_PROG=$4
rm -rf "$WORK"
mkdir -p "$WORK"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# expect <status> <log> <command...>: runs the command, output to <log>.
expect() {
  want=$1
  log=$2
  shift 2
  set +e
  "$@" >"$log" 2>&1
  got=$?
  set -e
  [ "$got" -eq "$want" ] || { cat "$log" >&2; fail "'$*' exited $got, expected $want"; }
}

# 1. Exploration finds the race and writes the original and minimized files.
expect 1 "$WORK/explore.log" env SIMLOOP_REPLAY_DIR="$WORK/replays" "$PROG"
ORIG=$(ls "$WORK"/replays/*.simloop-replay | grep -v '\.min\.simloop-replay$' | head -n 1)
MIN=$(ls "$WORK"/replays/*.min.simloop-replay | head -n 1)
[ -f "$ORIG" ] && [ -f "$MIN" ] || fail "replay files missing"
grep -q "minimized: 1 non-zero choices" "$WORK/explore.log" || { cat "$WORK/explore.log"; fail "minimized size not 1"; }

# 2. Each printed one-line command replays its file exactly.
grep 'replay it:' "$WORK/explore.log" | sed 's/^ *replay it: //' >"$WORK/commands"
[ "$(wc -l <"$WORK/commands")" -eq 2 ] || fail "expected two replay commands"
n=0
while IFS= read -r cmd; do
  n=$((n + 1))
  expect 1 "$WORK/replay$n.log" sh -c "$cmd"
  grep -q 'replay: reproduced exactly' "$WORK/replay$n.log" || { cat "$WORK/replay$n.log"; fail "not reproduced: $cmd"; }
done <"$WORK/commands"

# 3. simloop-trace on good files.
expect 0 "$WORK/validate.log" "$TRACE" validate "$ORIG" "$MIN"
grep -q "^ok: $MIN" "$WORK/validate.log" || fail "validate did not report ok"
expect 0 "$WORK/show.log" "$TRACE" show "$MIN"
grep -q 'loop chose #[0-9]* ready_order 1/2' "$WORK/show.log" || { cat "$WORK/show.log"; fail "timeline lacks the pick"; }
grep -q 'step of main' "$WORK/show.log" || fail "timeline lacks the main task"
expect 0 "$WORK/show_all.log" "$TRACE" show --all "$MIN"
grep -q 'callback_cost 0/' "$WORK/show_all.log" || fail "show --all lacks natural choices"
expect 0 "$WORK/stats.log" "$TRACE" stats "$MIN"
grep -q '(1 non-zero: the schedule' "$WORK/stats.log" || { cat "$WORK/stats.log"; fail "stats"; }
expect 0 "$WORK/convert.log" "$TRACE" convert "$MIN" -o "$WORK/min.json"
if command -v python3 >/dev/null 2>&1; then
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert any(e.get('ph')=='X' for e in d['traceEvents'])" \
    "$WORK/min.json" || fail "Chrome JSON does not load"
fi
expect 0 "$WORK/diff_same.log" "$TRACE" diff "$ORIG" "$ORIG"
expect 1 "$WORK/diff.log" "$TRACE" diff "$ORIG" "$MIN"
grep -q 'first divergent choice: #' "$WORK/diff.log" || fail "diff did not name the first divergent choice"

# 4. Damaged files: exit 2, the message names the file, the line and the problem.
head -c 100 "$ORIG" >"$WORK/truncated.simloop-replay"
sed 's/^simloop-replay [0-9]*$/simloop-replay 9/' "$ORIG" >"$WORK/version.simloop-replay"
printf 'hello, world\n' >"$WORK/foreign.simloop-replay"
sed 's/^c \([0-9]*\) ready_order 2 1$/c \1 ready_order 2 0/' "$ORIG" >"$WORK/corrupt.simloop-replay"
cmp -s "$ORIG" "$WORK/corrupt.simloop-replay" && fail "the corruption edit changed nothing"
for bad in truncated:truncated version:"format version 9" foreign:"not a simloop replay file" corrupt:checksum; do
  name=${bad%%:*}
  problem=${bad#*:}
  file="$WORK/$name.simloop-replay"
  expect 2 "$WORK/$name.log" "$TRACE" show "$file"
  grep -q "$file:[0-9]*: (byte offset [0-9]*) .*$problem" "$WORK/$name.log" || { cat "$WORK/$name.log"; fail "$name: unclear error"; }
  # The test program refuses it too, before running anything.
  expect 2 "$WORK/$name.prog.log" env SIMLOOP_REPLAY="$file" "$PROG"
  grep -q "$file" "$WORK/$name.prog.log" || { cat "$WORK/$name.prog.log"; fail "$name: program error lacks the file"; }
done

# 5. Usage errors.
expect 2 "$WORK/usage.log" "$TRACE"
expect 2 "$WORK/unknown.log" "$TRACE" frobnicate "$ORIG"
expect 2 "$WORK/missing.log" "$TRACE" show "$WORK/no-such-file"
grep -q "no-such-file" "$WORK/missing.log" || fail "missing file not named"
expect 2 "$WORK/continue.log" env SIMLOOP_REPLAY_CONTINUE=maybe "$PROG"
grep -q SIMLOOP_REPLAY_CONTINUE "$WORK/continue.log" || fail "bad variable not named"
# 6. The same through SIMLOOP_TEST (an EXPECT_* check): the test fails, its
#    minimized file still fails (each re-run judged on its own failures), and
#    the printed commands replay both exactly.
expect 1 "$WORK/gtest.log" env SIMLOOP_REPLAY_DIR="$WORK/gtest-replays" "$GTEST_PROG"
grep -q "minimized: 1 non-zero choices" "$WORK/gtest.log" || { cat "$WORK/gtest.log"; fail "gtest: minimized size not 1"; }
# The failing run's EXPECT_* is printed once, not again by each minimizer re-run.
[ "$(grep -c 'gtest_sample.cpp:25: Failure' "$WORK/gtest.log")" -eq 1 ] || { cat "$WORK/gtest.log"; fail "gtest: the EXPECT failure is not printed exactly once"; }
grep 'replay it:' "$WORK/gtest.log" | sed 's/^ *replay it: //' >"$WORK/gtest-commands"
[ "$(wc -l <"$WORK/gtest-commands")" -eq 2 ] || fail "gtest: expected two replay commands"
n=0
while IFS= read -r cmd; do
  n=$((n + 1))
  expect 1 "$WORK/gtest-replay$n.log" sh -c "$cmd"
  grep -q 'replay: reproduced exactly' "$WORK/gtest-replay$n.log" || { cat "$WORK/gtest-replay$n.log"; fail "gtest: not reproduced: $cmd"; }
done <"$WORK/gtest-commands"
# 7. SIMLOOP_REPLAY on the whole binary (no filter): the recorded test is
#    replayed, the other one is skipped, saying why.
file=$(sed -n 's/^ *replay it: SIMLOOP_REPLAY=\([^ ]*\) .*/\1/p' "$WORK/gtest.log" | head -n 1 | tr -d "'")
expect 1 "$WORK/gtest-whole.log" env SIMLOOP_REPLAY="$file" "$GTEST_PROG"
grep -q 'replay: reproduced exactly' "$WORK/gtest-whole.log" || { cat "$WORK/gtest-whole.log"; fail "gtest: whole-binary replay did not reproduce"; }
grep -q '\[  SKIPPED \] Sample.AlwaysPasses' "$WORK/gtest-whole.log" || { cat "$WORK/gtest-whole.log"; fail "gtest: the other test was not skipped"; }
grep -q 'SIMLOOP_REPLAY names a run of Sample.ExpectOverdraft' "$WORK/gtest-whole.log" || fail "gtest: the skip does not say why"
echo "simloop-trace and SIMLOOP_REPLAY end to end: ok"
