#!/bin/sh
# test_serve.sh: end-to-end tests of `mlship serve` over real HTTP (curl): every route and
# every error, binary tensors, dynamic batching, queue overflow, timeouts, tokens, body limits,
# hot reload under load (zero failures), broken files refused (logged once), a repository
# where nothing loads (warning, not-ready reason, --require-models), a taken port (exit 1;
# --reuse-port shares it), features from SQLite, from a
# real PostgreSQL and a real Redis (MLSHIP_TEST_PG_URL / MLSHIP_TEST_REDIS_URL, exported by
# tests/run_all.sh through scripts/services.sh; unset: counted as skipped), SIGTERM draining. Servers listen on 127.0.0.1 with --port 0 (a free port, read from the log).
# Usage: sh tests/serve/test_serve.sh [path/to/mlship]    (default build/mlship)
# Ends with "N passed, N failed, N skipped".
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
case "$M" in /*) ;; *) M="$PWD/$M" ;; esac
FRAUD=$PWD/examples/fraud/model.onnx
T=$(mktemp -d) || exit 2
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0; skip=0
[ -f build/services.env ] && [ -z "${MLSHIP_TEST_PG_URL:-}" ] && . ./build/services.env

ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
skipped() { skip=$((skip + 1)); echo "SKIP $*"; }
show() { sed 's/^/    | /' "$1" | head -n 8; }

for tool in curl sqlite3; do
  command -v $tool >/dev/null || { echo "FAIL $tool is not installed"; echo "0 passed, 1 failed"; exit 1; }
done
[ -x "$M" ] || { echo "FAIL no $M"; echo "0 passed, 1 failed"; exit 1; }

# start NAME ARGS... : start a server, wait for its port; sets PORT and PID
start() {
  _n=$1; shift
  "$M" serve --port 0 "$@" >"$T/$_n.log" 2>&1 &
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

# req NAME WANT_STATUS METHOD URL [curl args...] : body in $T/body, headers in $T/hdr
req() {
  _name=$1; _want=$2; _m=$3; _u=$4; shift 4
  _got=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$_m" "$@" "$_u")
  if [ "$_got" = "$_want" ]; then ok; else bad "$_name: HTTP $_got, expected $_want"; show "$T/body"; fi
}
# has NAME body|hdr TEXT
has() { if grep -qiF -- "$3" "$T/$2"; then ok; else bad "$1: $2 lacks '$3'"; show "$T/$2"; fi; }
lacks() { if grep -qiF -- "$3" "$T/$2"; then bad "$1: $2 has '$3'"; show "$T/$2"; else ok; fi; }

# ---- fixtures --------------------------------------------------------------------------------
ROW="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0,1.1,1.2,1.3,1.4,1.5,1.6,1.7,1.8,1.9,2.0,2.1,2.2,2.3,2.4,2.5,2.6,2.7,2.8,2.9,3.0"
ZROW="0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0"
printf '{"id":"r-7","inputs":[{"name":"features","shape":[2,30],"datatype":"FP32","data":[%s,%s]}]}' "$ROW" "$ZROW" >"$T/infer.json"
printf '{"features":[%s]}' "$ROW" >"$T/predict.json"
R=$T/repo; mkdir -p "$R/fraud/1" "$R/fraud/2" "$R/batched/1" "$R/feat/1" "$R/broken/1"
cp "$FRAUD" "$R/fraud/1/model.onnx"; cp "$FRAUD" "$R/fraud/2/model.onnx"
cp "$FRAUD" "$R/batched/1/model.onnx"; cp "$FRAUD" "$R/feat/1/model.onnx"
echo "not a model" >"$R/broken/1/model.onnx"
echo '{"batching":{"max_batch_size":16,"max_queue_delay_us":20000}}' >"$R/batched/config.json"
DB=$T/features.db
cols=""; vals=""; for i in $(seq 0 29); do cols="$cols${cols:+,}f$i"; done
sqlite3 "$DB" "create table customer_features(customer_id text primary key, $(echo $cols | sed 's/,/ real,/g') real);
  insert into customer_features values ('c_17', $ROW); insert into customer_features values ('c_42', $ZROW);"
printf '{"features":{"store":"sqlite://%s","table":"customer_features","key":"customer_id","columns":["%s"]}}' \
  "$DB" "$(echo $cols | sed 's/,/","/g')" >"$R/feat/config.json"

# ---- usage -----------------------------------------------------------------------------------
"$M" serve --help >"$T/out" 2>&1; [ $? -eq 0 ] && ok || bad "serve --help exit"
grep -q "usage: mlship serve" "$T/out" && ok || bad "serve --help text"
"$M" serve >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "serve without --models/--model: exit 2"
"$M" serve --models "$R" --port 99999 >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "bad --port: exit 2"
"$M" serve --model "$T/nope.onnx" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "missing --model file: exit 2"
"$M" serve --model "$R/broken/1/model.onnx" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "broken --model file: exit 2"

# ---- a repository server -----------------------------------------------------------------------
start main --models "$R" --admin-token s3cret --access-log "$T/access.log" --poll-ms 200 || exit 1
MAIN=$PID; MU=$U

req "live" 200 GET $U/v2/health/live
req "ready: a broken model makes the server not ready" 400 GET $U/v2/health/ready
req "server metadata" 200 GET $U/v2
has "server metadata" body '"extensions":["binary_tensor_data","model_repository"]'
req "model metadata" 200 GET $U/v2/models/fraud
has "model metadata versions" body '"versions":["1","2"]'
has "model metadata inputs" body '"inputs":[{"name":"features","datatype":"FP32","shape":[-1,30]}]'
req "version metadata" 200 GET $U/v2/models/fraud/versions/1
has "version metadata" body '"versions":["1"]'
req "model ready" 200 GET $U/v2/models/fraud/ready
req "version ready" 200 GET $U/v2/models/fraud/versions/2/ready
req "broken model not ready" 400 GET $U/v2/models/broken/ready
has "broken model not ready" body '"ready":false'
req "unknown model ready" 404 GET $U/v2/models/nope/ready
req "unknown model metadata" 404 GET $U/v2/models/nope
req "unknown version" 404 GET $U/v2/models/fraud/versions/9
req "bad model name" 400 GET "$U/v2/models/bad%20name"
has "bad model name message" body "[A-Za-z0-9._-]"
req "bad version name" 400 GET "$U/v2/models/fraud/versions/a%24b"
req "unknown route" 404 GET $U/v3/whatever
req "GET infer: 405" 405 GET $U/v2/models/fraud/infer
has "405 Allow header" hdr "Allow: POST"

# ---- inference ---------------------------------------------------------------------------------
req "infer" 200 POST $U/v2/models/fraud/infer --data-binary @"$T/infer.json"
has "infer echoes id" body '"id":"r-7"'
has "infer default version is the highest" body '"model_version":"2"'
has "infer output" body '"name":"probability","datatype":"FP32","shape":[2,1]'
cp "$T/body" "$T/infer_ref.json"
req "infer version 1" 200 POST $U/v2/models/fraud/versions/1/infer --data-binary @"$T/infer.json"
has "infer version 1" body '"model_version":"1"'
req "infer output selection" 200 POST $U/v2/models/fraud/infer -d "{\"inputs\":[{\"name\":\"features\",\"shape\":[1,30],\"datatype\":\"FP32\",\"data\":[$ROW]}],\"outputs\":[{\"name\":\"probability\"}],\"parameters\":{\"x\":1}}"
req "infer unknown output" 400 POST $U/v2/models/fraud/infer -d "{\"inputs\":[{\"name\":\"features\",\"shape\":[1,30],\"datatype\":\"FP32\",\"data\":[$ROW]}],\"outputs\":[{\"name\":\"nope\"}]}"
has "unknown output message" body "has no output 'nope'"
req "infer malformed JSON" 400 POST $U/v2/models/fraud/infer -d '{"inputs":[{'
has "malformed JSON message" body "malformed JSON"
req "infer wrong shape" 400 POST $U/v2/models/fraud/infer -d '{"inputs":[{"name":"features","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}'
has "wrong shape message names input and expectation" body "input 'features' expects float32[batch,30], got float32[1,3]"
req "infer wrong type" 400 POST $U/v2/models/fraud/infer -d "{\"inputs\":[{\"name\":\"features\",\"shape\":[1,30],\"datatype\":\"INT64\",\"data\":[$ZROW]}]}"
has "wrong type message" body "expects float32[batch,30], got int64[1,30]"
req "infer data/shape mismatch" 400 POST $U/v2/models/fraud/infer -d '{"inputs":[{"name":"features","shape":[1,30],"datatype":"FP32","data":[1,2]}]}'
has "data/shape mismatch message" body "input 'features': shape [1,30] needs 30 elements"
req "infer unknown input" 400 POST $U/v2/models/fraud/infer -d '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}'
has "unknown input message" body "has no input 'x'"
req "infer missing input" 400 POST $U/v2/models/fraud/infer -d '{"inputs":[]}'
has "missing input message" body "missing input 'features'"
req "infer unknown model" 404 POST $U/v2/models/nope/infer --data-binary @"$T/infer.json"

# binary tensor data extension: 30 zeros (120 bytes) in, probability out as binary
H='{"inputs":[{"name":"features","shape":[1,30],"datatype":"FP32","parameters":{"binary_data_size":120}}],"outputs":[{"name":"probability","parameters":{"binary_data":true}}]}'
{ printf '%s' "$H"; head -c 120 /dev/zero; } >"$T/bin.req"
req "binary infer" 200 POST $U/v2/models/fraud/infer -H "Inference-Header-Content-Length: ${#H}" -H "Content-Type: application/octet-stream" --data-binary @"$T/bin.req"
has "binary response header" hdr "Inference-Header-Content-Length:"
has "binary output size" body '"parameters":{"binary_data_size":4}'
hl=$(sed -n 's/^Inference-Header-Content-Length: *\([0-9]*\).*/\1/ip' "$T/hdr" | tr -d '\r')
total=$(wc -c <"$T/body")
[ -n "$hl" ] && [ $((total - hl)) -eq 4 ] && ok || bad "binary response: $total bytes with a $hl-byte header, expected 4 binary bytes"
# the same input as JSON gives the same value (compare the float's 4 bytes)
req "zeros as JSON, binary_data_output" 200 POST $U/v2/models/fraud/infer -d "{\"inputs\":[{\"name\":\"features\",\"shape\":[1,30],\"datatype\":\"FP32\",\"data\":[$ZROW]}],\"parameters\":{\"binary_data_output\":true}}"
hl2=$(sed -n 's/^Inference-Header-Content-Length: *\([0-9]*\).*/\1/ip' "$T/hdr" | tr -d '\r')
tail -c 4 "$T/body" >"$T/b2"; cp "$T/body" "$T/body2"
curl -s -X POST -H "Inference-Header-Content-Length: ${#H}" --data-binary @"$T/bin.req" $U/v2/models/fraud/infer | tail -c 4 >"$T/b1"
cmp -s "$T/b1" "$T/b2" && [ -n "$hl2" ] && ok || bad "binary input and JSON input disagree"
{ printf '%s' "$H"; head -c 100 /dev/zero; } >"$T/short.req"
req "binary data too short" 400 POST $U/v2/models/fraud/infer -H "Inference-Header-Content-Length: ${#H}" --data-binary @"$T/short.req"
has "binary too short message" body "input 'features': needs 120 bytes"
{ printf '%s' "$H"; head -c 124 /dev/zero; } >"$T/long.req"
req "binary data too long" 400 POST $U/v2/models/fraud/infer -H "Inference-Header-Content-Length: ${#H}" --data-binary @"$T/long.req"
req "binary header length beyond body" 400 POST $U/v2/models/fraud/infer -H "Inference-Header-Content-Length: 99999" --data-binary @"$T/bin.req"
H2='{"inputs":[{"name":"features","shape":[1,30],"datatype":"FP32","parameters":{"binary_data_size":100}}]}'
{ printf '%s' "$H2"; head -c 100 /dev/zero; } >"$T/size.req"
req "binary_data_size disagrees with shape" 400 POST $U/v2/models/fraud/infer -H "Inference-Header-Content-Length: ${#H2}" --data-binary @"$T/size.req"

