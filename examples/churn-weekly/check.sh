#!/bin/sh
# examples/churn-weekly/check.sh: runs the README's "Run it" block (batch into SQLite, the
# published run copied into Redis, the backend's reads) against the test Redis, then reads every
# customer back from Redis and compares segment and p_at_risk with scikit-learn's (reference.csv,
# from make_model.py). No test Redis (MLSHIP_TEST_REDIS_URL) or no jq/redis-cli: skipped.
# Usage: sh examples/churn-weekly/check.sh [path/to/mlship]
. "$(dirname "$0")/../lib.sh"
ex_setup churn-weekly "$@"
[ -n "${MLSHIP_TEST_REDIS_URL:-}" ] || { skip "no test Redis (MLSHIP_TEST_REDIS_URL; scripts/services.sh start)"; finish; }
for t in jq redis-cli; do command -v $t >/dev/null || { skip "$t is not installed (scripts/deps.sh test)"; finish; }; done
R=$MLSHIP_TEST_REDIS_URL
redis-cli -u "$R" --scan --pattern 'churn:*' | xargs -r redis-cli -u "$R" DEL >/dev/null   # a clean start
if run_readme "s#redis://127.0.0.1:6379/0#$R#g"; then ok "the README's commands ran"; else bad "the README's commands failed"; show_failure; finish; fi

case "$(section 'mlship batch')" in *"500 rows scored, 0 rejected"*published*) ok "the batch run scored 500 customers and was published" ;;
  *) bad "batch said: $(section 'mlship batch')" ;; esac
n=$(redis-cli -u "$R" --scan --pattern 'churn:*' | wc -l)
[ "$n" -eq 500 ] && ok "Redis holds one hash per customer (500)" || bad "Redis holds $n churn:* hashes, want 500"

# every customer, read back from Redis in one call (features get: one pipelined HMGET per key)
keys=$(tail -n +2 "$EX/reference.csv" | cut -d, -f1)
# shellcheck disable=SC2086
mlship features get --store "$R" --table churn --key customer_id --columns segment,p_at_risk $keys >"$T/got.jsonl" 2>"$T/gerr" ||
  bad "features get from Redis: $(cat "$T/gerr")"
sed -n 's/.*"found": true, "features": \[\([^,]*\), *\([^]]*\)\].*/\1 \2/p' "$T/got.jsonl" >"$T/got"
tail -n +2 "$EX/reference.csv" | awk -F, '{ print $2, $5 }' >"$T/want"
cut -d' ' -f1 "$T/got" >"$T/gs"; cut -d' ' -f1 "$T/want" >"$T/ws"
if [ "$(wc -l <"$T/gs")" -eq 500 ] && cmp -s "$T/gs" "$T/ws"; then ok "every customer's segment in Redis is scikit-learn's predict (500 of 500)"
else bad "segments in Redis differ from scikit-learn's: $(wc -l <"$T/gs") read, $(paste -d' ' "$T/gs" "$T/ws" | awk '$1 != $2' | wc -l) differ"; fi
cut -d' ' -f2 "$T/got" >"$T/gp"; cut -d' ' -f2 "$T/want" >"$T/wp"
if r=$(close_all "$T/gp" "$T/wp" 1e-5); then ok "every customer's p_at_risk in Redis is scikit-learn's predict_proba ($r)"; else bad "p_at_risk: $r"; fi

# the backend's two reads, as the README shows them
[ "$(section 'HGET churn:c_2 segment')" = "$(grep '^c_2,' "$EX/reference.csv" | cut -d, -f2)" ] &&
  ok "HGET churn:c_2 segment answers scikit-learn's segment" || bad "HGET churn:c_2 segment: '$(section 'HGET churn:c_2')'"
section 'HGETALL churn:c_14' >"$T/hgetall"
sed -n '/^\$ redis-cli HGETALL churn:c_14/,/^```/p' "$EX/README.md" | sed '1d;$d' >"$T/shown"
if cmp -s "$T/hgetall" "$T/shown"; then ok "HGETALL churn:c_14 prints what the README shows"
else bad "HGETALL churn:c_14 printed: $(tr '\n' ' ' <"$T/hgetall"); README: $(tr '\n' ' ' <"$T/shown")"; fi
redis-cli -u "$R" --scan --pattern 'churn:*' | xargs -r redis-cli -u "$R" DEL >/dev/null
finish
