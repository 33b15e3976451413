#!/bin/sh
# The API reference builds without a single Doxygen warning: a comment with a
# bad command, an unresolved reference or broken markup fails the suite.
# Doxygen runs on the configured Doxyfile with WARN_AS_ERROR =
# FAIL_ON_WARNINGS, into a directory of its own; every warning is printed.
#
#   doxygen_test.sh <doxygen> <Doxyfile> <work dir>
set -u
doxygen=$1
doxyfile=$2
work=$3
rm -rf "$work" && mkdir -p "$work"
{
  cat "$doxyfile"
  echo "OUTPUT_DIRECTORY = $work/out"
  echo "WARN_AS_ERROR = FAIL_ON_WARNINGS"
  echo "WARN_LOGFILE = $work/warnings.log"
} >"$work/Doxyfile"
"$doxygen" "$work/Doxyfile" >"$work/doxygen.out" 2>&1
status=$?
warnings=0
# Every line of the log is a warning (doxygen says "error:" for some).
[ -f "$work/warnings.log" ] && warnings=$(grep -c . "$work/warnings.log")
if [ "$status" -ne 0 ] || [ "$warnings" -ne 0 ]; then
  echo "doxygen_test: doxygen exited with status $status and $warnings warning(s); fix the comments they name:" >&2
  [ -f "$work/warnings.log" ] && cat "$work/warnings.log" >&2
  cat "$work/doxygen.out" >&2
  exit 1
fi
[ -f "$work/out/html/index.html" ] || { echo "doxygen_test: no $work/out/html/index.html" >&2; exit 1; }
echo "doxygen_test: the API reference built with no warning ($(ls "$work/out/html" | wc -l) files)"
