#!/bin/sh
# check.sh: every path bench/RESULTS.md and bench/README.md mention must be in this repository,
# so the figures stay reproducible from a clone (a `make test` stage; no benchmark is run).
#
# A path is a word that starts with a top-level folder of the repo (bench/ src/ scripts/
# tests/ docs/ examples/ include/ build/) or with ../ . Then:
#   - ../anything                      fails: outside the repository
#   - it exists and git does not ignore it: ok (a committed script, harness, model, raw result)
#   - build/...                        ok: built by make or by the bench script that uses it
#   - git ignores it (bench/*/out/...): ok as what a script writes, not as evidence:
#     in RESULTS.md its line must say "writes" or "not kept"
#   - anything else                    fails: a file that is not there
# Placeholders (<...>, MODEL, *) are cut off at the first such character and the folder part
# before it is checked. Also: every bench/**/*.sh must be referenced in one of the two files.
# Usage: sh bench/check.sh      Ends with "N passed, N failed".
cd "$(dirname "$0")/.." || exit 2
pass=0; fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

roots='bench|src|scripts|tests|docs|examples|include|build'
for doc in bench/RESULTS.md bench/README.md; do
  [ -f "$doc" ] || { bad "$doc is missing"; continue; }
  # words that look like paths: a root folder or ../ at a word start
  grep -noE "(^|[^A-Za-z0-9_./\$-])((\.\./)+[A-Za-z0-9_./<>*-]*|($roots)/[A-Za-z0-9_./<>*-]*)" "$doc" |
    sed -E 's/^([0-9]+):[^.A-Za-z]?/\1 /' | sed -E 's/[.,:;)]+$//' |
    while read -r line path; do
      case "$path" in
        ../*) echo "BAD $doc:$line: $path is outside the repository"; continue ;;
        build/*) echo OK; continue ;;   # built by make or by the bench scripts themselves
      esac
      p=$(echo "$path" | sed -E 's/[<*].*$//; s#/[A-Z][A-Z0-9_]*([./].*)?$#/#')   # placeholders
      p=${p%/}
      [ -n "$p" ] || continue
      if [ -e "$p" ] && ! git check-ignore -q "$p" 2>/dev/null; then echo OK
      elif git check-ignore -q "$p" 2>/dev/null || git check-ignore -q "$p/x" 2>/dev/null; then
        # an output location; in RESULTS.md the line must say so, not offer it as the evidence
        if [ "$doc" = bench/RESULTS.md ] && ! sed -n "${line}p" "$doc" | grep -qE 'writes|not kept'; then
          echo "BAD $doc:$line: $path is git-ignored (not in a clone): say 'not kept' or which script writes it"
        else echo OK; fi
      else echo "BAD $doc:$line: $path is not in the repository"; fi
    done >"${TMPDIR:-/tmp}/bench_check.$$"
  while read -r verdict rest; do
    if [ "$verdict" = OK ]; then ok; else bad "$rest"; fi
  done <"${TMPDIR:-/tmp}/bench_check.$$"
  rm -f "${TMPDIR:-/tmp}/bench_check.$$"
done

# every bench script is documented somewhere a reader looks
for s in $(find bench -name '*.sh' | sort); do
  if grep -qF "$s" bench/README.md bench/RESULTS.md || grep -qF "${s#bench/}" bench/README.md; then ok
  else bad "$s is mentioned in neither bench/README.md nor bench/RESULTS.md"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
