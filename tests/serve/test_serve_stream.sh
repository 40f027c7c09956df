#!/bin/sh
# test_serve_stream.sh: the streaming flow of `mlship serve` (issue 11 sections 4 to 6) over real
# HTTP (curl), the whole one-machine deployment:
#   mlship serve --models DIR --store sqlite://s.db --queue sqlite://q.db --stream-workers 1
# POST /v1/models/M/predictions/KEY -> 202 + ticket -> GET /v1/tickets/T?wait_ms=N -> 200 with
# outputs equal to the framework's reference output for that key's features (the fixtures the
# matrix suite uses: an ONNX net, an ONNX-ML classifier with a label map, an XGBoost JSON
# model; numbers judged by tests/matrix/mxtool.c); a second trigger -> 200 from the store with
# source "stream"; a fresher batch run -> 200 source "batch"; max_age_s 0 and a version change
# -> 202; 1,000 concurrent triggers for one key -> one ticket and one event on the queue; a
# ticket surviving a server restart (and scored by the worker of the next server); long-polls
# not holding the only HTTP thread; backpressure 503 + Retry-After; a failed ticket with its
# reason; unknown ticket 404; no --queue -> 501. Then the same flow with queue and store both on
# Redis (MLSHIP_TEST_REDIS_URL), the queue on NATS JetStream (MLSHIP_TEST_NATS), and the store on
# PostgreSQL (MLSHIP_TEST_PG_URL); each counted as skipped when its variable is unset.
# Usage: sh tests/serve/test_serve_stream.sh [path/to/mlship]   Ends with "N passed, N failed, N skipped".
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
BLD=$(dirname "$M")
case "$M" in /*) ;; *) M="$PWD/$M" ;; esac
ROOT=$PWD
[ -f build/services.env ] && [ -z "$MLSHIP_TEST_REDIS_URL$MLSHIP_TEST_PG_URL$MLSHIP_TEST_NATS" ] && . ./build/services.env
T=$(mktemp -d) || exit 2
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0; skip=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
skipped() { skip=$((skip + 1)); echo "SKIP $*"; }
show() { { cat "$1"; echo; } | sed "s/^/    | /" | head -n 8; }

for tool in curl sqlite3 xargs; do
  command -v $tool >/dev/null || { echo "FAIL $tool is not installed"; echo "0 passed, 1 failed"; exit 1; }
done
[ -x "$M" ] || { echo "FAIL no $M"; echo "0 passed, 1 failed"; exit 1; }
X=$T/mxtool
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O1 -Iinclude -Isrc -o "$X" tests/matrix/mxtool.c \
  "$BLD/libmlship_codec.a" "$BLD/libmlship_base.a" "$BLD/libmlship.a" -lcjson -lm >"$T/cc.log" 2>&1 ||
  { echo "FAIL cannot build tests/matrix/mxtool.c"; show "$T/cc.log"; echo "0 passed, 1 failed"; exit 1; }

start() { # NAME ARGS... : sets PORT, PID, U
  _n=$1; shift
  "$M" serve --port 0 --poll-ms 200 "$@" >"$T/$_n.log" 2>&1 &
  PID=$!; PIDS="$PIDS $PID"; PORT=""
  for _i in $(seq 1 200); do
    PORT=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$T/$_n.log" 2>/dev/null | head -n 1)
    [ -n "$PORT" ] && break
    kill -0 $PID 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$PORT" ]; then bad "$_n: server did not start"; show "$T/$_n.log"; return 1; fi
  U=http://127.0.0.1:$PORT
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
req() { # NAME WANT METHOD URL [curl args]: body in $T/body, headers in $T/hdr
  _name=$1; _want=$2; _m=$3; _u=$4; shift 4
  _got=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$_m" "$@" "$_u")
  if [ "$_got" = "$_want" ]; then ok; else bad "$_name: HTTP $_got, expected $_want"; show "$T/body"; fi
}
has() { if grep -qiF -- "$3" "$T/$2"; then ok; else bad "$1: $2 lacks '$3'"; show "$T/$2"; fi; }
ticket_of() { sed -n 's/.*"ticket":"\([^"]*\)".*/\1/p' "$T/body"; }