# /predict (the tutorial's shape) needs a default model: a one-model server
start single --model "$FRAUD" --api-token tok || exit 1
SINGLE=$PID; SU=$U
req "predict without token" 401 POST $SU/predict --data-binary @"$T/predict.json"
has "401 WWW-Authenticate" hdr "WWW-Authenticate: Bearer"
req "predict wrong token" 401 POST $SU/predict -H "Authorization: Bearer nope" --data-binary @"$T/predict.json"
req "health needs no token" 200 GET $SU/v2/health/ready
req "predict one row" 200 POST $SU/predict -H "Authorization: Bearer tok" --data-binary @"$T/predict.json"
has "predict reply shape" body '{"prediction":['
req "predict rows" 200 POST $SU/predict -H "Authorization: Bearer tok" -d "[[$ROW],[$ZROW]]"
n=$(tr ',' '\n' <"$T/body" | grep -c .); [ "$n" -eq 2 ] && ok || bad "predict rows: expected 2 predictions"; 
req "predict wrong width" 400 POST $SU/predict -H "Authorization: Bearer tok" -d '{"features":[1,2,3]}'
has "predict wrong width message" body "input 'features' expects 30 features per row"
req "predict not numbers" 400 POST $SU/predict -H "Authorization: Bearer tok" -d "{\"features\":[\"a\"$(echo ",$ZROW" | cut -c 3-)]}"
req "predict bad body" 400 POST $SU/predict -H "Authorization: Bearer tok" -d '{"rows":[]}'
# numbers JSON does not have (".5", "+1"): refused as by any JSON parser, also on the one-pass
# fast path, which once read them (tests/fuzz/regress/predict)
req "predict .5 is not JSON" 400 POST $SU/predict -H "Authorization: Bearer tok" -d "[[.5$(echo ",$ZROW" | cut -c 3-)]]"
has "predict .5 message" body "malformed JSON"
req "predict +1 is not JSON" 400 POST $SU/predict -H "Authorization: Bearer tok" -d "{\"features\":[+1$(echo ",$ZROW" | cut -c 3-)]}"
req "predict GET: 405" 405 GET $SU/predict -H "Authorization: Bearer tok"
req "/predict on a repository without a default model" 404 POST $MU/predict --data-binary @"$T/predict.json"
stop $SINGLE; U=$MU

