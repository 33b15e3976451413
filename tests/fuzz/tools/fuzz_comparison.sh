#!/bin/sh
# The comparison table of docs/fuzzing.md: for each workload of
# tests/fuzz/workloads.hpp, the executions libFuzzer needs to find its
# failure (fuzz target injection_suite_fuzz, empty starting corpus,
# -seed=1..5) against the runs random and pct need (first seeds 1,
# 1000001, ..., 4000001), median of the five, same options and fidelity.
#
#   fuzz_comparison.sh <injection_suite_fuzz> <fuzz_runs_to_failure> <work dir> [most runs]
#
# "none" means no failure within the most runs (default 100000); a median
# is "none" when three of the five found nothing. libFuzzer runs with
# address randomization off (setarch -R) and -reload=0: its search follows
# coverage, and a few of the program's branches depend on addresses (hash
# tables of pointers), so that alone makes its numbers repeat.
set -u
fuzzer=$1
seeded=$2
work=$3
most=${4:-100000}
rm -rf "$work" && mkdir -p "$work"
export SIMLOOP_REPLAY_DIR="$work/replays"
export SIMLOOP_MINIMIZE_RUNS=0

norandom=""
if setarch -R true 2>/dev/null; then norandom="setarch -R"; fi

# The median of five values, "none" counting as above every number.
median() {
  printf '%s\n' "$@" | sed 's/^none$/999999999999/' | sort -n | sed -n 3p | sed 's/^999999999999$/none/'
}

libfuzzer_executions() {  # <workload> <seed> [libFuzzer flags...]
  w=$1 s=$2
  shift 2
  dir="$work/$w-$s$(echo "$*" | tr -c 'a-z0-9' '_')"
  mkdir -p "$dir/corpus"
  FUZZ_WORKLOAD=$w $norandom "$fuzzer" -seed="$s" -runs="$most" -reload=0 -print_final_stats=1 "$@" \
    -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log" 2>&1
  if ls "$dir"/crash-* >/dev/null 2>&1; then
    sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log"
  else
    echo none
  fi
}

echo "| workload | libFuzzer executions | libFuzzer, -len_control=0 -max_len=256 | random runs | pct runs |"
echo "|---|---|---|---|---|"
for w in $("$seeded" --list); do
  lf="" lf_long="" rnd="" pct=""
  for s in 1 2 3 4 5; do
    lf="$lf $(libfuzzer_executions "$w" "$s")"
    lf_long="$lf_long $(libfuzzer_executions "$w" "$s" -len_control=0 -max_len=256)"
    first=$(( (s - 1) * 1000000 + 1 ))
    rnd="$rnd $("$seeded" "$w" random "$first" "$most")"
    pct="$pct $("$seeded" "$w" pct "$first" "$most")"
  done
  # shellcheck disable=SC2086
  echo "| $w | $(median $lf) ($(echo $lf | tr ' ' ',')) | $(median $lf_long) ($(echo $lf_long | tr ' ' ',')) | $(median $rnd) ($(echo $rnd | tr ' ' ',')) | $(median $pct) ($(echo $pct | tr ' ' ',')) |"
done
