#!/bin/sh
# Runs every unit test binary in $1 and adds up their "N passed, N failed" lines.
dir=$1; pass=0; fail=0; status=0
for t in "$dir"/test_*; do
  [ -x "$t" ] || continue
  out=$("$t" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | tail -n 1)
  p=$(printf '%s' "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
  f=$(printf '%s' "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
  if [ -z "$p" ]; then
    printf '%s\n' "$out"; echo "CRASH $(basename "$t") (exit $rc, no summary line)"; p=0; f=1
  elif [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
    printf '%s\n' "$out" | grep -v '^[0-9]* passed' ; [ "$f" -eq 0 ] && f=1
  fi
  echo "  $(basename "$t"): $p passed, $f failed"
  pass=$((pass + p)); fail=$((fail + f))
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
