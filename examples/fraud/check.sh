#!/bin/sh
# examples/fraud/check.sh: runs the README's "Run it" block (features into SQLite, mlship serve
# on the model repository, the keyed requests) and checks the answers against numpy's
# probabilities for those customers (reference.csv, from make_reference.py).
# Usage: sh examples/fraud/check.sh [path/to/mlship]
. "$(dirname "$0")/../lib.sh"
ex_setup fraud "$@"
PORT=$(free_port)
if run_readme "s/8080/$PORT/g"; then ok "the README's commands ran"; else bad "the README's commands failed"; show_failure; finish; fi

got=$(section 'c_1", "c_3", "c_6')
echo "$got" | sed -n 's/.*"predictions":\[\([^]]*\)\].*/\1/p' | tr ',' '\n' >"$T/got"
for k in c_1 c_3 c_6; do grep "^$k," "$EX/reference.csv" | cut -d, -f2; done >"$T/want"
if r=$(close_all "$T/got" "$T/want" 1e-5); then ok "keys c_1, c_3, c_6: the store's features give numpy's probabilities ($r)"
else bad "keys c_1, c_3, c_6: $r: $got"; fi

# the README's sample answer is the numbers numpy gives (within the same tolerance)
sed -n '/^## Run it/,/^## /p' "$EX/README.md" | sed -n 's/^{"predictions":\[\([^]]*\)\]}$/\1/p' | tr ',' '\n' >"$T/shown"
if r=$(close_all "$T/shown" "$T/want" 1e-5); then ok "the README shows numpy's probabilities ($r)"; else bad "the README's sample answer: $r"; fi

unk=$(section 'c_999')
case "$unk" in *c_999*) ok "an unknown key is an error naming it: $unk" ;; *) bad "unknown key c_999: '$unk'" ;; esac
case "$unk" in *'"predictions":[0'*|*'"predictions":[1'*) bad "an unknown key got a number: $unk" ;; *) ok "no prediction for an unknown key" ;; esac
finish
