#!/bin/sh
# test_serve_batch.sh: `mlship serve` answering published batch predictions (issue 5 section 3)
# and running scheduled batch jobs itself, over real HTTP (curl):
#   GET /v1/models/M/predictions/KEY (200, 404), POST /v1/models/M/predictions {"keys": [..]},
#   the same JSON as `mlship lookup`, errors; a config.json "batch" schedule and
#   `--schedule/--batch-input/--batch-key` firing and publishing, state in /metrics; with
#   PostgreSQL too when MLSHIP_TEST_PG_URL is set (else counted as skipped).
# The schedule tests use the test-only fast clock (--test-minute-ms 1000: a cron minute lasts
# one second, so "* * * * *" fires every second); one check reads the real clock's next fire.
# Usage: sh tests/serve/test_serve_batch.sh [path/to/mlship]
# Ends with "N passed, N failed, N skipped".
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
case "$M" in /*) ;; *) M="$PWD/$M" ;; esac
FRAUD=$PWD/examples/fraud/model.onnx
[ -f build/services.env ] && [ -z "$MLSHIP_TEST_PG_URL" ] && . ./build/services.env
T=$(mktemp -d) || exit 2
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0; skip=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
skipped() { skip=$((skip + 1)); echo "SKIP $*"; }
show() { sed 's/^/    | /' "$1" | head -n 8; }

for tool in curl sqlite3; do
  command -v $tool >/dev/null || { echo "FAIL $tool is not installed"; echo "0 passed, 1 failed"; exit 1; }
done
[ -x "$M" ] || { echo "FAIL no $M"; echo "0 passed, 1 failed"; exit 1; }

start() { # NAME ARGS... : sets PORT, PID, U
  _n=$1; shift
  "$M" serve --port 0 --poll-ms 200 "$@" >"$T/$_n.log" 2>&1 &
  PID=$!; PIDS="$PIDS $PID"; PORT=""
  for _i in $(seq 1 100); do
    PORT=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$T/$_n.log" 2>/dev/null | head -n 1)
    [ -n "$PORT" ] && break
    kill -0 $PID 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$PORT" ]; then bad "$_n: server did not start"; show "$T/$_n.log"; return 1; fi
  U=http://127.0.0.1:$PORT
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
req() { # NAME WANT METHOD URL [curl args]
  _name=$1; _want=$2; _m=$3; _u=$4; shift 4
  _got=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$_m" "$@" "$_u")
  if [ "$_got" = "$_want" ]; then ok; else bad "$_name: HTTP $_got, expected $_want"; show "$T/body"; fi
}
has() { if grep -qiF -- "$3" "$T/$2"; then ok; else bad "$1: $2 lacks '$3'"; show "$T/$2"; fi; }
# wait_metric URL PATTERN SECONDS: until /metrics has a line matching PATTERN (grep -E)
wait_metric() {
  _end=$(($(date +%s) + $3))
  while [ "$(date +%s)" -le $_end ]; do
    curl -s "$1/metrics" >"$T/metrics"; grep -qE -- "$2" "$T/metrics" && return 0; sleep 0.2
  done
  return 1
}

# ---- fixtures: a repository and a 40-row CSV (one bad row) ------------------------------------
R=$T/repo; mkdir -p "$R/fraud/1"; cp "$FRAUD" "$R/fraud/1/model.onnx"
awk 'BEGIN { srand(11); printf "id"; for (i = 0; i < 30; i++) printf ",f%d", i; print "";
  for (r = 1; r <= 40; r++) { printf "k_%d", r; for (i = 0; i < 30; i++) printf ",%.4f", rand() * 2 - 1; print "" } }' >"$T/in.csv"
{ cat "$T/in.csv"; printf 'k_bad,x'; for i in $(seq 1 29); do printf ',0'; done; echo; } >"$T/in_bad.csv"
DB=sqlite://$T/preds.db

# ---- a run published with `mlship batch`, looked up over HTTP ---------------------------------
"$M" batch --model "$R/fraud/1/model.onnx" --input "$T/in.csv" --key id --store "$DB" >"$T/batch.out" 2>&1
[ $? -eq 0 ] && grep -q "published" "$T/batch.out" && ok || { bad "mlship batch"; show "$T/batch.out"; }
start main --models "$R" --store "$DB" || exit 1
MAIN=$PID; MU=$U
req "GET prediction" 200 GET "$U/v1/models/fraud/predictions/k_7"
has "prediction fields" body '"key":"k_7","model":"fraud","model_version":"1","run_id":"'
has "prediction scored_at" body '"scored_at":"'
has "prediction outputs" body '"outputs":{"probability":['
has "prediction is JSON" hdr "Content-Type: application/json"
"$M" lookup --store "$DB" --model fraud k_7 >"$T/lookup.out" 2>&1
has "prediction source" body ',"source":"batch"}'
# the HTTP answer is mlship lookup's object plus its source
[ "$(sed 's/,"source":"batch"}$/}/' "$T/body")" = "$(cat "$T/lookup.out")" ] && ok || { bad "HTTP answer differs from mlship lookup"; show "$T/lookup.out"; show "$T/body"; }
req "unknown key: 404" 404 GET "$U/v1/models/fraud/predictions/nope"
has "unknown key message" body "no published prediction of model 'fraud' for key 'nope'"
req "unknown model: 404" 404 GET "$U/v1/models/other/predictions/k_7"
has "unknown model message" body "model 'other' has no published run in the prediction store"
req "unknown model, POST: 404" 404 POST "$U/v1/models/other/predictions" -d '{"keys":["k_1"]}'
has "unknown model, POST message" body "has no published run"
req "POST many keys" 200 POST "$U/v1/models/fraud/predictions" -d '{"keys":["k_1","nope","k_40",12]}'
has "POST shape" body '{"model":"fraud","predictions":[{"key":"k_1","model":"fraud"'
has "POST unknown key" body '{"key":"nope","found":false}'
has "POST integer key" body '{"key":"12","found":false}'
n=$(grep -o '"run_id"' "$T/body" | wc -l); [ "$n" -eq 2 ] && ok || bad "POST: expected 2 found predictions, got $n"
req "POST malformed" 400 POST "$U/v1/models/fraud/predictions" -d '{"keys":'
req "POST keys not an array" 400 POST "$U/v1/models/fraud/predictions" -d '{"keys":"k_1"}'
req "POST empty keys" 400 POST "$U/v1/models/fraud/predictions" -d '{"keys":[]}'
req "POST bad key type" 400 POST "$U/v1/models/fraud/predictions" -d '{"keys":[{"a":1}]}'
has "bad key message" body "keys[0] must be a string or an integer"
req "GET on the POST route: 405" 405 GET "$U/v1/models/fraud/predictions"
has "405 Allow" hdr "Allow: POST"
req "bad model name" 400 GET "$U/v1/models/a%24b/predictions/k_1"
# a newer run is served at once after it is published
"$M" batch --model "$R/fraud/1/model.onnx" --input "$T/in.csv" --key id --store "$DB" --json >"$T/batch2.out" 2>/dev/null
run2=$(sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' "$T/batch2.out")
req "GET after a second run" 200 GET "$U/v1/models/fraud/predictions/k_7"
has "second run served" body "\"run_id\":\"$run2\""
curl -s "$U/metrics" >"$T/metrics"
grep -q 'mlship_requests_total{model="fraud",route="predictions",status="200"}' "$T/metrics" && ok || bad "predictions counted in /metrics"
start nostore --models "$R" || exit 1
req "no --store: 404 with the reason" 404 GET "$U/v1/models/fraud/predictions/k_7"
has "no store message" body "start the server with --store"
stop $PID
# a store file that does not exist: 404 naming it, and lookups do not create it
start nofile --models "$R" --store "sqlite://$T/none.db" || exit 1
req "missing store file: 404" 404 GET "$U/v1/models/fraud/predictions/k_7"
has "missing store file message" body "model 'fraud' has no published run in the prediction store"
[ ! -e "$T/none.db" ] && ok || bad "a lookup created the missing store file"
stop $PID
start tok --models "$R" --store "$DB" --api-token t0k || exit 1
req "API token guards predictions" 401 GET "$U/v1/models/fraud/predictions/k_7"
req "with the token" 200 GET "$U/v1/models/fraud/predictions/k_7" -H "Authorization: Bearer t0k"
stop $PID
stop $MAIN

# ---- scheduling from config.json (fast clock) ---------------------------------------------------
R2=$T/repo2; mkdir -p "$R2/sched/1"; cp "$FRAUD" "$R2/sched/1/model.onnx"
printf '{"batch":{"schedule":"* * * * *","input":"%s","key":"id","threads":2,"chunk":16}}' "$T/in_bad.csv" >"$R2/sched/config.json"
start sched --models "$R2" --store "sqlite://$T/sched.db" --test-minute-ms 1000 || exit 1
if wait_metric "$U" '^mlship_batch_runs_total\{model="sched",status="published"\} [1-9]' 10; then ok; else bad "config.json schedule did not publish within 10 s"; show "$T/sched.log"; fi
has "metrics: last status" metrics 'mlship_batch_last_run_status{model="sched",status="published"} 1'
has "metrics: rows scored" metrics 'mlship_batch_last_run_rows_scored{model="sched"} 40'
has "metrics: rows rejected" metrics 'mlship_batch_last_run_rows_rejected{model="sched"} 1'
has "metrics: duration" metrics 'mlship_batch_last_run_duration_seconds{model="sched"}'
has "metrics: next fire time" metrics 'mlship_batch_next_run_timestamp_seconds{model="sched"}'
has "metrics: running gauge" metrics 'mlship_batch_running{model="sched"}'
req "scheduled run served" 200 GET "$U/v1/models/sched/predictions/k_3"
has "scheduled run served" body '"model":"sched","model_version":"1"'
grep -q "model 'sched': scheduled batch run .* published" "$T/sched.log" && ok || bad "scheduled run logged"
# one at a time: the runs never overlap (each start is followed by its end before the next)
awk '/scheduled batch run starts/ { if (open) bad = 1; open = 1 } /scheduled batch run .* (published|failed)/ { open = 0 } END { exit bad }' "$T/sched.log" && ok || bad "scheduled runs overlapped"
# hot reload: removing the batch block stops the schedule
echo '{}' >"$T/cfg"; mv "$T/cfg" "$R2/sched/config.json"
sleep 1
n1=$(grep -c "scheduled batch run starts" "$T/sched.log"); sleep 2.5; n2=$(grep -c "scheduled batch run starts" "$T/sched.log")
[ "$n1" -eq "$n2" ] && ok || bad "schedule removed from config.json, but runs went on ($n1 -> $n2)"
stop $PID

# ---- a scheduled run binds columns by config.json's features.columns ---------------------------
# The input has the 30 features in reverse order: bound by name, the run must publish what
# `mlship batch` publishes for the file in model order on the same model file outside the
# repository (no config.json there: bound by position). Bound by position, the answers differ.
awk -F, -v OFS=, '{ printf "%s", $1; for (i = NF; i >= 2; i--) printf ",%s", $i; print "" }' "$T/in.csv" >"$T/in_rev.csv"
R5=$T/repo5; mkdir -p "$R5/bynm/1"; cp "$FRAUD" "$R5/bynm/1/model.onnx"
"$M" features load --store "sqlite://$T/bn.db" --table feats --key id "$T/in.csv" >"$T/fl.out" 2>&1 || { bad "features load for bynm"; show "$T/fl.out"; }
cols=$(head -n 1 "$T/in.csv" | cut -d, -f2- | sed 's/\([^,]*\)/"\1"/g')
printf '{"features":{"table":"feats","key":"id","columns":[%s]},"batch":{"schedule":"* * * * *","input":"%s","key":"id"}}' \
  "$cols" "$T/in_rev.csv" >"$R5/bynm/config.json"
start bynm --models "$R5" --store "sqlite://$T/bn.db" --test-minute-ms 1000 || exit 1
if wait_metric "$U" '^mlship_batch_runs_total\{model="bynm",status="published"\} [1-9]' 10; then ok; else bad "bynm: no scheduled run published"; show "$T/bynm.log"; fi
stop $PID
"$M" batch --model "$FRAUD" --name ref --input "$T/in.csv" --key id --store "sqlite://$T/bn.db" >"$T/ref.out" 2>&1 || { bad "reference batch"; show "$T/ref.out"; }
"$M" lookup --store "sqlite://$T/bn.db" --model bynm --all | sed 's/"run_id":"[^"]*"//; s/"scored_at":"[^"]*"//; s/"model":"[^"]*"//; s/"model_version":"[^"]*"//' | sort >"$T/bn_sched"
"$M" lookup --store "sqlite://$T/bn.db" --model ref --all | sed 's/"run_id":"[^"]*"//; s/"scored_at":"[^"]*"//; s/"model":"[^"]*"//; s/"model_version":"[^"]*"//' | sort >"$T/bn_ref"
if [ -s "$T/bn_ref" ] && [ "$(wc -l <"$T/bn_sched")" -eq 40 ] && cmp -s "$T/bn_sched" "$T/bn_ref"; then ok
else bad "scheduled run with reversed columns differs from the run in model order"; show "$T/bn_sched"; show "$T/bn_ref"; fi

# ==== missing values in a scheduled job (issue 9 item 2): config.json "missing" applies ======
# A tree model with NaN directions (scikit-learn HGB): "missing": "nan" scores the NaN rows as
# scikit-learn did (output_1.npy); without it those rows are rejected, never published.
PY=/usr/bin/python3
if [ -x "$PY" ]; then
  HGB=$PWD/tests/fixtures/ml/sk_hgb_clf_nan
  R4=$T/repo4; mkdir -p "$R4/hgbs/1" "$R4/hgbr/1"
  cp "$HGB/model.onnx" "$R4/hgbs/1/model.onnx"; cp "$HGB/model.onnx" "$R4/hgbr/1/model.onnx"
  $PY tests/batch/npy_rows.py csv "$HGB/input_0.npy" "$T/hgb.csv"
  HNAN=$($PY tests/batch/npy_rows.py nanrows "$HGB/input_0.npy")
  printf '{"missing":"nan","batch":{"schedule":"* * * * *","input":"%s","key":"id"}}' "$T/hgb.csv" >"$R4/hgbs/config.json"
  printf '{"batch":{"schedule":"* * * * *","input":"%s","key":"id"}}' "$T/hgb.csv" >"$R4/hgbr/config.json"
  start schedm --models "$R4" --store "sqlite://$T/schedm.db" --test-minute-ms 1000 || exit 1
  if wait_metric "$U" '^mlship_batch_runs_total\{model="hgbr",status="published"\} [1-9]' 10 &&
     wait_metric "$U" '^mlship_batch_runs_total\{model="hgbs",status="published"\} [1-9]' 10; then ok
  else bad "missing: scheduled runs did not publish"; show "$T/schedm.log"; fi
  has "missing: opted in, all scored" metrics 'mlship_batch_last_run_rows_scored{model="hgbs"} 200'
  has "missing: default, NaN rows rejected" metrics "mlship_batch_last_run_rows_rejected{model=\"hgbr\"} $HNAN"
  req "missing: a NaN row's prediction" 200 GET "$U/v1/models/hgbs/predictions/r1"
  n=$($PY tests/batch/npy_rows.py compare "$T/body" probabilities "$HGB/output_1.npy" 2>&1)
  [ "$n" = 1 ] && ok || bad "missing: r1 (a NaN row) differs from scikit-learn: $n"
  req "missing: not published without opting in" 404 GET "$U/v1/models/hgbr/predictions/r1"
  stop $PID
else
  skipped "missing: scheduled job with NaN rows (no /usr/bin/python3)"
fi

# ---- --schedule on the command line ------------------------------------------------------------
"$M" serve --model "$FRAUD" --schedule "61 * * * *" --batch-input "$T/in.csv" --batch-key id >"$T/out" 2>&1
[ $? -eq 2 ] && grep -q "schedule" "$T/out" && ok || { bad "bad --schedule: exit 2 with a message"; show "$T/out"; }
"$M" serve --model "$FRAUD" --schedule "* * * * *" >"$T/out" 2>&1
[ $? -eq 2 ] && ok || bad "--schedule without --batch-input: exit 2"
"$M" serve --model "$FRAUD" --batch-key id >"$T/out" 2>&1
[ $? -eq 2 ] && ok || bad "--batch-key without --schedule: exit 2"
start cli --model "$FRAUD" --store "sqlite://$T/cli.db" --schedule "* * * * *" --batch-input "$T/in.csv" \
  --batch-key id --test-minute-ms 1000 || exit 1
if wait_metric "$U" '^mlship_batch_runs_total\{model="default",status="published"\} [1-9]' 10; then ok; else bad "--schedule did not publish within 10 s"; show "$T/cli.log"; fi
req "--schedule run served" 200 GET "$U/v1/models/default/predictions/k_40"
stop $PID
# the real clock: "* * * * *" next fires on a minute boundary within 60 s of the server's start
# (compared with the time before the start: read after it, "now" may already be that boundary)
before=$(date +%s)
start real --model "$FRAUD" --store "sqlite://$T/real.db" --schedule "* * * * *" --batch-input "$T/in.csv" --batch-key id || exit 1
sleep 0.3
nx=$(curl -s "$U/metrics" | sed -n 's/^mlship_batch_next_run_timestamp_seconds{model="default"} \([0-9]*\)/\1/p')
now=$(date +%s)
[ -n "$nx" ] && [ $((nx % 60)) -eq 0 ] && [ "$nx" -gt "$before" ] && [ "$nx" -le $((now + 60)) ] && ok ||
  bad "real clock: next fire $nx is not the next minute boundary after $before"
# SIGTERM with the scheduler idle: clean exit 0
kill -TERM $PID; wait $PID; rc=$?
[ $rc -eq 0 ] && ok || bad "exit status after SIGTERM with a scheduler: $rc"

# ---- PostgreSQL ---------------------------------------------------------------------------------
if [ -n "${MLSHIP_TEST_PG_URL:-}" ]; then
  "$M" batch --model "$R/fraud/1/model.onnx" --input "$T/in.csv" --key id --name fraud_srv_pg \
    --store "$MLSHIP_TEST_PG_URL" >"$T/pg.out" 2>&1 && ok || { bad "mlship batch into PostgreSQL"; show "$T/pg.out"; }
  start pg --models "$R" --store "$MLSHIP_TEST_PG_URL" || exit 1
  req "PostgreSQL: GET prediction" 200 GET "$U/v1/models/fraud_srv_pg/predictions/k_9"
  "$M" lookup --store "$MLSHIP_TEST_PG_URL" --model fraud_srv_pg k_9 >"$T/lookup.pg" 2>&1
  [ "$(sed 's/,"source":"batch"}$/}/' "$T/body")" = "$(cat "$T/lookup.pg")" ] && ok || { bad "PostgreSQL: HTTP differs from mlship lookup"; show "$T/body"; }
  req "PostgreSQL: unknown key" 404 GET "$U/v1/models/fraud_srv_pg/predictions/nope"
  req "PostgreSQL: POST keys" 200 POST "$U/v1/models/fraud_srv_pg/predictions" -d '{"keys":["k_1","k_2","x"]}'
  n=$(grep -o '"run_id"' "$T/body" | wc -l); [ "$n" -eq 2 ] && ok || bad "PostgreSQL POST: 2 found expected, got $n"
  stop $PID
  mkdir -p "$T/repo3/pgsched/1"; cp "$FRAUD" "$T/repo3/pgsched/1/model.onnx"
  printf '{"batch":{"schedule":"* * * * *","input":"%s","key":"id"}}' "$T/in.csv" >"$T/repo3/pgsched/config.json"
  start pgsched --models "$T/repo3" --store "$MLSHIP_TEST_PG_URL" --test-minute-ms 1000 || exit 1
  if wait_metric "$U" '^mlship_batch_runs_total\{model="pgsched",status="published"\} [1-9]' 15; then ok; else bad "PostgreSQL schedule did not publish"; show "$T/pgsched.log"; fi
  req "PostgreSQL: scheduled run served" 200 GET "$U/v1/models/pgsched/predictions/k_5"
  stop $PID
else
  skipped "PostgreSQL: MLSHIP_TEST_PG_URL is not set (tests/run_all.sh starts one through scripts/services.sh)"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
