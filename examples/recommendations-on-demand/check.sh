#!/bin/sh
# examples/recommendations-on-demand/check.sh: runs the README's "Run it" block (features into
# SQLite, mlship serve with a queue and an embedded stream worker, the trigger, the ticket's long
# poll, the trigger again) and checks: 202 with a ticket, the ticket done with scikit-learn's
# predict_proba for u_7 (reference.csv, from make_model.py), then 200 from the store, source stream.
# Usage: sh examples/recommendations-on-demand/check.sh [path/to/mlship]
. "$(dirname "$0")/../lib.sh"
ex_setup recommendations-on-demand "$@"
command -v jq >/dev/null || { skip "jq is not installed (scripts/deps.sh test)"; finish; }
PORT=$(free_port)
if run_readme "s/8080/$PORT/g"; then ok "the README's commands ran"; else bad "the README's commands failed"; show_failure; finish; fi

first=$(section "-o ticket.json")
[ "$first" = 202 ] && ok "the first request for u_7 answers 202" || bad "the first request answered '$first'"
ticket=$(section '^cat ticket.json')
case "$ticket" in *'"ticket":"'*'"status":"pending"'*) ok "with a pending ticket: $ticket" ;; *) bad "no ticket: $ticket" ;; esac
done_=$(section 'v1/tickets/')
grep "^u_7," "$EX/reference.csv" | cut -d, -f2- | tr ',' '\n' >"$T/want"
scores() { echo "$1" | sed -n 's/.*"scores":\[\([^]]*\)\].*/\1/p' | tr ',' '\n'; }
case "$done_" in *'"status":"done"'*'"key":"u_7"'*) ok "the ticket's long poll answers done for u_7" ;; *) bad "ticket poll: $done_" ;; esac
scores "$done_" >"$T/got"
if r=$(close_all "$T/got" "$T/want" 1e-5); then ok "the ticket's scores are scikit-learn's predict_proba for u_7 ($r)"; else bad "ticket scores: $r"; fi
again=$(section 'w .* %\{http_code\}')
case "$again" in *'"source":"stream"'*' 200') ok "the same request again: 200 from the store, source stream" ;; *) bad "the second request: $again" ;; esac
scores "$again" >"$T/got2"
if r=$(close_all "$T/got2" "$T/want" 1e-5); then ok "the stored prediction is scikit-learn's ($r)"; else bad "stored scores: $r"; fi
finish
