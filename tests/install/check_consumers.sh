#!/usr/bin/env bash
# Installs simloop from an existing build tree into a scratch prefix, then
# builds and runs user projects against it:
#  - tests/install/consumer (the core alone) through find_package with
#    rapidcheck and GoogleTest made unfindable (no components: built and
#    run; COMPONENTS core: configured), through find_package with them (the
#    optional components then load by themselves), and through
#    add_subdirectory without them (built and run);
#  - find_package(simloop COMPONENTS properties / gtest) without rapidcheck /
#    GoogleTest: must fail, naming the missing package and Debian's;
#  - simloop itself configured without them (SIMLOOP_BUILD_TESTS=OFF);
#  - the same consumer built with -fsanitize=address,undefined against this
#    uninstrumented install (the pool choice is the library's, not the
#    program's: it must not abort);
#  - examples/consumer (SIMLOOP_TEST, SIMLOOP_PROPERTY, ctest) through
#    find_package and through add_subdirectory, its ctest run;
#  - the consumer compiled with the flags pkg-config gives.
# Builds use CMAKE_BUILD_PARALLEL_LEVEL when set.
# Usage: check_consumers.sh <source-dir> <build-dir> <scratch-dir> [<c++ compiler>]
set -euo pipefail
src=$1 build=$2 scratch=$3 cxx=${4:-c++}
rm -rf "$scratch"
mkdir -p "$scratch"
prefix="$scratch/prefix"
cmake --install "$build" --prefix "$prefix" >"$scratch/install.log"
# No directory of the build tree is baked into the installed library as a
# default (the replay directory once was; debug information may name it).
if grep -q "$(cd "$build" && pwd)/replays" "$prefix/lib"*/libsimloop_*.a; then
  echo "check_consumers: the installed library names a directory of the build tree $build" >&2
  exit 1
fi

step() { echo "check_consumers: [${SECONDS}s] $*"; }
# configure <name> <project dir> <cmake args...>: configures into $scratch/<name>.
configure() {
  local name=$1 dir=$2
  shift 2
  cmake -S "$dir" -B "$scratch/$name" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_PREFIX_PATH="$prefix" "$@" >"$scratch/$name.log" 2>&1 || {
    cat "$scratch/$name.log" >&2
    echo "check_consumers: configuring $name failed" >&2
    return 1
  }
}
build_target() {
  cmake --build "$scratch/$1" --target "$2" >>"$scratch/$1.log" 2>&1 || {
    cat "$scratch/$1.log" >&2
    echo "check_consumers: building $1 failed" >&2
    return 1
  }
}
consumer="$src/tests/install/consumer"
without=(-DCMAKE_DISABLE_FIND_PACKAGE_rapidcheck=ON -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON)

step "core consumer, find_package(simloop), no rapidcheck, no GoogleTest"
configure core-package "$consumer" "${without[@]}" -DSIMLOOP_EXPECT_OPTIONAL=OFF
build_target core-package consumer
"$scratch/core-package/consumer"

step "find_package(simloop COMPONENTS core), no rapidcheck, no GoogleTest: configures"
configure core-components "$consumer" "${without[@]}" -DSIMLOOP_COMPONENTS="core;loop;sim;fakes;replay;fuzz" \
  -DSIMLOOP_EXPECT_OPTIONAL=OFF

step "find_package(simloop) with rapidcheck and GoogleTest found: both optional components load"
configure all-package "$consumer" -DSIMLOOP_EXPECT_OPTIONAL=ON

# expect_refused <component> <words...>: asking for it must fail with a
# message holding every word.
expect_refused() {
  local component=$1
  shift
  if configure "refused-$component" "$consumer" "${without[@]}" -DSIMLOOP_COMPONENTS="$component" 2>/dev/null; then
    echo "check_consumers: find_package(simloop COMPONENTS $component) succeeded without its dependency" >&2
    return 1
  fi
  # CMake wraps the message: compare it as one line.
  local said
  said=$(tr -s ' \n' '  ' <"$scratch/refused-$component.log")
  for word in "$@"; do
    if [[ $said != *"$word"* ]]; then
      cat "$scratch/refused-$component.log" >&2
      echo "check_consumers: refusing COMPONENTS $component, the message does not say '$word'" >&2
      return 1
    fi
  done
}
step "find_package(simloop COMPONENTS properties) without rapidcheck is refused, clearly"
expect_refused properties "'properties' component (simloop::properties) needs rapidcheck" librapidcheck-dev
step "find_package(simloop COMPONENTS gtest) without GoogleTest is refused, clearly"
expect_refused gtest "'gtest' component (simloop::gtest) needs GoogleTest" libgtest-dev

step "simloop itself, SIMLOOP_BUILD_TESTS=OFF, no rapidcheck, no GoogleTest: configures, without those components"
configure libraries-only "$src" "${without[@]}" -DSIMLOOP_BUILD_TESTS=OFF
if ! grep -q 'set(_simloop_built "")' "$scratch/libraries-only/simloopConfig.cmake"; then
  echo "check_consumers: simloop configured without rapidcheck and GoogleTest still offers their components" >&2
  exit 1
fi

step "core consumer, add_subdirectory(simloop), no rapidcheck, no GoogleTest"
configure core-subdirectory "$consumer" "${without[@]}" -DSIMLOOP_VIA=subdirectory -DSIMLOOP_SOURCE_DIR="$src" \
  -DSIMLOOP_EXPECT_OPTIONAL=OFF
build_target core-subdirectory consumer
"$scratch/core-subdirectory/consumer"

step "core consumer with -fsanitize=address,undefined against the uninstrumented install"
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
configure asan-package "$consumer" -DCMAKE_CXX_FLAGS="$sanitize" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
build_target asan-package consumer
"$scratch/asan-package/consumer"

# examples/consumer both ways; its ctest (a SIMLOOP_TEST, the race found
# by exploration, a SIMLOOP_PROPERTY) passes.
for via in package subdirectory; do
  step "examples/consumer through $via, and its ctest"
  if [ "$via" = subdirectory ]; then
    configure "example-$via" "$src/examples/consumer" -DSIMLOOP_SOURCE_DIR="$src"
  else
    configure "example-$via" "$src/examples/consumer"
  fi
  build_target "example-$via" theater_test
  ctest --test-dir "$scratch/example-$via" --output-on-failure --timeout 120 >"$scratch/example-$via.ctest.log" 2>&1 || {
    cat "$scratch/example-$via.ctest.log" >&2
    echo "check_consumers: the ctest of examples/consumer ($via) failed" >&2
    exit 1
  }
  if ! grep -q "100% tests passed, 0 tests failed out of [1-9]" "$scratch/example-$via.ctest.log"; then
    cat "$scratch/example-$via.ctest.log" >&2
    echo "check_consumers: the ctest of examples/consumer ($via) ran no test" >&2
    exit 1
  fi
done

# pkg-config, with the prefix the package was installed to (the .pc file
# names the configured one: point it at the scratch prefix).
step "core consumer, pkg-config"
if command -v pkg-config >/dev/null 2>&1; then
  pc="$prefix/lib/pkgconfig"
  [ -d "$pc" ] || pc=$(dirname "$(ls "$prefix"/lib*/pkgconfig/simloop.pc)")
  flags=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$prefix" --cflags --libs simloop)
  # shellcheck disable=SC2086
  "$cxx" -O1 "$consumer/main.cpp" -o "$scratch/pkgconfig-consumer" $flags
  "$scratch/pkgconfig-consumer"
else
  echo "check_consumers: pkg-config not installed: the pkg-config consumer is not checked" >&2
  exit 1
fi
step "all consumers built and ran"
