#!/bin/sh
# examples/device-with-updates/check.sh: runs the README's "Run it" block (keys, version 1
# published, a backend, the agent, a client sending requests in a loop while version 2 is
# published and swapped in) and checks every answer the client got: all 200, each XGBoost's own
# prediction for row.json with v1 or with v2 (reference.json, from make_model.py), v1's answers
# all before v2's, both seen; and the agent serving v2 with nothing quarantined.
# Usage: sh examples/device-with-updates/check.sh [path/to/mlship]
. "$(dirname "$0")/../lib.sh"
ex_setup device-with-updates "$@"
command -v jq >/dev/null || { skip "jq is not installed (scripts/deps.sh test)"; finish; }
PB=$(free_port); PA=$(free_port)
if run_readme "s/8090/@AGENT@/g; s/8080/@BACKEND@/g; s/@AGENT@/$PA/g; s/@BACKEND@/$PB/g"; then ok "the README's commands ran"
else bad "the README's commands failed"; show_failure; finish; fi

v1=$(jq .v1 "$EX/reference.json"); v2=$(jq .v2 "$EX/reference.json")
first=$(section '^curl -s -X POST' 1)
echo "$first" | sed -n 's/^{"prediction":\[\(.*\)\]}$/\1/p' >"$T/g1"; echo "$v1" >"$T/w1"
if r=$(close_all "$T/g1" "$T/w1" 1e-5); then ok "version 1 on the device answers XGBoost v1's prediction ($r)"; else bad "v1 answer '$first': $r"; fi

A=$W/answers.txt
n=$(wc -l <"$A")
# classify each answer: 1 (v1's), 2 (v2's), or x (anything else: a failed or wrong answer)
awk -v a="$v1" -v b="$v2" '{ v = $0; ok = sub(/^\{"prediction":\[/, "", v) && sub(/\]\} 200$/, "", v);
    da = v - a; db = v - b; if (da < 0) da = -da; if (db < 0) db = -db
    if (!ok || v == "") print "x " $0; else if (da <= 1e-5 * (1 + a)) print 1; else if (db <= 1e-5 * (1 + b)) print 2; else print "x " $0 }' "$A" >"$T/cls"
# the last line may be cut by the kill: it is not an answer the client received
tail -n 1 "$A" | grep -q ' 200$' || { n=$((n - 1)); sed -i '$d' "$T/cls"; }
nx=$(grep -c '^x' "$T/cls"); n1=$(grep -cx 1 "$T/cls"); n2=$(grep -cx 2 "$T/cls")
[ "$nx" -eq 0 ] && ok "no failed or wrong answer among the client's $n requests during the update" ||
  bad "$nx of $n answers were failures or neither version's: $(grep '^x' "$T/cls" | sort | uniq -c | head -n 3 | tr '\n' ';')"
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && ok "the client saw both versions: $n1 answers from v1, then $n2 from v2" ||
  bad "answers: $n1 from v1, $n2 from v2 (both expected)"
swaps=$(uniq "$T/cls" | wc -l)
[ "$swaps" -eq 2 ] && ok "one swap: every v1 answer before every v2 answer" || bad "the answers switched version $((swaps - 1)) times"
last=$(section '^curl -s -X POST' 2)
echo "$last" | sed -n 's/^{"prediction":\[\(.*\)\]}$/\1/p' >"$T/g2"; echo "$v2" >"$T/w2"
if r=$(close_all "$T/g2" "$T/w2" 1e-5); then ok "after the update the device answers XGBoost v2's prediction ($r)"; else bad "v2 answer '$last': $r"; fi
# the README's sample of the client's answers: v1's prediction, then v2's
sed -n '/^## Run it/,/^## /p' "$EX/README.md" | sed -n 's/^ *[0-9][0-9]* {"prediction":\[\(.*\)\]} 200$/\1/p' >"$T/shown"
printf '%s\n%s\n' "$v1" "$v2" >"$T/w12"
if r=$(close_all "$T/shown" "$T/w12" 1e-5); then ok "the README's sample shows v1's then v2's prediction ($r)"; else bad "the README's sample answers: $r"; fi
finish