# /v1 (TF-Serving's shape)
req "v1 predict" 200 POST $U/v1/models/fraud:predict -d "{\"instances\":[[$ROW],[$ZROW]]}"
has "v1 predictions" body '{"predictions":[0.'
req "v1 model status" 200 GET $U/v1/models/fraud
req "v1 wrong width" 400 POST $U/v1/models/fraud:predict -d '{"instances":[[1,2]]}'
has "v1 wrong width message" body "input 'features' expects float32[batch,30]"
req "v1 unknown verb" 404 POST $U/v1/models/fraud:explain -d '{}'
req "v1 bad body" 400 POST $U/v1/models/fraud:predict -d '{"inputs":[]}'
req "v1 keys without a feature source" 400 POST $U/v1/models/fraud:predict -d '{"keys":["c_17"]}'
has "keys without features message" body "no feature source"

# features from the database (SQLite)
req "keys" 200 POST $U/v1/models/feat:predict -d '{"keys":["c_17","c_99","c_42"]}'
has "unknown key is a per-key error" body '"errors":[{"index":1,"key":"c_99","error":"unknown key"}]'
has "unknown key prediction is null" body ',null,'
k17=$(sed 's/.*"predictions":\[\([^],]*\).*/\1/' "$T/body")
curl -s -X POST $U/v1/models/fraud:predict -d "{\"instances\":[[$ROW]]}" >"$T/direct"
grep -qF "{\"predictions\":[$k17]}" "$T/direct" && ok || bad "key c_17 scores like its row sent directly ($k17 vs $(cat "$T/direct"))"
req "keys all unknown" 200 POST $U/v1/models/feat:predict -d '{"keys":["x","y"]}'
has "all unknown" body '"predictions":[null,null]'
req "overrides for all rows" 200 POST $U/v1/models/feat:predict -d '{"keys":["c_42"],"overrides":{"f0":0.1,"f1":0.2,"f2":0.3,"f3":0.4,"f4":0.5,"f5":0.6,"f6":0.7,"f7":0.8,"f8":0.9,"f9":1.0,"f10":1.1,"f11":1.2,"f12":1.3,"f13":1.4,"f14":1.5,"f15":1.6,"f16":1.7,"f17":1.8,"f18":1.9,"f19":2.0,"f20":2.1,"f21":2.2,"f22":2.3,"f23":2.4,"f24":2.5,"f25":2.6,"f26":2.7,"f27":2.8,"f28":2.9,"f29":3.0}}'
grep -qF "\"predictions\":[$k17]" "$T/body" && ok || bad "overrides turn c_42 into c_17's row"
req "per-key override" 200 POST $U/v1/models/feat:predict -d '{"keys":["c_42"],"overrides":{"c_42":{"f3":7}}}'
req "override unknown column" 400 POST $U/v1/models/feat:predict -d '{"keys":["c_42"],"overrides":{"nope":1}}'
has "override message" body "not a feature column"
req "keys not an array" 400 POST $U/v1/models/feat:predict -d '{"keys":"c_17"}'

