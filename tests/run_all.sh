#!/usr/bin/env bash
# Builds simloop in four configurations and runs the whole test suite in
# each: Release, Debug at -O0 and AddressSanitizer + UndefinedBehaviorSanitizer
# with g++, and Release with clang 16 (the two supported compilers).
# The sanitizer build also sweeps the demo bug hunt over 2,000 seeds under
# cancellation injection (ctest label sweep: tests/sweep/).
#
#   bash tests/run_all.sh            # all four
#   SIMLOOP_BUILDS="debug" bash tests/run_all.sh
#
# Build trees go to build/<config>. Exits non-zero if any build or test fails.
set -uo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps || exit 1

mkdir -p build
jobs=${SIMLOOP_BUILD_JOBS:-$(nproc)}
builds=${SIMLOOP_BUILDS:-"release debug asan clang"}
total_passed=0
total_failed=0
total_skipped=0
status=0

for config in $builds; do
  case "$config" in
    release) flags=(-DCMAKE_BUILD_TYPE=Release) ;;
    debug) flags=(-DCMAKE_BUILD_TYPE=Debug) ;;
    asan) flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMLOOP_SANITIZE=ON) ;;
    clang) flags=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++-16) ;;
    *) echo "unknown build '$config' (expected release, debug, asan or clang)" >&2; exit 2 ;;
  esac
  dir="build/$config"
  echo "=== $config: configure and build ($dir)"
  if ! cmake -S . -B "$dir" -G Ninja "${flags[@]}" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log"; echo "=== $config: configure FAILED"; status=1; continue
  fi
  if ! cmake --build "$dir" -j "$jobs"; then
    echo "=== $config: build FAILED"; status=1; continue
  fi
  echo "=== $config: test"
  log="$dir/ctest.log"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$dir" -j "$jobs" --output-on-failure 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -n 1)
  if [ -n "$line" ]; then
    failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    all=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
    # ctest counts a skipped test as passed; report it apart.
    skipped=$(grep -cE "^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\(Skipped\)|\*\*\*Skipped" "$log" || true)
    total_passed=$((total_passed + all - failed - skipped))
    total_failed=$((total_failed + failed))
    total_skipped=$((total_skipped + skipped))
  else
    echo "=== $config: ctest printed no summary"; status=1
  fi
done

echo "=== all builds ($builds)"
echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
exit $status
