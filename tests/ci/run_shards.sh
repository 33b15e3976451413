#!/usr/bin/env bash
# Runs a test binary as N shard processes side by side (SIMLOOP_TOTAL_SHARDS=N,
# SIMLOOP_SHARD_INDEX=0..N-1: each SIMLOOP_TEST explores every N-th seed),
# merges their results, and checks that every seed of every SIMLOOP_TEST ran
# in exactly one shard. What a CI matrix does across machines, on one.
#
#   run_shards.sh <test binary> <N> <work dir> [args for the binary...]
#
# Exit status: 0 when every shard passed and the seeds were covered exactly
# once; 1 when a shard failed (its report, with the seed and the reproduce
# command, is printed) or the coverage is wrong; 2 for bad usage.
set -uo pipefail
if [ $# -lt 3 ]; then
  echo "usage: run_shards.sh <test binary> <N> <work dir> [args...]" >&2
  exit 2
fi
binary=$1 shards=$2 work=$3
shift 3
case "$shards" in '' | *[!0-9]* | 0) echo "run_shards.sh: N must be a whole number, 1 or more (got '$shards')" >&2; exit 2 ;; esac
[ -x "$binary" ] || { echo "run_shards.sh: $binary is not an executable" >&2; exit 2; }
mkdir -p "$work" || exit 2

pids=()
for ((i = 0; i < shards; i++)); do
  SIMLOOP_TOTAL_SHARDS=$shards SIMLOOP_SHARD_INDEX=$i "$binary" "$@" >"$work/shard-$i.log" 2>&1 &
  pids+=($!)
done
status=0
for ((i = 0; i < shards; i++)); do
  if ! wait "${pids[$i]}"; then
    echo "=== shard $i/$shards FAILED ($work/shard-$i.log):"
    cat "$work/shard-$i.log"
    status=1
  fi
done

# Each shard prints, per SIMLOOP_TEST, its configuration ("simloop: <test>
# ... seeds=A..B runs=R shard=i/N ...") and, when it passed, what it covered
# ("simloop: <test> passed K runs: seeds F..L, one in N (shard i/N)"). The
# shards of a test must be 0..N-1, once each, and their runs must add up to
# R with shard i running the runs i, i+N, ... below R.
cat "$work"/shard-*.log | awk -v shards="$shards" '
  /^simloop: .* strategy=.* seeds=[0-9]+\.\.[0-9]+ runs=[0-9]+/ {
    test = $2
    for (f = 3; f <= NF; f++) if ($f ~ /^runs=/) { split($f, kv, "="); runs[test] = kv[2] }
  }
  /^simloop: .* passed [0-9]+ runs: seeds [0-9]+\.\.[0-9]+/ {
    test = $2; count = $4; shard = 0
    if (match($0, /\(shard [0-9]+\//)) shard = substr($0, RSTART + 7, RLENGTH - 8) + 0
    seen[test, shard]++
    covered[test] += count
    expected = int((runs[test] - shard + shards - 1) / shards)
    if (count != expected) { printf "%s: shard %d ran %d runs, expected %d\n", test, shard, count, expected; bad = 1 }
    tests[test] = 1
  }
  END {
    n = 0
    for (t in tests) {
      n++
      for (s = 0; s < shards; s++) if (seen[t, s] != 1 && int((runs[t] - s + shards - 1) / shards) > 0) { printf "%s: shard %d reported %d times\n", t, s, seen[t, s] + 0; bad = 1 }
      if (covered[t] != runs[t]) { printf "%s: the shards ran %d runs of %d\n", t, covered[t], runs[t]; bad = 1 }
    }
    if (n == 0) { print "no SIMLOOP_TEST reported what it covered"; bad = 1 }
    else if (!bad) printf "every seed of %d SIMLOOP_TEST(s) ran in exactly one of %d shards\n", n, shards
    exit bad
  }' || status=1
[ $status -eq 0 ] && echo "run_shards.sh: $shards shards passed"
exit $status
