#!/bin/sh
# check_docs.sh: the reference pages cannot drift from the source (a cheap `make test` stage).
#   1. every metric name the server or the stream worker writes (a "mlship_..." string literal in src/serve/*.c or src/stream/*.c) is
#      in docs/metrics.md as `name`, and every metric that page's tables name is written;
#   2. every config.json key the server accepts is in docs/config.md as `key` in a table row,
#      in its block's section: the key lists that cfg_read checks (`static const char *const
#      NAME[] = {"..", NULL}` in src/serve/sv_config.c, sv_sched.c, src/predict/pd_batch.c) and the keys read
#      with get_int / get_str / cJSON_GetObjectItemCaseSensitive there. One way only: the page
#      may document a key the source does not read yet.
#   3. the route labels of src/serve/sv_routes.c's table and src/cli/cli_agent.c are in
#      docs/metrics.md (the `route` label's values);
#   4. docs/cli.md is what scripts/gen_cli_md.sh writes from the binary's --help now;
#   5. every `mlship ...` command line in a fenced block of docs/modes/*.md (and the README)
#      names a command (and subcommand) the binary has, and every --flag on it appears in that
#      command's --help; every relative link of docs/modes/*.md and the README points at a file
#      that exists (pages other helpers are writing are listed in EXPECTED_LATER below: missing,
#      they are reported, not failed, until they exist).
# Usage: sh tests/docs/check_docs.sh [build/mlship]     Ends with "N passed, N failed".
# Sections 4 and 5 need the binary (default build/mlship).
cd "$(dirname "$0")/../.." || exit 2
MLSHIP=${1:-build/mlship}
pass=0; fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT

# ---- 1. metrics ----------------------------------------------------------------------------
M=docs/metrics.md
[ -f $M ] || { bad "$M is missing"; echo "$pass passed, $fail failed"; exit 1; }
# src/serve: any string literal naming one; elsewhere: the files that write Prometheus text
# ("# TYPE"), their literals that are a whole metric name or follow "# HELP "
{ grep -ohE '"[^"]*mlship_[a-z0-9_]+' src/serve/*.c | grep -oE 'mlship_[a-z0-9_]+'
  for f in $(grep -rlF '# TYPE' src --include='*.c' | grep -v '^src/serve/'); do
    grep -ohE '"mlship_[a-z0-9_]*[a-z0-9]"|# HELP mlship_[a-z0-9_]+' "$f" | grep -oE 'mlship_[a-z0-9_]+'
  done; } | sort -u >"$T/emitted"
[ -s "$T/emitted" ] && ok || bad "no metric names found in src/serve/*.c (has the source moved?)"
while read -r name; do
  if grep -qF "\`$name\`" $M; then ok; else bad "metric $name is written by src/serve or src/stream but not in $M"; fi
done <"$T/emitted"
grep -oE '^\| `mlship_[a-z0-9_]+`' $M | grep -oE 'mlship_[a-z0-9_]+' | sort -u >"$T/documented"
while read -r name; do
  if grep -qx "$name" "$T/emitted"; then ok; else bad "$M documents $name, which src/ does not write"; fi
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

# ---- 3. route labels ----------------------------------------------------------------------------
{ sed -n 's/^ *{"[A-Z]*", "[^"]*", SV_AUTH_[A-Z]*, "\([a-z0-9_]*\)".*/\1/p' src/serve/sv_routes.c
  sed -n 's/.*snprintf(r->route, sizeof r->route, "\([a-z0-9_]*\)").*/\1/p' src/serve/*.c src/cli/cli_agent.c
} | sort -u >"$T/labels"
[ "$(wc -l <"$T/labels")" -ge 10 ] && ok || bad "fewer than 10 route labels found in src/serve/sv_routes.c (has the table moved?)"
while read -r l; do
  if grep -qF "\`$l\`" $M; then ok; else bad "route label \"$l\" (src/serve/sv_routes.c, src/cli/cli_agent.c) is not in $M"; fi
done <"$T/labels"

# ---- 4. docs/cli.md -------------------------------------------------------------------------------
if [ ! -x "$MLSHIP" ]; then bad "no $MLSHIP: build it (make) to check docs/cli.md and docs/modes"
else
  if sh scripts/gen_cli_md.sh "$MLSHIP" "$T/cli.md" && cmp -s "$T/cli.md" docs/cli.md; then ok
  else bad "docs/cli.md is stale: run scripts/gen_cli_md.sh"; diff docs/cli.md "$T/cli.md" | head -n 10; fi

# ---- 5. commands, flags and links of the mode pages and the README ---------------------------------
  # the commands the binary lists
  "$MLSHIP" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' >"$T/cmds"
  for f in docs/modes/*.md README.md; do
    [ -f "$f" ] || continue
    # command lines inside fenced blocks; a trailing backslash continues a line
    awk '/^```/ { inb = !inb; next } inb' "$f" | sed -e :a -e '/\\$/N; s/\\\n//; ta' |
      grep -E '^(\$ )?mlship [a-z]' | sed 's/^\$ //' | sed 's/ *#.*//' >"$T/lines"
    while IFS= read -r line; do
      cmd=$(echo "$line" | awk '{ print $2 }')
      if ! grep -qx "$cmd" "$T/cmds"; then bad "$f: 'mlship $cmd' is not a command of $MLSHIP: $line"; continue; fi
      sub=$(echo "$line" | awk '$3 ~ /^[a-z][a-z0-9-]*$/ { print $3 }')
      "$MLSHIP" "$cmd" --help >"$T/help" 2>&1
      # a subcommand the command's usage names: its own help (stream work, ...)
      if echo "$sub" | grep -qE '^[a-z][a-z0-9-]*$' && { grep -qE "mlship $cmd $sub( |\$)" "$T/help" || grep -qE "^  $sub  " "$T/help"; }; then
        "$MLSHIP" "$cmd" "$sub" --help >>"$T/help" 2>&1
      fi
      for flag in $(echo "$line" | grep -oE '(^| )--[a-z][a-z0-9-]*' | tr -d ' '); do
        if grep -qE -- "$flag([^a-z0-9-]|\$)" "$T/help"; then ok
        else bad "$f: 'mlship $cmd${sub:+ $sub}' has no $flag (not in its --help): $line"; fi
      done
      ok
    done <"$T/lines"
  done
fi
# relative links: to files at this commit. Pages other helpers write in parallel are expected
# later; until they exist a link to one is reported (not failed): the lead checks after merging.
EXPECTED_LATER=""
for f in docs/modes/*.md README.md; do
  [ -f "$f" ] || continue
  dir=$(dirname "$f")
  grep -oE '\]\([^)#]+' "$f" | sed 's/^](//' | grep -vE '^[a-z]+:' | sort -u | while IFS= read -r l; do
    target=$(realpath -m --relative-to=. "$dir/$l")
    if [ -e "$target" ]; then echo "OK"
    elif echo " $EXPECTED_LATER " | grep -qF " $target "; then echo "LATER $f links $l ($target: another helper's page, not here yet)"
    else echo "BAD $f links $l, which does not exist ($target)"; fi
  done
done >"$T/links"
while read -r v rest; do
  case $v in OK) ok ;; LATER) echo "note: $rest" ;; *) bad "$rest" ;; esac
done <"$T/links"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