# ---- fixtures: three formats, their rows in a feature store --------------------------------
# id  model  input  outputs (NAME:REF:KIND as in tests/matrix/test_matrix.sh)
MODELS='
mlp           bench/models/mlp.onnx                          bench/models/mlp.X.npy                          output:bench/models/mlp.REF.npy:num
logreg_binary tests/fixtures/ml/logreg_binary/model.onnx     tests/fixtures/ml/logreg_binary/input_0.npy     label:tests/fixtures/ml/logreg_binary/output_0.npy:int probabilities:tests/fixtures/ml/logreg_binary/output_1.npy:map/0/1
xgb_binary    tests/fixtures/ml/xgb_binary_json/model.json   tests/fixtures/ml/xgb_binary_json/input_0.npy   probabilities:tests/fixtures/ml/xgb_binary_json/output_0.npy:num
'
R=$T/repo; FSTORE=sqlite://$T/features.db
echo "$MODELS" | while read -r id model in outs; do
  [ -n "$id" ] || continue
  rows=$("$X" rows "$in" 3) && "$X" emit csv "$in" "$rows" >"$T/$id.csv" || { echo "cannot prepare $id"; exit 1; }
  echo "$rows" >"$T/$id.rows"
  mkdir -p "$R/$id/1" && cp "$model" "$R/$id/1/model.${model##*.}"
  "$M" features load --store "$FSTORE" --table "t_$id" --key id -q "$T/$id.csv" >"$T/fl.out" 2>&1 || { cat "$T/fl.out"; exit 1; }
  cols=$(seq -s '","' -f 'f%g' 0 $(($("$X" cols "$in") - 1)))
  printf '{"features":{"store":"%s","table":"t_%s","key":"id","columns":["%s"]}}\n' "$FSTORE" "$id" "$cols" >"$R/$id/config.json"