# ---- dynamic batching ---------------------------------------------------------------------------
for i in $(seq 1 12); do
  curl -s -o "$T/bb$i" -w '%{http_code}\n' -X POST $U/v2/models/batched/infer --data-binary @"$T/infer.json" >"$T/bs$i" &
done
wait_jobs() { for j in $(jobs -p); do [ "$j" = "$MAIN" ] || wait "$j" 2>/dev/null; done; }
sleep 1; wait_jobs 2>/dev/null
okc=0; same=0
for i in $(seq 1 12); do
  [ "$(cat "$T/bs$i")" = 200 ] && okc=$((okc + 1))
  sed 's/"model_name":"batched"/"model_name":"fraud"/; s/"model_version":"1"/"model_version":"2"/' "$T/bb$i" | cmp -s - "$T/infer_ref.json" && same=$((same + 1))
done
[ $okc -eq 12 ] && ok || bad "batched: $okc/12 requests answered 200"
[ $same -eq 12 ] && ok || bad "batched: $same/12 answers equal the unbatched answer"
curl -s $U/metrics >"$T/metrics"
bc=$(sed -n 's/^mlship_batch_size_count{model="batched"} \([0-9]*\)/\1/p' "$T/metrics")
[ -n "$bc" ] && [ "$bc" -lt 12 ] && ok || bad "batched: 12 concurrent requests ran in $bc model runs (expected fewer: merged)"

# ---- features from a real PostgreSQL and a real Redis -------------------------------------------
# The same two rows loaded with `mlship features load`; keys must score exactly like SQLite's.
{ echo "customer_id,$cols"; echo "c_17,$ROW"; echo "c_42,$ZROW"; } >"$T/feat.csv"
for kind in postgresql redis; do
  if [ $kind = postgresql ]; then url=${MLSHIP_TEST_PG_URL:-}; var=MLSHIP_TEST_PG_URL; else url=${MLSHIP_TEST_REDIS_URL:-}; var=MLSHIP_TEST_REDIS_URL; fi
  if [ -z "$url" ]; then skipped "features from $kind: $var is not set (tests/run_all.sh starts one through scripts/services.sh)"; continue; fi
  tbl=srv_feat_$$
  "$M" features load --store "$url" --table $tbl --key customer_id "$T/feat.csv" >"$T/fl.out" 2>&1 && ok ||
    { bad "$kind: features load"; show "$T/fl.out"; continue; }
  RK=$T/repo_$kind; mkdir -p "$RK/cfgstore/1" "$RK/srvstore/1"
  cp "$FRAUD" "$RK/cfgstore/1/model.onnx"; cp "$FRAUD" "$RK/srvstore/1/model.onnx"
  fcols=$(echo $cols | sed 's/,/","/g')
  # one model names the store in config.json, the other takes the server's --store
  printf '{"features":{"store":"%s","table":"%s","key":"customer_id","columns":["%s"]}}' "$url" $tbl "$fcols" >"$RK/cfgstore/config.json"
  printf '{"features":{"table":"%s","key":"customer_id","columns":["%s"]},"batching":{"max_batch_size":8,"max_queue_delay_us":2000}}' $tbl "$fcols" >"$RK/srvstore/config.json"
  start "feat_$kind" --models "$RK" --store "$url" || continue
  for mdl in cfgstore srvstore; do
    req "$kind $mdl: keys" 200 POST $U/v1/models/$mdl:predict -d '{"keys":["c_17","c_99","c_42"]}'
    has "$kind $mdl: unknown key is a per-key error" body '"errors":[{"index":1,"key":"c_99","error":"unknown key"}]'
    got=$(sed 's/.*"predictions":\[\([^],]*\).*/\1/' "$T/body")
    [ "$got" = "$k17" ] && ok || bad "$kind $mdl: c_17 scores $got, SQLite's row scores $k17"
    req "$kind $mdl: override" 200 POST $U/v1/models/$mdl:predict -d '{"keys":["c_42"],"overrides":{"c_42":{"f3":7}}}'
  done
  # concurrent key requests share the pooled connections
  cpids=""
  for i in 1 2 3 4 5 6 7 8; do
    curl -s -o /dev/null -w '%{http_code}\n' -X POST $U/v1/models/srvstore:predict -d '{"keys":["c_17","c_42"]}' >"$T/fc$i" &
    cpids="$cpids $!"
  done
  for p in $cpids; do wait $p; done
  n200=0; for i in 1 2 3 4 5 6 7 8; do [ "$(cat "$T/fc$i")" = 200 ] && n200=$((n200 + 1)); done
  [ $n200 -eq 8 ] && ok || bad "$kind: $n200/8 concurrent key requests answered 200"
  stop $PID; U=$MU
done

