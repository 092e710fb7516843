#!/bin/bash
# A/B of two (or more) MX builds with bench/mx-profile.ts, alternating them round by round in one run (issue 18's rule):
#   [LISTS=1] bench/mx-profile-ab.sh OUT ROUNDS MESSAGES A/main.js B/main.js [C/main.js ...]
# Appends each round's load average and each build's result line (JSON) to OUT. Make a base build with
# `cd apps/mx && npm run build && cp -r dist /tmp/base/` before changing the code.
set -u
out=$1 rounds=$2 n=$3
shift 3
cd "$(dirname "$0")/.."
for r in $(seq 1 "$rounds"); do
  for m in "$@"; do
    echo "round $r load $(cut -d' ' -f1 /proc/loadavg)" >>"$out"
    npm exec -- node bench/mx-profile.ts "$m" "" "$n" 2>/dev/null | grep '^{' >>"$out" || echo "no result: $m" >>"$out"
  done
done