done || { bad "fixtures"; # ---- 4b. NATS JetStream queue (SQLite store) -------------------------------------------------
if [ -z "$MLSHIP_TEST_NATS" ]; then
  skipped "NATS stream flow (MLSHIP_TEST_NATS unset)"
else
  NQ=nats://$MLSHIP_TEST_NATS/nev_$$; NS=sqlite://$T/sn.db
  start nats --models "$R" --store "$NS" --queue "$NQ" || exit 1
  NK=n_$$; NB="{\"features\":[$(sed -n "s/^k_$r0,//p" "$T/mlp.csv")]}"
  req "nats: trigger" 202 POST "$U/v1/models/mlp/predictions/$NK" -d "$NB"
  NT=$(ticket_of)
  mkdir "$T/nhot"
  seq 200 | xargs -P 16 -I{} curl -s -X POST -o "$T/nhot/{}" -d "$NB" "$U/v1/models/mlp/predictions/$NK"
  nt=$(cat "$T/nhot"/* | grep -o '"ticket":"[^"]*"' | sort -u)
  [ "$nt" = "\"ticket\":\"$NT\"" ] && ok || bad "nats: concurrent triggers got other tickets: $(echo "$nt" | head -n 3)"
  # the stream as the server reports it (raw protocol, not libnats): one event for 201 triggers
  python3 tests/unit/queue/nats_req.py "${MLSHIP_TEST_NATS%:*}" "${MLSHIP_TEST_NATS##*:}" "\$JS.API.STREAM.INFO.nev_$$" >"$T/nsi.json" 2>&1
  has "nats: 201 triggers for one key, one event on the stream" nsi.json '"messages":1,'
  stop $PID
  start nats2 --models "$R" --store "$NS" --queue "$NQ" --stream-workers 1 || exit 1
  req "nats: ticket after restart" 200 GET "$U/v1/tickets/$NT?wait_ms=10000"
  has "nats: done" body '"status":"done"'
  cat "$T/body" >"$T/n.done"; echo >>"$T/n.done"
  "$X" check --rtol 1e-5 --lines bench/models/mlp.REF.npy "$r0" "$T/n.done" "*.outputs.output" >"$T/j.out" 2>&1 &&
    ok || bad "nats: outputs: $(cat "$T/j.out")"
  req "nats: from the store" 200 POST "$U/v1/models/mlp/predictions/$NK"
  has "nats: source stream" body '"source":"stream"'
  stop $PID
fi

# ---- 5. PostgreSQL store (embedded queue): tickets and results in SQL ------------------------
if [ -z "$MLSHIP_TEST_PG_URL" ]; then
  skipped "PostgreSQL stream flow (MLSHIP_TEST_PG_URL unset)"
else
  start pg --models "$R" --store "$MLSHIP_TEST_PG_URL" --queue "sqlite://$T/qpg.db" --stream-workers 1 || exit 1
  PK=p_$$; PB="{\"features\":[$(sed -n "s/^k_$r0,//p" "$T/mlp.csv")]}"
  req "pg: trigger" 202 POST "$U/v1/models/mlp/predictions/$PK" -d "$PB"
  t=$(ticket_of)
  req "pg: long-poll" 200 GET "$U/v1/tickets/$t?wait_ms=10000"
  cat "$T/body" >"$T/p.done"; echo >>"$T/p.done"
  "$X" check --rtol 1e-5 --lines bench/models/mlp.REF.npy "$r0" "$T/p.done" "*.outputs.output" >"$T/j.out" 2>&1 &&
    ok || bad "pg: outputs: $(cat "$T/j.out")"
  req "pg: from the store" 200 POST "$U/v1/models/mlp/predictions/$PK"
  has "pg: source stream" body '"source":"stream"'
  stop $PID
fi

echo "$pass passed, $fail failed, $skip skipped"; exit 1; }
# a model for backpressure: at most 1 unscored event before triggers are refused
mkdir -p "$R/bp/1" && cp bench/models/mlp.onnx "$R/bp/1/model.onnx"
cols=$(seq -s '","' -f 'f%g' 0 63)
printf '{"features":{"store":"%s","table":"t_mlp","key":"id","columns":["%s"]},"stream":{"max_pending":1,"wait_ms_max":500}}\n' \
  "$FSTORE" "$cols" >"$R/bp/config.json"

# judge ID ANSWERS: the JSON lines of ANSWERS (one per key of ID's rows, in order) hold outputs
# equal to the reference rows
judge() {
  _id=$1 _got=$2
  _line=$(echo "$MODELS" | grep "^$_id ")
  _rows=$(cat "$T/$_id.rows")
  for _o in $(echo "$_line" | awk '{ for (i = 4; i <= NF; i++) print $i }'); do
    _name=${_o%%:*}; _r=${_o#*:}; _ref=${_r%%:*}; _kind=${_r#*:}
    _labels=$(echo "$_kind" | cut -s -d/ -f2- | tr / ,)
    set --
    [ "${_kind%%/*}" = map ] && set -- --labels "$_labels"
    "$X" check --rtol 1e-5 "$@" --lines "$_ref" "$_rows" "$_got" "*.outputs.$_name" >"$T/judge.out" 2>&1 ||
      { echo "$_id output $_name: $(head -c 400 "$T/judge.out")"; return 1; }
  done
}

# ---- 1. no --queue: the routes say streaming is off; bad flags ------------------------------
start plain --models "$R" --store "sqlite://$T/s.db" || exit 1
req "no --queue: trigger" 501 POST "$U/v1/models/mlp/predictions/k_0"
has "no --queue message" body "streaming is not configured on this server: start it with --queue URL"
req "no --queue: ticket" 501 GET "$U/v1/tickets/tk-1"
stop $PID
"$M" serve --models "$R" --port 0 --queue "sqlite://$T/q.db" >"$T/noq.log" 2>&1
[ $? -eq 2 ] && grep -q -- "--queue needs --store" "$T/noq.log" && ok || { bad "--queue without --store: exit 2"; show "$T/noq.log"; }
"$M" serve --models "$R" --port 0 --store "sqlite://$T/s.db" --stream-workers 1 >"$T/now.log" 2>&1
[ $? -eq 2 ] && grep -q -- "--stream-workers needs --queue" "$T/now.log" && ok || { bad "--stream-workers without --queue"; show "$T/now.log"; }
timeout 10 "$M" serve --models "$R" --port 0 --store "sqlite://$T/s.db" --queue "ftp://nowhere/q" >"$T/badq.log" 2>&1
rc=$?; [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "ftp://nowhere/q" "$T/badq.log" && ok || { bad "bad --queue URL: exit $rc naming it"; show "$T/badq.log"; }
"$M" serve --help | grep -q -- "--stream-workers N" && ok || bad "serve --help lacks --stream-workers"

# ---- 2. a server without workers: tickets stay pending ---------------------------------------
Q=sqlite://$T/q.db; S=sqlite://$T/s.db
start noworker --models "$R" --store "$S" --queue "$Q" --threads 1 || exit 1
req "trigger: 202" 202 POST "$U/v1/models/mlp/predictions/k_0"
has "trigger: pending" body '"status":"pending"'
TK=$(ticket_of)
has "trigger: Location" hdr "Location: /v1/tickets/$TK"
case $TK in tk-????????????????????????????????) ok ;; *) bad "ticket id '$TK'" ;; esac
req "ticket pending, no wait" 202 GET "$U/v1/tickets/$TK"
has "ticket pending body" body '"status":"pending"'
t0=$(date +%s%N)
req "ticket long-poll times out pending" 202 GET "$U/v1/tickets/$TK?wait_ms=400"
el=$((($(date +%s%N) - t0) / 1000000))
[ $el -ge 350 ] && [ $el -lt 3000 ] && ok || bad "long-poll of 400 ms took $el ms"
# long-polls hold no thread: with --threads 1 and five waiting, the server still answers at once
LP=""
for i in 1 2 3 4 5; do curl -s -o /dev/null "$U/v1/tickets/$TK?wait_ms=2500" & LP="$LP $!"; done
sleep 0.3
t0=$(date +%s%N)
req "live while long-polls wait" 200 GET "$U/v2/health/live"
el=$((($(date +%s%N) - t0) / 1000000))
[ $el -lt 500 ] && ok || bad "health took $el ms while long-polls waited (threads held?)"
curl -s "$U/metrics" >"$T/metrics"
grep -q '^mlship_stream_ticket_waiters [1-9]' "$T/metrics" && ok || { bad "waiters gauge"; grep stream "$T/metrics"; }
for p in $LP; do wait "$p"; done
req "unknown ticket: 404" 404 GET "$U/v1/tickets/tk-0000"
has "unknown ticket message" body "unknown or expired ticket 'tk-0000'"
req "malformed ticket: 404" 404 GET "$U/v1/tickets/a%20b"
req "bad wait_ms" 400 GET "$U/v1/tickets/$TK?wait_ms=soon"
req "bad body" 400 POST "$U/v1/models/mlp/predictions/k_0" -d '{"features":'
req "unknown body key" 400 POST "$U/v1/models/mlp/predictions/k_0" -d '{"feature":[1]}'
has "unknown body key message" body 'unknown key \"feature\"'
req "bad max_age_s" 400 POST "$U/v1/models/mlp/predictions/k_0" -d '{"max_age_s":-1}'
req "unknown model: 404" 404 POST "$U/v1/models/nope/predictions/k_0"
# 1,000 concurrent triggers for one key: one ticket, one event
# (each answer to its own file: parallel writers to one pipe would interleave)
mkdir "$T/hot"
seq 1000 | xargs -P 32 -I{} curl -s -X POST -o "$T/hot/{}" -w '%{http_code}\n' "$U/v1/models/mlp/predictions/k_1" >"$T/hot.codes"
n202=$(grep -c '^202$' "$T/hot.codes")
cat "$T/hot"/* | grep -o '"ticket":"[^"]*"' | sort -u >"$T/hot.tickets"
nt=$(wc -l <"$T/hot.tickets")
[ "$n202" -eq 1000 ] && ok || { bad "1000 triggers: $n202 answered 202"; sort "$T/hot.codes" | uniq -c; }
[ "$nt" -eq 1 ] && ok || bad "1000 triggers for one key: $nt tickets"
HOT=$(sed 's/.*:"\(.*\)"/\1/' "$T/hot.tickets" | head -n 1)
ne=$(sqlite3 "$T/q.db" "select count(*) from mlship_queue where body like '%\"key\":\"k_1\"%'" 2>&1)
[ "$ne" = 1 ] && ok || bad "1000 triggers for one key: $ne events on the queue"
curl -s "$U/metrics" >"$T/metrics"
grep -q '^mlship_stream_tickets_coalesced_total 9[0-9][0-9]$' "$T/metrics" && ok || { bad "coalesced counter"; grep '^mlship_stream' "$T/metrics"; }
# backpressure: model bp refuses once more than 1 event waits (two are on the queue already)
sleep 0.2
req "backpressure: 503" 503 POST "$U/v1/models/bp/predictions/k_2"
has "backpressure Retry-After" hdr "Retry-After: 1"
has "backpressure names the queue" body "queue sqlite://$T/q.db holds"
curl -s "$U/metrics" | grep -q '^mlship_stream_triggers_rejected_total 1$' && ok || bad "rejected counter"
# features in the body that the model cannot take: the ticket fails later with the reason
req "bad features: 202" 202 POST "$U/v1/models/mlp/predictions/k_bad" -d '{"features":[1,2,3]}'
BADT=$(ticket_of)
stop $PID

# ---- 3. the one-machine deployment: the same queue and store, one embedded worker -----------
start main --models "$R" --store "$S" --queue "$Q" --stream-workers 1 || exit 1
# the ticket of the first server survives the restart, and this server's worker scores its event
req "ticket after restart" 200 GET "$U/v1/tickets/$HOT?wait_ms=10000"
has "restart ticket done" body '"status":"done"'
has "restart ticket key" body '"key":"k_1"'
req "failed ticket" 200 GET "$U/v1/tickets/$BADT?wait_ms=10000"
has "failed status" body '"status":"failed"'
grep -q '"error":"[^"]' "$T/body" && ok || { bad "failed ticket has no reason"; show "$T/body"; }
for id in mlp logreg_binary xgb_binary; do
  : >"$T/$id.done"; : >"$T/$id.again"; : >"$T/$id.get"
  for r in $(tr , ' ' <"$T/$id.rows"); do
    k=k_$r
    # max_age_s 0: a new event even for the keys section 2 left on the queue (scored by now)
    req "$id $k: trigger" 202 POST "$U/v1/models/$id/predictions/$k" -d '{"max_age_s":0}'
    t=$(ticket_of)
    req "$id $k: long-poll" 200 GET "$U/v1/tickets/$t?wait_ms=10000"
    grep -q '"status":"done"' "$T/body" && ok || { bad "$id $k: not done"; show "$T/body"; }
    cat "$T/body" >>"$T/$id.done"; echo >>"$T/$id.done"
    req "$id $k: again, from the store" 200 POST "$U/v1/models/$id/predictions/$k"
    has "$id $k: source stream" body '"source":"stream"'
    has "$id $k: model version" body '"model_version":"1"'
    cat "$T/body" >>"$T/$id.again"; echo >>"$T/$id.again"
    req "$id $k: GET" 200 GET "$U/v1/models/$id/predictions/$k"
    has "$id $k: GET source" body '"source":"stream"'
    cat "$T/body" >>"$T/$id.get"; echo >>"$T/$id.get"
  done
  for f in done again get; do
    why=$(judge "$id" "$T/$id.$f") && ok || bad "$id ($f answers) against the reference: $why"
  done
done
# the judge can fail: mlp's answers against logreg's reference rows
why=$(judge logreg_binary "$T/mlp.done") && bad "the judge accepted the wrong model's outputs" || ok
r0=$(cut -d, -f1 "$T/mlp.rows")
req "features in the body" 202 POST "$U/v1/models/mlp/predictions/k_body" \
  -d "{\"features\":[$(sed -n "s/^k_$r0,//p" "$T/mlp.csv")]}"
t=$(ticket_of)
req "features in the body: done" 200 GET "$U/v1/tickets/$t?wait_ms=10000"
cat "$T/body" >"$T/body.lines"; echo >>"$T/body.lines"
"$X" check --rtol 1e-5 --lines bench/models/mlp.REF.npy "$r0" "$T/body.lines" "*.outputs.output" >"$T/j.out" 2>&1 &&
  ok || bad "features in the body: $(cat "$T/j.out")"
# max_age_s 0: never fresh enough
req "max_age_s 0: 202" 202 POST "$U/v1/models/mlp/predictions/k_0" -d '{"max_age_s":0}'
t=$(ticket_of); curl -s -o /dev/null "$U/v1/tickets/$t?wait_ms=10000"
# a batch run scored later than the stream results answers, source batch
sleep 1.1
"$M" batch --model "$R/xgb_binary/1/model.json" --input "$T/xgb_binary.csv" --key id --name xgb_binary \
  --model-version 1 --store "$S" >"$T/batch.out" 2>&1 && ok || { bad "mlship batch"; show "$T/batch.out"; }
: >"$T/xgb_binary.batch"
for r in $(tr , ' ' <"$T/xgb_binary.rows"); do
  req "batch row k_$r" 200 POST "$U/v1/models/xgb_binary/predictions/k_$r"
  has "batch row source" body '"source":"batch"'
  cat "$T/body" >>"$T/xgb_binary.batch"; echo >>"$T/xgb_binary.batch"
done
why=$(judge xgb_binary "$T/xgb_binary.batch") && ok || bad "batch answers against the reference: $why"
# a new version: the stored rows of version 1 are stale
mkdir -p "$R/logreg_binary/2" && cp tests/fixtures/ml/logreg_binary/model.onnx "$R/logreg_binary/2/model.onnx"
for i in $(seq 1 50); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$U/v2/models/logreg_binary/versions/2/ready")" = 200 ] && break; sleep 0.1
done
k=k_$(cut -d, -f1 "$T/logreg_binary.rows")
req "new version: stale, 202" 202 POST "$U/v1/models/logreg_binary/predictions/$k"
t=$(ticket_of)
req "new version: scored" 200 GET "$U/v1/tickets/$t?wait_ms=10000"
has "new version: version 2" body '"model_version":"2"'
req "new version: fresh again" 200 POST "$U/v1/models/logreg_binary/predictions/$k"
curl -s "$U/metrics" >"$T/metrics"
grep -q '^mlship_stream_tickets_issued_total [1-9]' "$T/metrics" && ok || bad "issued counter"
grep -q '^mlship_stream_triggers_fresh_total [1-9]' "$T/metrics" && ok || bad "fresh counter"
grep -q 'mlship_requests_total{model="mlp",route="trigger",status="202"}' "$T/metrics" && ok || bad "trigger route label"
stop $PID; rc=$?
[ $rc -eq 0 ] && ok || { bad "serve with workers: exit $rc on SIGTERM"; show "$T/main.log"; }

# ---- 3b. retention: stream results and tickets older than --stream-retention are deleted ----
# (the server prunes when it starts and then once a minute)
start prune --models "$R" --store "sqlite://$T/prune.db" --queue "sqlite://$T/qprune.db" --stream-workers 1 --stream-retention 2 || exit 1
req "prune: trigger" 202 POST "$U/v1/models/mlp/predictions/k_0"
PT=$(ticket_of)
req "prune: scored" 200 GET "$U/v1/tickets/$PT?wait_ms=10000"
has "prune: scored" body '"status":"done"'
stop $PID
n1=$(sqlite3 "$T/prune.db" "select (select count(*) from mlship_stream_events) + (select count(*) from mlship_tickets)")
sleep 3
start prune2 --models "$R" --store "sqlite://$T/prune.db" --queue "sqlite://$T/qprune.db" --stream-retention 2 || exit 1
sleep 0.5
n2=$(sqlite3 "$T/prune.db" "select (select count(*) from mlship_stream_events) + (select count(*) from mlship_stream_latest) + (select count(*) from mlship_tickets)")
[ "$n1" -ge 2 ] && [ "$n2" -eq 0 ] && ok || bad "prune: rows before $n1 (want >= 2: result and ticket), after $n2 (want 0)"
req "prune: the pruned ticket is unknown" 404 GET "$U/v1/tickets/$PT"
stop $PID

# ---- 4. Redis: queue and store both redis:// ------------------------------------------------
if [ -z "$MLSHIP_TEST_REDIS_URL" ]; then
  skipped "Redis stream flow (MLSHIP_TEST_REDIS_URL unset)"
else
  HP=${MLSHIP_TEST_REDIS_URL#redis://}; HP=${HP%%/*}
  RS=redis://$HP/0; RQ=redis://$HP/ev_$$
  start redis --models "$R" --store "$RS" --queue "$RQ" || exit 1
  # a key of this run only (the Redis server outlives runs), with row r0's features in the body
  RK=r_$$; RB="{\"features\":[$(sed -n "s/^k_$r0,//p" "$T/mlp.csv")]}"
  req "redis: trigger" 202 POST "$U/v1/models/mlp/predictions/$RK" -d "$RB"
  RT=$(ticket_of)
  mkdir "$T/rhot"
  seq 200 | xargs -P 16 -I{} curl -s -X POST -o "$T/rhot/{}" -d "$RB" "$U/v1/models/mlp/predictions/$RK"
  nt=$(cat "$T/rhot"/* | grep -o '"ticket":"[^"]*"' | sort -u)
  [ "$nt" = "\"ticket\":\"$RT\"" ] && ok || bad "redis: concurrent triggers got other tickets: $(echo "$nt" | head -n 3)"
  if command -v redis-cli >/dev/null; then
    ne=$(redis-cli -u "$RS" xlen "ev_$$")
    [ "$ne" = 1 ] && ok || bad "redis: 201 triggers for one key: $ne events on stream ev_$$"
  fi
  stop $PID
  start redis2 --models "$R" --store "$RS" --queue "$RQ" --stream-workers 1 || exit 1
  req "redis: ticket after restart" 200 GET "$U/v1/tickets/$RT?wait_ms=10000"
  has "redis: done" body '"status":"done"'
  cat "$T/body" >"$T/r.done"; echo >>"$T/r.done"
  "$X" check --rtol 1e-5 --lines bench/models/mlp.REF.npy "$r0" "$T/r.done" "*.outputs.output" >"$T/j.out" 2>&1 &&
    ok || bad "redis: outputs: $(cat "$T/j.out")"
  req "redis: from the store" 200 POST "$U/v1/models/mlp/predictions/$RK"
  has "redis: source stream" body '"source":"stream"'
  req "redis: GET" 200 GET "$U/v1/models/mlp/predictions/$RK"
  has "redis: GET source" body '"source":"stream"'
  stop $PID
fi

# ---- 5. PostgreSQL store (embedded queue): tickets and results in SQL ------------------------
if [ -z "$MLSHIP_TEST_PG_URL" ]; then
  skipped "PostgreSQL stream flow (MLSHIP_TEST_PG_URL unset)"
else
  start pg --models "$R" --store "$MLSHIP_TEST_PG_URL" --queue "sqlite://$T/qpg.db" --stream-workers 1 || exit 1
  PK=p_$$; PB="{\"features\":[$(sed -n "s/^k_$r0,//p" "$T/mlp.csv")]}"
  req "pg: trigger" 202 POST "$U/v1/models/mlp/predictions/$PK" -d "$PB"
  t=$(ticket_of)
  req "pg: long-poll" 200 GET "$U/v1/tickets/$t?wait_ms=10000"
  cat "$T/body" >"$T/p.done"; echo >>"$T/p.done"
  "$X" check --rtol 1e-5 --lines bench/models/mlp.REF.npy "$r0" "$T/p.done" "*.outputs.output" >"$T/j.out" 2>&1 &&
    ok || bad "pg: outputs: $(cat "$T/j.out")"
  req "pg: from the store" 200 POST "$U/v1/models/mlp/predictions/$PK"
  has "pg: source stream" body '"source":"stream"'
  stop $PID
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