# ---- metrics and access log ---------------------------------------------------------------------
req "metrics" 200 GET $U/metrics
has "metrics content type" hdr "text/plain; version=0.0.4"
has "requests counter" body 'mlship_requests_total{model="fraud",route="infer",status="200"}'
has "latency histogram" body 'mlship_request_duration_seconds_bucket{route="infer",le="+Inf"}'
has "batch histogram" body 'mlship_batch_size_bucket{model="batched"'
has "queue depth" body 'mlship_queue_depth{model="batched"} 0'
has "load time" body 'mlship_model_load_seconds{model="fraud",version="2"}'
has "load failures" body 'mlship_model_load_failures_total{model="broken"} 1'
grep -q '"route":"infer"' "$T/access.log" && grep -q '"status":400' "$T/access.log" && ok || bad "access log lines"
tail -n 1 "$T/access.log" | grep -q '^{"ts":".*"duration_us":' && ok || bad "access log is JSON lines"

# ---- repository API -----------------------------------------------------------------------------
req "index without token" 401 POST $U/v2/repository/index
req "index wrong token" 401 POST $U/v2/repository/index -H "Authorization: Bearer wrong"
req "index" 200 POST $U/v2/repository/index -H "Authorization: Bearer s3cret"
has "index READY" body '{"name":"fraud","version":"2","state":"READY","reason":""}'
has "index broken" body '{"name":"broken","version":"1","state":"UNAVAILABLE"'
req "index ready only" 200 POST $U/v2/repository/index -H "Authorization: Bearer s3cret" -d '{"ready":true}'
lacks "index ready only" body 'UNAVAILABLE'
req "unload" 200 POST $U/v2/repository/models/fraud/unload -H "Authorization: Bearer s3cret"
req "unloaded model not ready" 400 GET $U/v2/models/fraud/ready
req "infer on unloaded model" 503 POST $U/v2/models/fraud/infer --data-binary @"$T/infer.json"
has "503 Retry-After" hdr "Retry-After:"
req "load" 200 POST $U/v2/repository/models/fraud/load -H "Authorization: Bearer s3cret"
req "loaded again" 200 POST $U/v2/models/fraud/infer --data-binary @"$T/infer.json"
req "load broken" 400 POST $U/v2/repository/models/broken/load -H "Authorization: Bearer s3cret"
has "load broken reason" body "failed to load 'broken'"
req "load unknown" 400 POST $U/v2/repository/models/nope/load -H "Authorization: Bearer s3cret"
req "repository GET: 405" 405 GET $U/v2/repository/index -H "Authorization: Bearer s3cret"
start noadmin --model "$FRAUD" || exit 1
req "repository API without --admin-token: 403" 403 POST $U/v2/repository/index -H "Authorization: Bearer x"
stop $PID; U=$MU

# ---- hot reload under load: zero failures ----------------------------------------------------------
(
  n=0; f=0; v2=0; v3=0
  end=$(($(date +%s) + 4))
  while [ "$(date +%s)" -lt $end ]; do
    code=$(curl -s -o "$T/hl" -w '%{http_code}' -X POST $U/v2/models/fraud/infer --data-binary @"$T/infer.json")
    n=$((n + 1))
    if [ "$code" != 200 ]; then f=$((f + 1)); fi
    grep -q '"model_version":"3"' "$T/hl" 2>/dev/null && v3=$((v3 + 1))
  done
  echo "$n $f $v3" >"$T/hotload"
) &
LOADER=$!
sleep 0.7
mkdir "$T/stage3"; cp "$FRAUD" "$T/stage3/model.onnx"; mv "$T/stage3" "$R/fraud/3"      # new version
sleep 0.7
echo garbage >"$T/m4"; mkdir "$T/stage4"; mv "$T/m4" "$T/stage4/model.onnx"; mv "$T/stage4" "$R/fraud/4"  # broken version
sleep 0.7
cp "$FRAUD" "$T/m2"; mv "$T/m2" "$R/fraud/2/model.onnx"   # version 2 replaced in place (rename)
sleep 0.7
rm -rf "$R/fraud/1"                                         # version 1 removed
wait $LOADER
read n f v3 <"$T/hotload"
[ "$f" -eq 0 ] && [ "$n" -gt 10 ] && ok || bad "hot reload: $f failures in $n requests"
[ "$v3" -gt 0 ] && ok || bad "hot reload: version 3 never answered ($n requests)"
grep -q "model 'fraud' version '4': refused" "$T/main.log" && ok || bad "broken version 4 refused in the log"
req "version 3 is the default after the broken 4" 200 POST $U/v2/models/fraud/infer --data-binary @"$T/infer.json"
has "version 3 serves" body '"model_version":"3"'
req "removed version 1" 404 GET $U/v2/models/fraud/versions/1
req "refused version 4" 503 GET $U/v2/models/fraud/versions/4

# ---- limits ---------------------------------------------------------------------------------------
start limits --model "$FRAUD" --max-body 1000 || exit 1
head -c 5000 /dev/zero | tr '\0' ' ' >"$T/big"
req "body over --max-body: 413" 413 POST $U/v2/models/default/infer --data-binary @"$T/big"
has "413 message" body "exceeds the limit of 1000 bytes"
req "chunked body over --max-body: 413" 413 POST $U/v2/models/default/infer -H "Transfer-Encoding: chunked" --data-binary @"$T/big"
req "small body still fine" 200 POST $U/predict --data-binary @"$T/predict.json"
stop $PID

# a full queue answers 503 + Retry-After; a request queued past --timeout-ms answers 504
R2=$T/repo2; mkdir -p "$R2/slow/1"; cp "$FRAUD" "$R2/slow/1/model.onnx"
echo '{"batching":{"max_batch_size":64,"max_queue_delay_us":400000,"max_queue_size":2}}' >"$R2/slow/config.json"
start queue --models "$R2" --timeout-ms 200 || exit 1
for i in 1 2 3 4 5; do
  curl -s -o /dev/null -D "$T/qh$i" -w '%{http_code}\n' -X POST $U/v2/models/slow/infer --data-binary @"$T/infer.json" >"$T/qs$i" &
