#!/bin/sh
# docs/environment.md, SIMLOOP_HELP=1 and the source tree agree:
#  - SIMLOOP_HELP=1 on a SIMLOOP_TEST binary and on a runner program (the
#    demo) exits 0, runs nothing, and both print the same text;
#  - that text holds the table of docs/environment.md, row for row and field
#    for field (name, meaning, default, accepted values, read by), in order;
#  - every SIMLOOP_* variable the sources and scripts read is in the table;
#  - SIMLOOP_HELP with another value than 0 or 1 is refused, naming it.
#
#   environment_help_test.sh <SIMLOOP_TEST binary> <runner program> <source root> <work dir>
set -u
test_binary=$1
runner=$2
root=$3
work=$4
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() {
  echo "environment_help_test: $*" >&2
  failures=$((failures + 1))
}

# 1. SIMLOOP_HELP=1: status 0, nothing run, the same text from both.
for program in "$test_binary" "$runner"; do
  name=$(basename "$program")
  SIMLOOP_HELP=1 SIMLOOP_REPLAY_DIR="$work/replays" "$program" >"$work/$name.out" 2>"$work/$name.err"
  status=$?
  [ "$status" -eq 0 ] || fail "SIMLOOP_HELP=1 $name: exit status $status, expected 0; stderr: $(cat "$work/$name.err")"
  if grep -q -e '^\[ RUN' -e '^simloop: .*seeds=' -e 'no failure in' "$work/$name.out"; then
    fail "SIMLOOP_HELP=1 $name ran something: $(head -n 5 "$work/$name.out")"
  fi
done
cmp -s "$work/$(basename "$test_binary").out" "$work/$(basename "$runner").out" ||
  fail "SIMLOOP_HELP=1 prints different text from $(basename "$test_binary") and $(basename "$runner")"
help="$work/$(basename "$test_binary").out"

# 2. The help text's blocks and the page's rows, as NAME|meaning|default|accepted|read by.
awk '
  function flush() { if (name != "") print name "|" meaning "|" def "|" acc "|" by; name = "" }
  BEGIN { field = "" }
  /^SIMLOOP_[A-Z_]+  \(.*\)$/ {
    flush()
    name = $1
    by = substr($0, length($1) + 4)
    sub(/\)$/, "", by)
    meaning = ""; def = ""; acc = ""; field = "meaning"
    next
  }
  /^$/ { flush(); field = ""; next }
  name != "" {
    line = $0
    sub(/^    /, "", line)
    if (line ~ /^default: /) { field = "def"; line = substr(line, 10) }
    else if (line ~ /^accepted: /) { field = "acc"; line = substr(line, 11) }
    else line = " " line
    if (field == "meaning") meaning = meaning (meaning == "" ? substr(line, 2) : line)
    else if (field == "def") def = def line
    else if (field == "acc") acc = acc line
  }
  END { flush() }' "$help" >"$work/help.rows"
awk '
  /^\| `SIMLOOP_[A-Z_]+` \|/ {
    row = $0
    sub(/^\| /, "", row); sub(/ \|$/, "", row)
    gsub(/ \| /, "|", row)
    sub(/^`/, "", row); sub(/`\|/, "|", row)
    print row
  }' "$root/docs/environment.md" >"$work/doc.rows"
[ -s "$work/doc.rows" ] || fail "docs/environment.md has no table row starting '| \`SIMLOOP_'"
[ -s "$work/help.rows" ] || fail "SIMLOOP_HELP=1 printed no variable: $(head -n 5 "$help")"
if ! diff "$work/doc.rows" "$work/help.rows" >"$work/rows.diff"; then
  fail "docs/environment.md (<) and SIMLOOP_HELP=1 (>) disagree; the help text comes from sim/src/variables.cpp:
$(cat "$work/rows.diff")
  the page's rows for the help text as it is:
$(sed -e 's/^\([^|]*\)|/| `\1` | /' -e 's/|\([^ `]\)/ | \1/g' -e 's/$/ |/' "$work/help.rows")"
fi

# 3. Every SIMLOOP_* variable some source or script reads is documented.
cut -d'|' -f1 "$work/help.rows" | sort -u >"$work/documented"
(
  cd "$root" || exit 2
  find . \( -name build -o -name .git \) -prune -o -type f \
    \( -name '*.cpp' -o -name '*.hpp' -o -name '*.sh' -o -name '*.py' -o -path './bench/compare' -o -path './.ci/*' \) \
    -print | while read -r f; do
    # C++: getenv("X"), env("X"), get("X"), a name = "X"; shell: $X, ${X...};
    # Python: environ.get("X"), environ["X"].
    grep -o -E 'getenv\("SIMLOOP_[A-Z0-9_]+"|[^a-z_]env\("SIMLOOP_[A-Z0-9_]+"|[^a-z_]get\("SIMLOOP_[A-Z0-9_]+"|_name = "SIMLOOP_[A-Z0-9_]+"|\$\{?SIMLOOP_[A-Z0-9_]+|environ(\.get\(|\[)"SIMLOOP_[A-Z0-9_]+"' "$f" |
      grep -o -E 'SIMLOOP_[A-Z0-9_]+' | sed "s|\$| $f|"
  done
) | sort -u >"$work/read"
[ -s "$work/read" ] || fail "found no SIMLOOP_* variable read under $root (the search is broken)"
while read -r variable file; do
  grep -qx "$variable" "$work/documented" || fail "$file reads $variable, which docs/environment.md and sim/src/variables.cpp do not list"
done <"$work/read"

# 4. A bad SIMLOOP_HELP is refused, naming the variable.
SIMLOOP_HELP=yes "$runner" >"$work/bad.out" 2>"$work/bad.err"
status=$?
[ "$status" -eq 2 ] || fail "SIMLOOP_HELP=yes $(basename "$runner"): exit status $status, expected 2"
grep -q "SIMLOOP_HELP='yes'" "$work/bad.err" || fail "SIMLOOP_HELP=yes: stderr does not name it: $(cat "$work/bad.err")"
SIMLOOP_HELP=yes SIMLOOP_REPLAY_DIR="$work/replays" "$test_binary" >"$work/bad-test.out" 2>&1
status=$?
[ "$status" -ne 0 ] || fail "SIMLOOP_HELP=yes $(basename "$test_binary"): passed"
grep -q "SIMLOOP_HELP='yes'" "$work/bad-test.out" || fail "SIMLOOP_HELP=yes: the test's failure does not name it"

if [ "$failures" -ne 0 ]; then
  echo "environment_help_test: $failures problem(s)" >&2
  exit 1
fi
echo "environment_help_test: $(wc -l <"$work/help.rows") variables: docs/environment.md, SIMLOOP_HELP=1 and the sources agree"
