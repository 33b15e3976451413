#!/bin/sh
# SIMLOOP_STRATEGY=bounded from the environment, on shard_sample's
# SIMLOOP_TEST, whatever the test's own seed count. Its run: the main task's
# first step makes a choose(3) and sleeps that many ms, and every callback
# then costs a CallbackCost(7) choice (bucketed to 3 values). The natural run
# (sleep(0): two steps) makes 3 choices: test, cost, cost. K = 1: 2 test
# values + 3 + 3 costs = 8 runs. K = 2: children deviate after their
# parent's last deviation: each of the 2 runs with a non-zero test value has
# 3 callbacks after it (step, the sleep's timer, step) and so 3 x 3 children;
# each of the 3 runs deviating at the first cost has the last cost left, 3
# children; those deviating at the last cost have none: 18 + 9 = 27. So
# 1 + 8 + 27 = 36 runs, #1..#36. As two SIMLOOP shards, run i (0-based)
# goes to shard i % 2: the odd run numbers to shard 0, the even to shard 1,
# each run exactly once. Usage: bounded_env_test.sh <shard_sample> <work dir>
set -eu
sample=$1
work=$2
here=$(dirname "$0")
rm -rf "$work"
mkdir -p "$work"
SHARD_SAMPLE_LOG="$work/all" SIMLOOP_STRATEGY=bounded "$sample" --gtest_filter=Sharding.EverySeedOnce >"$work/all.out" 2>&1 || {
  cat "$work/all.out"
  echo "unsharded bounded run failed"
  exit 1
}
sh "$here/seeds_once.sh" "$work/all" 1 36
want="exhausted: no failure within 2 deviations from asyncio's order (36 runs; K = 0, 1, 2: 1 + 8 + 27)"
grep -qF "$want" "$work/all.out" || {
  cat "$work/all.out"
  echo "expected: $want"
  exit 1
}
for i in 0 1; do
  SHARD_SAMPLE_LOG="$work/shard$i" SIMLOOP_STRATEGY=bounded SIMLOOP_TOTAL_SHARDS=2 SIMLOOP_SHARD_INDEX=$i "$sample" \
    --gtest_filter=Sharding.EverySeedOnce >"$work/shard$i.out" 2>&1 || {
    cat "$work/shard$i.out"
    echo "bounded shard $i failed"
    exit 1
  }
done
[ "$(tr '\n' ' ' <"$work/shard0")" = "$(seq 1 2 35 | tr '\n' ' ')" ] || { echo "shard 0 ran: $(cat "$work/shard0")"; exit 1; }
[ "$(tr '\n' ' ' <"$work/shard1")" = "$(seq 2 2 36 | tr '\n' ' ')" ] || { echo "shard 1 ran: $(cat "$work/shard1")"; exit 1; }
cat "$work/shard0" "$work/shard1" >"$work/both"
sh "$here/seeds_once.sh" "$work/both" 1 36