done
sleep 1.2; wait_jobs 2>/dev/null
c503=0; c504=0
for i in 1 2 3 4 5; do
  case "$(cat "$T/qs$i")" in 503) c503=$((c503 + 1)); grep -qi "Retry-After: 1" "$T/qh$i" || c503=-99 ;; 504) c504=$((c504 + 1)) ;; esac
done
[ $c503 -eq 3 ] && ok || bad "queue of 2: expected 3 answers 503 with Retry-After, got $c503"
[ $c504 -eq 2 ] && ok || bad "timeout 200 ms with a 400 ms batch delay: expected 2 answers 504, got $c504"

# SIGTERM drains: a request waiting in the batch queue still gets its answer, then exit 0
curl -s -o /dev/null -w '%{http_code}' -X POST $U/v2/models/slow/versions/1/infer --data-binary @"$T/infer.json" >"$T/drain" &
CURL=$!
sleep 0.1
kill -TERM $PID
wait $CURL
wait $PID; rc=$?
[ "$(cat "$T/drain")" = 504 ] || [ "$(cat "$T/drain")" = 200 ] && ok || bad "request in flight at SIGTERM: HTTP $(cat "$T/drain")"
[ $rc -eq 0 ] && ok || bad "exit status after SIGTERM: $rc"
grep -q "SIGTERM: draining 1 in-flight" "$T/queue.log" && ok || bad "drain logged"

# ---- one port, one server (issue 9, item 5) ----------------------------------------------------
# A second server on a port in use must fail (exit 1, naming the address), not share it
# silently; with --reuse-port on both, both listen and the kernel spreads the connections.
start port_a --model "$FRAUD" || exit 1
PA=$PID; PP=$PORT
timeout 10 "$M" serve --model "$FRAUD" --port "$PP" >"$T/port_b.log" 2>&1; rc=$?
[ $rc -eq 1 ] && ok || bad "second server on a taken port: exit $rc, expected 1"
grep -qF "cannot listen on 127.0.0.1:$PP: address already in use" "$T/port_b.log" && ok ||
  { bad "second server on a taken port: message"; show "$T/port_b.log"; }
req "first server still answers after the second failed" 200 POST http://127.0.0.1:$PP/predict --data-binary @"$T/predict.json"
stop $PA
start share_a --model "$FRAUD" --reuse-port --access-log "$T/share_a.access" || exit 1
SA=$PID; SP=$PORT
start share_b --model "$FRAUD" --reuse-port --port "$SP" --access-log "$T/share_b.access" || exit 1
SB=$PID
[ "$PORT" = "$SP" ] && ok || bad "--reuse-port: second server listens on $PORT, expected $SP"
for i in $(seq 1 24); do curl -s -o /dev/null -X POST http://127.0.0.1:$SP/predict --data-binary @"$T/predict.json"; done
na=$(grep -c '"route":"predict"' "$T/share_a.access" 2>/dev/null); nb=$(grep -c '"route":"predict"' "$T/share_b.access" 2>/dev/null)
# 24 new connections hashed over two listeners: all on one side has odds 2^-23
[ "${na:-0}" -ge 1 ] && [ "${nb:-0}" -ge 1 ] && [ $((na + nb)) -eq 24 ] && ok ||
  bad "--reuse-port: 24 requests split $na/$nb, expected both servers to answer some"
stop $SA; stop $SB

# ---- a repository where nothing loads says so (issue 9, item 6) ----------------------------------
E=$T/empty_repo; mkdir -p "$E"
start empty --models "$E" || exit 1
grep -qF "WARNING: --models '$E': no model loaded: '$E' holds no model directory" "$T/empty.log" && ok ||
  { bad "empty --models DIR: warning at start"; show "$T/empty.log"; }
req "empty repository: not ready" 400 GET $U/v2/health/ready
has "empty repository: ready reason" body "\"ready\":false,\"reason\":\"'$E' holds no model directory"
stop $PID
B=$T/broken_repo; mkdir -p "$B/bad/1" "$B/flat"
echo "not a model" >"$B/bad/1/model.onnx"; cp "$FRAUD" "$B/flat/model.onnx"
start brokenrepo --models "$B" || exit 1
grep "WARNING: --models '$B': no model loaded" "$T/brokenrepo.log" >"$T/warn"
has "broken repository: warning names the refused file" warn "model 'bad' version '1' refused: $B/bad/1/model.onnx: not an ONNX model"
has "broken repository: warning names the misplaced file" warn "model 'flat': its model file is not in a version directory (move it to $B/flat/1/)"
req "broken repository: not ready" 400 GET $U/v2/health/ready
has "broken repository: ready reason names the refusal" body "model 'bad' version '1' refused: $B/bad/1/model.onnx: not an ONNX model"
stop $PID
"$M" serve --models "$E" --require-models --port 0 >"$T/req.log" 2>&1; rc=$?
[ $rc -eq 2 ] && ok || bad "--require-models on an empty DIR: exit $rc, expected 2"
grep -qF "mlship serve: --models '$E': '$E' holds no model directory" "$T/req.log" && ok || { bad "--require-models empty: message"; show "$T/req.log"; }
"$M" serve --models "$B" --require-models --port 0 >"$T/req.log" 2>&1; rc=$?
[ $rc -eq 2 ] && ok || bad "--require-models with only broken models: exit $rc, expected 2"
grep -qF "model 'bad' version '1' refused" "$T/req.log" && ok || { bad "--require-models broken: message"; show "$T/req.log"; }
"$M" serve --models "$R" --require-models --port 0 >"$T/req.log" 2>&1; rc=$?
[ $rc -eq 2 ] && ok || bad "--require-models with one broken model among good ones: exit $rc, expected 2"
grep -qF "model 'broken' version '1' refused" "$T/req.log" && ok || { bad "--require-models mixed: message"; show "$T/req.log"; }
"$M" serve --model "$FRAUD" --require-models >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "--require-models without --models: exit 2"
G=$T/good_repo; mkdir -p "$G/fraud/1"; cp "$FRAUD" "$G/fraud/1/model.onnx"
start goodreq --models "$G" --require-models --poll-ms 50 || exit 1
req "--require-models on a good repository serves" 200 GET $U/v2/health/ready
has "ready has no reason" body '{"ready":true}'
lacks "good repository: no warning" body "reason"
grep -q "WARNING" "$T/goodreq.log" && bad "good repository: unexpected warning" || ok

