#!/usr/bin/env bash
# The main job: builds simloop (Release) and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target seed002_demo
./build/release/examples/seed002_demo
