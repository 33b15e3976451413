#!/bin/sh
# Checks that a seed log (one seed per line) holds seeds <first>..<last>,
# each exactly once. Usage: seeds_once.sh <log> <first> <last>
set -eu
log=$1 first=$2 last=$3
want=$(seq "$first" "$last" | tr '\n' ' ')
got=$(sort -n "$log" | tr '\n' ' ')
if [ "$got" != "$want" ]; then
  echo "$log: expected seeds [$want] each once, got [$got]"
  exit 1
fi
echo "$log: seeds $first..$last, each exactly once"