# ---- a refused hot reload is logged once (issue 9, item 6) ---------------------------------------
# version 2 appears broken; ten rescans later the log holds one line for it, naming its path once
echo garbage >"$T/g2"; mkdir "$T/gstage"; mv "$T/g2" "$T/gstage/model.onnx"; mv "$T/gstage" "$G/fraud/2"
sleep 0.6
n=$(grep -c "version '2': refused" "$T/goodreq.log")
[ "$n" -eq 1 ] && ok || { bad "refused hot reload: $n log lines, expected 1"; show "$T/goodreq.log"; }
n=$(grep "version '2': refused" "$T/goodreq.log" | grep -o "$G/fraud/2/model.onnx" | wc -l)
[ "$n" -eq 1 ] && ok || { bad "refused hot reload: the path appears $n times in its line, expected once"; show "$T/goodreq.log"; }
req "refused version 2: version 1 keeps serving" 200 POST $U/v2/models/fraud/infer --data-binary @"$T/infer.json"
has "version 1 serves" body '"model_version":"1"'
stop $PID

stop $MAIN
# ==== missing and non-finite values (issue 9 item 2; policy: src/predict/pd_check.h) ========
# The same policy as batch: a missing value (JSON null, NULL in the store, NaN bytes) is 400 /
# a per-key error unless config.json says "missing": "nan" for a model that defines it; +-Inf
# is always refused; a non-finite output is 422 (by key: a per-key error), never a null.
# References: the frameworks' own outputs on the fixtures' NaN rows (output_*.npy).
PY=/usr/bin/python3
NPYR="$PY $PWD/tests/batch/npy_rows.py"
HGB=$PWD/tests/fixtures/ml/sk_hgb_clf_nan
XGB=$PWD/tests/fixtures/ml/xgb_binary_json
R3=$T/repo3; mkdir -p "$R3/nn/1" "$R3/hgb/1" "$R3/hgbrej/1" "$R3/xgb/1" "$R3/nnnan/1" "$R3/ovf/1"
cp "$FRAUD" "$R3/nn/1/model.onnx"; cp "$FRAUD" "$R3/nnnan/1/model.onnx"
cp "$HGB/model.onnx" "$R3/hgb/1/model.onnx"; cp "$HGB/model.onnx" "$R3/hgbrej/1/model.onnx"
cp "$XGB/model.json" "$R3/xgb/1/model.json"; cp tests/fixtures/overflow/model.onnx "$R3/ovf/1/model.onnx"
DB3=$T/missing.db
sqlite3 "$DB3" "create table nnf(customer_id text primary key, $(echo $cols | sed 's/,/ real,/g') real);
  insert into nnf values ('c_17', $ROW); insert into nnf values ('c_null', $(echo "$ROW" | sed 's/0\.4,/NULL,/'));
  create table ovf(id text primary key, a real, b real); insert into ovf values ('small', 1e-30, 2e-30), ('big', 1, 2);"
printf '{"features":{"store":"sqlite://%s","table":"nnf","key":"customer_id","columns":["%s"]}}' \
  "$DB3" "$(echo $cols | sed 's/,/","/g')" >"$R3/nn/config.json"
printf '{"features":{"store":"sqlite://%s","table":"ovf","key":"id","columns":["a","b"]}}' "$DB3" >"$R3/ovf/config.json"
echo '{"missing":"nan"}' >"$R3/nnnan/config.json"
echo '{"missing":"nan"}' >"$R3/xgb/config.json"
if [ -x "$PY" ]; then
  $NPYR sql "$HGB/input_0.npy" hgbf 20 | sqlite3 "$DB3"
  printf '{"missing":"nan","features":{"store":"sqlite://%s","table":"hgbf","key":"id","columns":["x0","x1","x2","x3","x4","x5","x6","x7"]}}' \
    "$DB3" >"$R3/hgb/config.json"
  $NPYR json "$HGB/input_0.npy" 20 >"$T/hgb_inst.json"
  $NPYR json "$XGB/input_0.npy" 20 >"$T/xgb_inst.json"
