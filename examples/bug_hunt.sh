#!/usr/bin/env bash
# The main job, from a fresh Debian machine: installs what simloop needs,
# builds it (Release), and runs the demo bug hunt:
#   1. the racy program passes under asyncio's natural order (fifo);
#   2. seeded exploration finds the race, saves the failing run and a
#      minimized one as replay files;
#   3. the minimized file is replayed: same failure, bit for bit;
#   4. its timeline shows the interleaving.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps
build=build/release
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target bug_hunt simloop-trace
hunt="$build/examples/bug_hunt"
export SIMLOOP_REPLAY_DIR="$PWD/$build/replays"
rm -f "$SIMLOOP_REPLAY_DIR"/bug_hunt-*-seed*.simloop-replay

echo; echo "== 1. asyncio's natural order (fifo): the race stays hidden"
SIMLOOP_STRATEGY=fifo SIMLOOP_RUNS=1 "$hunt"

echo; echo "== 2. seeded exploration (random strategy, asyncio fidelity)"
set +e
"$hunt" | tee "$build/bug_hunt.log"
found=${PIPESTATUS[0]}
set -e
if [ "$found" -ne 1 ]; then
  echo "bug_hunt: expected exploration to find the race (exit 1), got exit $found" >&2
  exit 1
fi
minimized=$(ls "$SIMLOOP_REPLAY_DIR"/bug_hunt-*-seed*.min.simloop-replay)

echo; echo "== 3. replay the minimized failing run"
set +e
SIMLOOP_REPLAY="$minimized" "$hunt" | tee "$build/bug_hunt_replay.log"
set -e
grep -q "reproduced exactly" "$build/bug_hunt_replay.log" || { echo "bug_hunt: the replay did not reproduce" >&2; exit 1; }

echo; echo "== 4. its timeline"
"$build/replay/simloop-trace" show "$minimized"
echo
echo "bug_hunt: race found, saved to $minimized, replayed exactly."
