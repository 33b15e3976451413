#!/bin/sh
# Runs shard_sample under GoogleTest sharding (3 shards) and checks that the
# SIMLOOP_TEST's seeds 1..10 were each explored exactly once over the shards,
# then that an unsharded run explores all of them.
set -eu
sample=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
for i in 0 1 2; do
  SHARD_SAMPLE_LOG="$work/seeds" GTEST_TOTAL_SHARDS=3 GTEST_SHARD_INDEX=$i "$sample" >"$work/shard$i.out" 2>&1 || {
    cat "$work/shard$i.out"
    echo "shard $i failed"
    exit 1
  }
done
want=$(seq 1 10 | tr '\n' ' ')
got=$(sort -n "$work/seeds" | tr '\n' ' ')
if [ "$got" != "$want" ]; then
  echo "sharded: expected seeds [$want], got [$got]"
  cat "$work"/shard*.out
  exit 1
fi
rm "$work/seeds"
SHARD_SAMPLE_LOG="$work/seeds" "$sample" >"$work/all.out" 2>&1
got=$(sort -n "$work/seeds" | tr '\n' ' ')
if [ "$got" != "$want" ]; then
  echo "unsharded: expected seeds [$want], got [$got]"
  exit 1
fi
# ctest runs one test per process: a filter naming one copy of the sharded
# SIMLOOP_TEST, or a shard left with no test, must fail loudly, never pass.
expect_refused() {
  index=$1 filter=$2 wanted=$3
  if GTEST_TOTAL_SHARDS=3 GTEST_SHARD_INDEX=$index "$sample" --gtest_filter="$filter" >"$work/refused.out" 2>&1; then
    cat "$work/refused.out"
    echo "GTEST_SHARD_INDEX=$index --gtest_filter=$filter passed; it must fail"
    exit 1
  fi
  grep -q "$wanted" "$work/refused.out" || {
    cat "$work/refused.out"
    echo "GTEST_SHARD_INDEX=$index --gtest_filter=$filter: expected '$wanted'"
    exit 1
  }
  grep -q "simloop_discover_tests" "$work/refused.out" || { echo "no remedy named"; exit 1; }
}
for i in 0 1 2; do
  expect_refused "$i" Sharding.EverySeedOnce "selects 1 of the 3 seed shards of Sharding.EverySeedOnce"
done
expect_refused 1 Sharding.PlainTest "gives this shard none of the 1 tests the filter selects"
# The shard runner CI scripts use: 3 processes, results merged, coverage checked.
rm -f "$work/seeds"
SHARD_SAMPLE_LOG="$work/seeds" bash "$(dirname "$0")/../../ci/run_shards.sh" "$sample" 3 "$work/run_shards" >"$work/run_shards.out" 2>&1 || {
  cat "$work/run_shards.out"
  echo "run_shards.sh failed"
  exit 1
}
grep -q "every seed of 1 SIMLOOP_TEST(s) ran in exactly one of 3 shards" "$work/run_shards.out" || {
  cat "$work/run_shards.out"
  exit 1
}
sh "$(dirname "$0")/seeds_once.sh" "$work/seeds" 1 10
echo "sharding: seeds 1..10 each explored once over 3 shards, and all in one unsharded run"