fi
start missing --models "$R3" || exit 1
# a network: by key, NULL in the store is that key's error; the good key is scored
req "missing: nn keys" 200 POST $U/v1/models/nn:predict -d '{"keys":["c_17","c_null"]}'
has "missing: NULL feature is a per-key error" body '"errors":[{"index":1,"key":"c_null","error":"feature '\''f3'\'' is missing (NULL or NaN in the store; this model does not define missing values)"}]'
lacks "missing: the good key is scored" body '"predictions":[null'
# inline: null / NaN bytes / Inf refused with 400 naming the row and feature
NROW=$(echo "$ROW" | sed 's/0\.4,/null,/')
R3U=$U; R3PID=$PID
start missing1 --model "$FRAUD" || exit 1  # /predict needs a one-model server
req "missing: /predict null" 400 POST $U/predict -d "{\"features\":[$NROW]}"
has "missing: /predict null message" body "row 0, feature 3 is NaN, a missing value (this model does not define missing values)"
req "missing: /predict 1e400" 400 POST $U/predict -d "{\"features\":[$(echo "$ROW" | sed 's/0\.4,/1e400,/')]}"
has "missing: /predict 1e400 message" body "is not a finite float32 number"
stop $PID; U=$R3U; PID=$R3PID
req "missing: v1 instances null" 400 POST $U/v1/models/nn:predict -d "{\"instances\":[[$ROW],[$NROW]]}"
has "missing: v1 instances names row 1" body "row 1, feature 3 is NaN"
req "missing: v2 json null" 400 POST $U/v2/models/nn/infer -d "{\"inputs\":[{\"name\":\"features\",\"shape\":[1,30],\"datatype\":\"FP32\",\"data\":[$NROW]}]}"
has "missing: v2 json null message" body "feature 3 is NaN"
for v in nan inf; do
  if [ -x "$PY" ]; then
    $PY -c "import struct,sys; x=[0.5]*30; x[7]=float('$v'); sys.stdout.buffer.write(struct.pack('<30f',*x))" >"$T/bin_$v"
    H='{"inputs":[{"name":"features","shape":[1,30],"datatype":"FP32","parameters":{"binary_data_size":120}}]}'
    { printf '%s' "$H"; cat "$T/bin_$v"; } >"$T/req_$v"
    req "missing: v2 binary $v" 400 POST $U/v2/models/nn/infer -H "Inference-Header-Content-Length: ${#H}" --data-binary @"$T/req_$v"
    if [ $v = nan ]; then has "missing: v2 binary NaN message" body "feature 7 is NaN"; else has "missing: v2 binary inf message" body "feature 7 is not finite"; fi
  fi
done
# "missing": "nan" for a network: the version does not load, and the log says why
req "missing: nan config on a network is not loaded" 400 GET $U/v2/models/nnnan/ready
grep -q "model 'nnnan' does not define missing values" "$T/missing.log" && ok || { bad "missing: load log names the reason"; show "$T/missing.log"; }
# a non-finite output: 422 inline, a per-key error by key
req "missing: overflow inline" 422 POST $U/v1/models/ovf:predict -d '{"instances":[[1e-30,1e-30],[1,2]]}'
has "missing: overflow message" body "row 1: output 'y' is not finite"
req "missing: overflow finite" 200 POST $U/v1/models/ovf:predict -d '{"instances":[[1e-30,-1e-30]]}'
# float32: fl(fl(fl(1e-30) * fl(1e30)) * fl(1e30)) = 1.0000000150474662e30, the float nearest
# 1e30 (worked in Python's struct), so its shortest round-trip spelling is 1e30
has "missing: overflow finite value" body '{"predictions":[[1e30,-1e30]]}'
req "missing: overflow by key" 200 POST $U/v1/models/ovf:predict -d '{"keys":["small","big"]}'
has "missing: overflow key error" body '"errors":[{"index":1,"key":"big","error":"output '\''y'\'' is not finite"}]'
lacks "missing: overflow not a null success" body '"predictions":[null'
if [ -x "$PY" ]; then
  # tree models opted in: NaN rows scored as scikit-learn / XGBoost scored them
  KEYS=$(seq 0 19 | sed 's/^/r/' | paste -sd, -)
  req "missing: hgb by key with NULLs" 200 POST $U/v1/models/hgb:predict -d "{\"keys\":[\"$(echo $KEYS | sed 's/,/","/g')\"]}"
  lacks "missing: hgb no key errors" body '"errors"'
  eq_() { if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi; }
  eq_ "missing: hgb by key equals sklearn" "$($NPYR compare "$T/body" probabilities "$HGB/output_1.npy" r "$KEYS" 2>&1)" 20
  req "missing: hgb instances with null" 200 POST $U/v1/models/hgb:predict --data-binary @"$T/hgb_inst.json"
  eq_ "missing: hgb instances equal sklearn" "$($NPYR compare "$T/body" label "$HGB/output_0.npy" r "$KEYS" 2>&1)" 20
  req "missing: xgb instances with null" 200 POST $U/v1/models/xgb:predict --data-binary @"$T/xgb_inst.json"
  eq_ "missing: xgb instances equal xgboost" "$($NPYR compare "$T/body" probabilities "$XGB/output_0.npy" r "$KEYS" 2>&1)" 20
  req "missing: hgb not opted in" 400 POST $U/v1/models/hgbrej:predict --data-binary @"$T/hgb_inst.json"
  has "missing: not opted in hint" body "missing values are refused unless the model is run with missing = nan"
  $PY -c "import struct,sys; x=[0.5]*10; x[2]=float('nan'); x[4]=float('-inf'); sys.stdout.buffer.write(struct.pack('<10f',*x))" >"$T/xbin"
  H='{"inputs":[{"name":"input","shape":[1,10],"datatype":"FP32","parameters":{"binary_data_size":40}}]}'
  { printf '%s' "$H"; cat "$T/xbin"; } >"$T/xreq"
  req "missing: -inf refused when opted in" 400 POST $U/v2/models/xgb/infer -H "Inference-Header-Content-Length: ${#H}" --data-binary @"$T/xreq"
  has "missing: -inf message (the NaN before it is accepted)" body "feature 4 is not finite"
else
  skipped "missing: tree models against the frameworks' references (no /usr/bin/python3)"
fi
stop $PID; U=$MU

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
