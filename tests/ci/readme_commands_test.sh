#!/usr/bin/env bash
# The README's set-up block (its first ```sh block) promises two commands: a
# demo under examples/ and the test suite, which is what CI runs. Fails if the
# block holds anything else, if a script it names is missing, or if .ci/run no
# longer executes the README's test command (or a script it runs is missing).
#
#   bash tests/ci/readme_commands_test.sh [repository root]
set -uo pipefail
root=${1:-"$(dirname "$0")/../.."}
cd "$root" || exit 2

failures=0
fail() {
  echo "readme_commands_test: $*" >&2
  failures=$((failures + 1))
}

# Prints the commands of a shell text, one a line: comments, blank lines
# and a leading `exec` dropped, spaces squeezed.
commands_of() {
  sed -E -e 's/(^|[[:space:]])#.*$//' -e 's/^[[:space:]]*exec[[:space:]]+//' \
    -e 's/[[:space:]]+/ /g' -e 's/^ //' -e 's/ $//' | grep -v '^$'
}

[ -f README.md ] || { echo "readme_commands_test: no README.md in $PWD" >&2; exit 1; }
[ -f .ci/run ] || { echo "readme_commands_test: no .ci/run in $PWD" >&2; exit 1; }

block=$(awk '/^```sh[[:space:]]*$/ && !seen { inside = 1; seen = 1; next }
             inside && /^```/ { exit }
             inside { print }' README.md)
[ -n "$block" ] || fail "README.md has no \`\`\`sh block"
mapfile -t readme < <(commands_of <<<"$block")
if [ "${#readme[@]}" -ne 2 ]; then
  fail "README.md's first sh block should hold 2 commands (the demo, the test suite), holds ${#readme[@]}:"
  printf '  %s\n' "${readme[@]}" >&2
  exit 1
fi
demo=${readme[0]:-}
suite=${readme[1]:-}

# Each is `bash <script>`, a script of the repository.
for command in "$demo" "$suite"; do
  if [[ ! "$command" =~ ^bash\ ([^ ]+)$ ]]; then
    fail "README command '$command' is not 'bash <script>'"
  elif [ ! -f "${BASH_REMATCH[1]}" ]; then
    fail "README command '$command': no script ${BASH_REMATCH[1]}"
  fi
done
[[ "$demo" == "bash examples/"* ]] || fail "README's first command '$demo' is not a demo under examples/"
[[ "$suite" == "bash tests/"* ]] || fail "README's second command '$suite' is not the test suite under tests/"

mapfile -t ci < <(commands_of <.ci/run)
found=0
for command in "${ci[@]}"; do
  [ "$command" = "$suite" ] && found=1
  if [[ "$command" =~ ^bash\ ([^ ]+)$ ]] && [ ! -f "${BASH_REMATCH[1]}" ]; then
    fail ".ci/run runs '$command': no script ${BASH_REMATCH[1]}"
  fi
done
if [ "$found" -ne 1 ]; then
  fail ".ci/run does not run the README's test command '$suite'; it runs:"
  printf '  %s\n' "${ci[@]}" >&2
fi

if [ "$failures" -ne 0 ]; then
  echo "readme_commands_test: $failures problem(s)" >&2
  exit 1
fi
echo "readme_commands_test: README's '$demo' and '$suite' exist; .ci/run runs '$suite'"
