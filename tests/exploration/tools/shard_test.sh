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
echo "sharding: seeds 1..10 each explored once over 3 shards, and all in one unsharded run"
