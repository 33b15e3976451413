#!/usr/bin/env bash
# The README's C++ examples compile as shown: every ```cpp block of
# README.md must appear, verbatim, in a file under examples/ (which
# examples/CMakeLists.txt builds, and runs where it makes sense). Fails,
# printing the block, when one has drifted from its file or has none.
#
#   bash tests/ci/readme_examples_test.sh [repository root]
set -uo pipefail
root=${1:-"$(dirname "$0")/../.."}
cd "$root" || exit 2
[ -f README.md ] || { echo "readme_examples_test: no README.md in $PWD" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One file per block: block-1.cpp, block-2.cpp, ... (the fence lines dropped).
awk -v dir="$work" '
  /^```cpp[[:space:]]*$/ { inside = 1; n++; file = dir "/block-" n ".cpp"; printf "" > file; next }
  inside && /^```/ { inside = 0; close(file); next }
  inside { print >> file }' README.md

mapfile -t blocks < <(find "$work" -name 'block-*.cpp' | sort -t- -k2 -n)
if [ "${#blocks[@]}" -eq 0 ]; then
  echo "readme_examples_test: README.md has no \`\`\`cpp block" >&2
  exit 1
fi
mapfile -t sources < <(find examples -type f \( -name '*.cpp' -o -name '*.hpp' \) | sort)

failures=0
for block in "${blocks[@]}"; do
  text=$(cat "$block")
  first=$(head -n 1 "$block")
  found=""
  for source in "${sources[@]}"; do
    content=$(cat "$source")
    if [[ "$content" == *"$text"* ]]; then
      found=$source
      break
    fi
  done
  if [ -n "$found" ]; then
    echo "readme_examples_test: the block starting '$first' is in $found"
  else
    echo "readme_examples_test: this README block is in no file under examples/ (copy it there, or make it match):" >&2
    sed 's/^/    /' "$block" >&2
    failures=$((failures + 1))
  fi
done

if [ "$failures" -ne 0 ]; then
  echo "readme_examples_test: $failures of ${#blocks[@]} cpp block(s) not found under examples/" >&2
  exit 1
fi
echo "readme_examples_test: all ${#blocks[@]} cpp block(s) of README.md are compiled under examples/"
