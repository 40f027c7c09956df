#!/bin/sh
# check_docs.sh: the reference pages cannot drift from the source (a cheap `make test` stage).
#   1. every metric name the server or the stream worker writes (a "mlship_..." string literal in src/serve/*.c or src/stream/*.c) is
#      in docs/metrics.md as `name`, and every metric that page's tables name is written;
#   2. every config.json key the server accepts is in docs/config.md as `key` in a table row,
#      in its block's section: the key lists that cfg_read checks (`static const char *const
#      NAME[] = {"..", NULL}` in src/serve/sv_config.c, sv_sched.c, src/predict/pd_batch.c) and the keys read
#      with get_int / get_str / cJSON_GetObjectItemCaseSensitive there. One way only: the page
#      may document a key the source does not read yet.
# Usage: sh tests/docs/check_docs.sh        Ends with "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 2
pass=0; fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT

# ---- 1. metrics ----------------------------------------------------------------------------
M=docs/metrics.md
[ -f $M ] || { bad "$M is missing"; echo "$pass passed, $fail failed"; exit 1; }
grep -ohE '"[^"]*mlship_[a-z0-9_]+' src/serve/*.c src/stream/*.c | grep -oE 'mlship_[a-z0-9_]+' | sort -u >"$T/emitted"
[ -s "$T/emitted" ] && ok || bad "no metric names found in src/serve/*.c (has the source moved?)"
while read -r name; do
  if grep -qF "\`$name\`" $M; then ok; else bad "metric $name is written by src/serve or src/stream but not in $M"; fi
done <"$T/emitted"
grep -oE '^\| `mlship_[a-z0-9_]+`' $M | grep -oE 'mlship_[a-z0-9_]+' | sort -u >"$T/documented"
while read -r name; do
  if grep -qx "$name" "$T/emitted"; then ok; else bad "$M documents $name, which neither src/serve nor src/stream writes"; fi
done <"$T/documented"

# ---- 2. config.json keys -------------------------------------------------------------------
C=docs/config.md
[ -f $C ] || { bad "$C is missing"; echo "$pass passed, $fail failed"; exit 1; }
SRC="src/serve/sv_config.c src/serve/sv_sched.c src/predict/pd_batch.c"
# "ARRAY key" per key of each NULL-terminated key list (may span lines)
for f in $SRC; do [ -f "$f" ] && cat "$f"; done | awk '
  /static const char \*const [a-z_]+\[\] = \{/ { inlist = 1; name = $0
    sub(/.*\*const /, "", name); sub(/\[\].*/, "", name) }
  inlist { line = $0; sub(/.*= \{/, "", line)
    while (match(line, /"[^"]*"/)) { print name, substr(line, RSTART + 1, RLENGTH - 2); line = substr(line, RSTART + RLENGTH) }
    if ($0 ~ /NULL *\};/) inlist = 0 }' >"$T/lists"
# keys read one by one (their block is not known here: checked anywhere in a table row)
for f in $SRC; do [ -f "$f" ] && cat "$f"; done |
  grep -oE '(get_int|get_str|cJSON_GetObjectItemCaseSensitive)\([a-z_]+, "[a-z_]+"' |
  sed -E 's/.*"([a-z_]+)"$/- \1/' >>"$T/lists"
[ -s "$T/lists" ] && ok || bad "no config keys found in $SRC (has the source moved?)"
# the section of config.md that documents each list's keys
section() {
  case $1 in
    top) echo '## Top level' ;; bk) echo '## `batching`' ;; fk) echo '## `features`' ;;
    pk) echo '## `predict`' ;; jk) echo '## `batch`' ;; sk) echo '## `stream`' ;; *) echo '' ;;
  esac
}
sort -u "$T/lists" | while read -r list key; do
  head=$(section "$list")
  if [ -n "$head" ]; then
    # that section: from its heading to the next "## "
    awk -v h="$head" 'index($0, h) == 1 { on = 1; next } /^## / { on = 0 } on' $C >"$T/sec"
    if grep -qE "^\| \`$key\` \|" "$T/sec"; then echo OK
    else echo "BAD config key \"$key\" (list $list in src/serve) is not in the '$head' table of $C"; fi
  elif grep -qE "^\| \`$key\` \|" $C; then echo OK
  else echo "BAD config key \"$key\" (read in src/serve) is not in a table of $C"; fi
done >"$T/verdicts"
while read -r v rest; do if [ "$v" = OK ]; then ok; else bad "$rest"; fi; done <"$T/verdicts"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
