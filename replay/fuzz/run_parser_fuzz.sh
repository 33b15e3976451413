#!/bin/sh
# Builds the replay parser's libFuzzer target with clang++ and runs it for a
# bounded time, starting from a corpus of valid files it generates itself.
#
#   run_parser_fuzz.sh <clang++> <work dir> [seconds]
#
# Exit status: 0 when the fuzzer found nothing in the time given.
set -eu
CXX=${1:?usage: run_parser_fuzz.sh <clang++> <work dir> [seconds]}
WORK=${2:?usage: run_parser_fuzz.sh <clang++> <work dir> [seconds]}
SECONDS_BUDGET=${3:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC="$HERE/.."
mkdir -p "$WORK/corpus" "$WORK/artifacts"

# The parser and renderers need only the standard library (no loop headers),
# so they build with clang whatever its standard library supports.
"$CXX" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$SRC/include" "$HERE/parse_fuzz.cpp" "$SRC/src/format.cpp" "$SRC/src/render.cpp" \
  -o "$WORK/replay_parse_fuzz"

# Seeds: valid files written by the real serializer.
"$CXX" -std=c++20 -O1 -I"$SRC/include" "$HERE/make_corpus.cpp" "$SRC/src/format.cpp" -o "$WORK/make_corpus"
"$WORK/make_corpus" "$WORK/corpus"
# Inputs that once broke the parser stay in the corpus: each run checks them first.
cp "$HERE"/regressions/* "$WORK/corpus/"

# A pinned seed and a run count make the search the same on every run
# (SIMLOOP_FUZZ_SEED / SIMLOOP_FUZZ_RUNS vary it); the time budget only caps it.
"$WORK/replay_parse_fuzz" -seed="${SIMLOOP_FUZZ_SEED:-1}" -runs="${SIMLOOP_FUZZ_RUNS:-200000}" \
  -max_total_time="$SECONDS_BUDGET" -max_len=4096 -timeout=10 \
  -artifact_prefix="$WORK/artifacts/" "$WORK/corpus"
