#!/usr/bin/env bash
# Installs simloop from an existing build tree into a scratch prefix, then
# builds and runs a user project against it twice: through find_package and
# through add_subdirectory. Usage: check_consumers.sh <source-dir> <build-dir> <scratch-dir>
set -euo pipefail
src=$1 build=$2 scratch=$3
rm -rf "$scratch"
mkdir -p "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" >"$scratch/install.log"
# No directory of the build tree is baked into the installed library as a
# default (the replay directory once was; debug information may name it).
if grep -q "$(cd "$build" && pwd)/replays" "$scratch/prefix/lib"*/libsimloop_*.a; then
  echo "check_consumers: the installed library names a directory of the build tree $build" >&2
  exit 1
fi
for via in package subdirectory; do
  cmake -S "$src/tests/install/consumer" -B "$scratch/$via" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSIMLOOP_VIA=$via -DSIMLOOP_SOURCE_DIR="$src" -DCMAKE_PREFIX_PATH="$scratch/prefix" >"$scratch/$via.log"
  cmake --build "$scratch/$via" --target consumer >>"$scratch/$via.log"
  "$scratch/$via/consumer"
done
# pkg-config, with the prefix the package was installed to (the .pc file
# names the configured one: point it at the scratch prefix).
if command -v pkg-config >/dev/null 2>&1; then
  pc="$scratch/prefix/lib/pkgconfig"
  [ -d "$pc" ] || pc=$(dirname "$(ls "$scratch"/prefix/lib*/pkgconfig/simloop.pc)")
  flags=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$scratch/prefix" --cflags --libs simloop)
  # shellcheck disable=SC2086
  c++ -O1 "$src/tests/install/consumer/main.cpp" -o "$scratch/pkgconfig-consumer" $flags
  "$scratch/pkgconfig-consumer"
else
  echo "check_consumers: pkg-config not installed: the pkg-config consumer is not checked" >&2
  exit 1
fi
