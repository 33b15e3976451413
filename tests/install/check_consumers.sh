#!/usr/bin/env bash
# Installs simloop from an existing build tree into a scratch prefix, then
# builds and runs a user project against it twice: through find_package and
# through add_subdirectory. Usage: check_consumers.sh <source-dir> <build-dir> <scratch-dir>
set -euo pipefail
src=$1 build=$2 scratch=$3
rm -rf "$scratch"
mkdir -p "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" >"$scratch/install.log"
for via in package subdirectory; do
  cmake -S "$src/tests/install/consumer" -B "$scratch/$via" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSIMLOOP_VIA=$via -DSIMLOOP_SOURCE_DIR="$src" -DCMAKE_PREFIX_PATH="$scratch/prefix" >"$scratch/$via.log"
  cmake --build "$scratch/$via" --target consumer >>"$scratch/$via.log"
  "$scratch/$via/consumer"
done
