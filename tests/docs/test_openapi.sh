#!/bin/sh
# test_openapi.sh: docs/openapi.yaml against a real validator and against the running servers
# (stage docs-openapi). npm ci installs the pinned validators (tests/docs/openapi/package.json:
# @seriousme/openapi-schema-validator for the OpenAPI 3.1 document, ajv for the answers) into
# build/docs-npm, once per lock file. Then four servers on free ports, fixtures in a temp dir:
#   S1  mlship serve --models (default = the fraud model with its features; ovf, whose output
#       overflows; slow, whose batch delay outlasts --timeout-ms) --store SQLite (features,
#       one published batch run) --queue SQLite --stream-workers 1 --edge-dir (one `mlship edge
#       publish`) --api-token --admin-token --max-body 1 MiB
#   S2  mlship serve: a broken model (not ready), no default model, no admin token, no edge
#       dir; a queue with no worker (tickets stay pending; max_pending 0: backpressure)
#   S3  mlship serve --model the overflow model (the default model for POST /predict)
#   A   mlship agent following S1's /edge/, its features synced from S1, --api-token
# tests/docs/openapi/check.mjs sends the requests (curl), checks every status is documented
# for its operation and every body validates against its schema, that every documented status
# of every operation was seen (or is listed there as not reachable from a test, with why), that
# a method a path lacks answers 405 naming the documented methods, and that every route of
# src/serve/sv_routes.c and src/cli/cli_agent.c is in the document and nothing more.
# Usage: sh tests/docs/test_openapi.sh [build/mlship]     Ends with "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
case "$M" in /*) ;; *) M="$PWD/$M" ;; esac
fail_now() { echo "FAIL $*"; echo "0 passed, 1 failed"; exit 1; }
for tool in node npm curl python3; do command -v $tool >/dev/null || fail_now "$tool is not installed (scripts/deps.sh test)"; done
[ -x "$M" ] || fail_now "no $M"

NPM=build/docs-npm
mkdir -p "$NPM"
if ! cmp -s tests/docs/openapi/package-lock.json "$NPM/package-lock.json" || [ ! -d "$NPM/node_modules/ajv" ]; then
  cp tests/docs/openapi/package.json tests/docs/openapi/package-lock.json "$NPM/"
  (cd "$NPM" && npm ci --no-audit --no-fund --loglevel=error) >&2 || fail_now "npm ci in $NPM"
fi

T=$(mktemp -d) || exit 2
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; for p in $PIDS; do wait "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT

# start LOG ARGS...: mlship ARGS in the background; PORT from its "listening on" line
start() {
  log=$1; shift
  "$M" "$@" >"$T/$log" 2>&1 &
  PIDS="$PIDS $!"; pid=$!; PORT=""
  for _i in $(seq 1 200); do
    PORT=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$T/$log" | head -n 1)
    [ -n "$PORT" ] && return 0
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  sed 's/^/    | /' "$T/$log" | tail -n 8
  fail_now "mlship $1 did not start ($log)"
}

# ---- fixtures ------------------------------------------------------------------------------------
FRAUD=examples/fraud/model.onnx
R=$T/repo; R2=$T/repo2; PUB=$T/pub; DB=$T/store.db
mkdir -p "$R/default/1" "$R/ovf/1" "$R/slow/1" "$R2/a/1" "$R2/broken/1" "$R2/bp/1" "$PUB"
cp "$FRAUD" "$R/default/1/model.onnx"; cp "$FRAUD" "$R/slow/1/model.onnx"; cp "$FRAUD" "$R2/a/1/model.onnx"
cp "$FRAUD" "$R2/bp/1/model.onnx"; cp tests/fixtures/overflow/model.onnx "$R/ovf/1/model.onnx"
echo "not a model" >"$R2/broken/1/model.onnx"
cols=$(head -n 1 examples/fraud/features.csv | cut -d, -f2- | sed 's/,/","/g')
printf '{"features": {"table": "customer_features", "key": "customer_id", "columns": ["%s"]}}\n' "$cols" >"$R/default/config.json"
echo '{"batching": {"max_batch_size": 64, "max_queue_delay_us": 600000}}' >"$R/slow/config.json"
echo '{"stream": {"max_pending": 0}}' >"$R2/bp/config.json"
"$M" features load --store "sqlite://$DB" --table customer_features --key customer_id -q examples/fraud/features.csv ||
  fail_now "features load"
"$M" batch --model "$R/default/1/model.onnx" --input examples/fraud/features.csv --key customer_id \
  --store "sqlite://$DB" --no-progress >"$T/batch.out" 2>&1 || { cat "$T/batch.out"; fail_now "batch run"; }
"$M" edge keygen -o "$T/key" >/dev/null || fail_now "edge keygen"
"$M" edge publish --key "$T/key" --model "$FRAUD" --name fraud --version 1 --dir "$PUB" \
  --features customer_features >/dev/null || fail_now "edge publish"

# ---- servers --------------------------------------------------------------------------------------
start s1.log serve --models "$R" --store "sqlite://$DB" --queue "sqlite://$T/q.db" --stream-workers 1 \
  --edge-dir "$PUB" --api-token tok --admin-token adm --timeout-ms 300 --max-body 1048576 --port 0 --threads 4
S1=http://127.0.0.1:$PORT
start s2.log serve --models "$R2" --store "sqlite://$T/store2.db" --queue "sqlite://$T/q2.db" --port 0
S2=http://127.0.0.1:$PORT
start s3.log serve --model tests/fixtures/overflow/model.onnx --port 0
S3=http://127.0.0.1:$PORT
start agent.log agent --state "$T/state" --backend "$S1/edge" --name fraud --pubkey "$T/key.pub" \
  --listen 127.0.0.1:0 --poll-s 1 --confirm-s 1 --backend-token tok --api-token atok
A=http://127.0.0.1:$PORT
# the agent installs version 1 and syncs its feature table
for _i in $(seq 1 200); do
  curl -s "$A/v1/agent/status" | grep -q '"serving_version": 1,.*"rows": [1-9]' && break
  sleep 0.1
done

S1=$S1 S2=$S2 S3=$S3 AGENT=$A NODE_PATH="$PWD/$NPM/node_modules" BLOB=$(ls "$PUB/blobs" | head -n 1) T="$T" \
  timeout 120 node tests/docs/openapi/check.mjs "${OPENAPI:-docs/openapi.yaml}"
rc=$?
[ $rc -eq 0 ] || { for f in s1 s2 s3 agent; do echo "--- $f.log"; tail -n 5 "$T/$f.log"; done; }
exit $rc
