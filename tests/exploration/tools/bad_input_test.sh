#!/bin/sh
# Bad input to a program of ours is a message and exit status 2, never an
# abort and never 0: a damaged, missing or directory replay file, bad
# SIMLOOP_* values, an unwritable replay directory.
#   bad_input_test.sh <program> <work dir>
set -u
program=$1
work=$2
rm -rf "$work" && mkdir -p "$work"
fail() { echo "bad_input_test: $*" >&2; exit 1; }

expect_2() {  # <what> <expected text in stderr> env...
  what=$1 text=$2
  shift 2
  env "$@" SIMLOOP_REPLAY_DIR="${DIR:-$work/replays}" "$program" >"$work/out" 2>"$work/err"
  status=$?
  [ "$status" -eq 2 ] || fail "$what: exit status $status, expected 2; stderr: $(cat "$work/err")"
  grep -qi -- "$text" "$work/err" || fail "$what: stderr does not say '$text': $(cat "$work/err")"
  if grep -q "terminate called" "$work/err"; then fail "$what: aborted"; fi
  echo "bad_input_test: $what: exit 2, '$text'"
}

# A real replay file to damage: the program's own failure.
SIMLOOP_REPLAY_DIR="$work/replays" SIMLOOP_MINIMIZE_RUNS=0 "$program" >"$work/found" 2>&1
file=$(sed -n 's/^  replay file: \([^ ]*\) .*/\1/p' "$work/found" | head -n 1)
[ -f "$file" ] || fail "the program wrote no replay file: $(cat "$work/found")"
head -c 200 "$file" >"$work/truncated.simloop-replay"
sed 's/^seed \([0-9]*\)$/seed 1\1/' "$file" >"$work/corrupted.simloop-replay"
mkdir -p "$work/a-directory"

expect_2 "truncated replay file" "truncated" SIMLOOP_REPLAY="$work/truncated.simloop-replay"
expect_2 "corrupted replay file" "corrupted" SIMLOOP_REPLAY="$work/corrupted.simloop-replay"
expect_2 "missing replay file" "no such file" SIMLOOP_REPLAY="$work/none.simloop-replay"
expect_2 "a directory as replay file" "not a regular file" SIMLOOP_REPLAY="$work/a-directory"
expect_2 "bad SIMLOOP_REPLAY_CONTINUE" "SIMLOOP_REPLAY_CONTINUE" SIMLOOP_REPLAY_CONTINUE=maybe
expect_2 "bad SIMLOOP_MINIMIZE_RUNS" "SIMLOOP_MINIMIZE_RUNS" SIMLOOP_MINIMIZE_RUNS=-3
expect_2 "bad SIMLOOP_RUNS" "SIMLOOP_RUNS" SIMLOOP_RUNS=lots
expect_2 "bad SIMLOOP_CANCEL" "SIMLOOP_CANCEL" SIMLOOP_CANCEL=2
touch "$work/a-file"
DIR="$work/a-file/replays" expect_2 "unwritable SIMLOOP_REPLAY_DIR" "SIMLOOP_REPLAY_DIR="
