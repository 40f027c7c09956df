#!/bin/sh
# tests/examples/run.sh: stage "examples" of make test. Runs every examples/*/check.sh (each runs
# its README's commands and checks the results against the framework's own outputs committed
# beside the model) and adds up their "N passed, N failed, N skipped" lines.
# Usage: sh tests/examples/run.sh [path/to/mlship]    (services: build/services.env, or the
# MLSHIP_TEST_* variables make test exports; a check that needs a missing one skip-counts)
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
case "$M" in /*) ;; *) M="$PWD/$M" ;; esac
if [ -z "${MLSHIP_TEST_PG_URL:-}" ] && [ -f build/services.env ]; then . ./build/services.env; fi
pass=0; fail=0; skip=0
for c in examples/*/check.sh; do
  name=$(basename "$(dirname "$c")")
  t0=$(date +%s)
  out=$(sh "$c" "$M" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | tail -n 1)
  p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
  f=$(echo "$line" | sed -n 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/p')
  s=$(echo "$line" | sed -n 's/.*, \([0-9]*\) skipped.*/\1/p')
  printf '%s\n' "$out" | sed "s|^FAIL |FAIL $name: |; t; s|^|$name: |"
  if [ -z "$p" ]; then echo "FAIL $name: check.sh did not finish (exit $rc)"; fail=$((fail + 1)); continue; fi
  [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ] && { echo "FAIL $name: check.sh exited $rc"; f=1; }
  echo "== $name: $line ($(( $(date +%s) - t0 )) s)"
  pass=$((pass + p)); fail=$((fail + ${f:-0})); skip=$((skip + ${s:-0}))
done
echo "examples: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
