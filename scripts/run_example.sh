#!/bin/sh
# `make run`: the example fraud model served the real-time way, with its features in SQLite.
#   1. loads examples/fraud/features.csv (customers c_1..c_200, features f0..f29) into
#      build/example.db, table customer_features
#   2. writes the model repository examples/fraud/models/fraud/1/model.onnx (its config.json,
#      committed, declares the features, dynamic batching and a daily batch job at 02:00)
#   3. publishes one batch run of every customer (for the predictions lookup)
#   4. prints curl commands to try, then runs `mlship serve` in the foreground (Ctrl-C stops it)
# PORT=N picks another port (default 8080). DB=FILE another SQLite file (default build/example.db).
# SETUP_ONLY=1 stops after step 4's commands are printed, without serving (tests/docs/test_readme.sh
# uses it to run those commands, and the README's, against a server it starts itself).
set -e
cd "$(dirname "$0")/.."
M=${BUILD:-build}/mlship
DB=${DB:-build/example.db}
STORE=sqlite://$DB
PORT=${PORT:-8080}
REPO=examples/fraud/models
rm -f "$DB" "$DB-wal" "$DB-shm"
$M features load --store "$STORE" --table customer_features --key customer_id examples/fraud/features.csv
mkdir -p "$REPO/fraud/1"
cp examples/fraud/model.onnx "$REPO/fraud/1/model.onnx.tmp" && mv "$REPO/fraud/1/model.onnx.tmp" "$REPO/fraud/1/model.onnx"
$M batch --model "$REPO/fraud/1/model.onnx" --input examples/fraud/features.csv --key customer_id --store "$STORE"
U=http://127.0.0.1:$PORT
cat <<TXT

mlship serve is starting on $U with model 'fraud' (examples/fraud/models) and its features in
$DB. Try, from another terminal:

  # Open Inference Protocol (KServe V2 / Triton clients)
  curl -s -X POST $U/v2/models/fraud/infer -H 'Content-Type: application/json' -d @examples/fraud/request.json
  # the tutorial's shape: one row of 30 features
  curl -s -X POST $U/predict -d '{"features": [$(sed -n 2p examples/fraud/features.csv | cut -d, -f2- | sed 's/,/, /g')]}'
  # keys instead of features: the server reads the rows from SQLite (c_999 is unknown)
  curl -s -X POST $U/v1/models/fraud:predict -d '{"keys": ["c_1", "c_2", "c_999"]}'
  # a precomputed batch prediction (published by the batch run above; daily at 02:00 from config.json)
  curl -s $U/v1/models/fraud/predictions/c_1
  # health and Prometheus metrics
  curl -s $U/v2/health/ready
  curl -s $U/metrics | grep -E '^mlship_(requests_total|batch_size_count|batch_next)'

TXT
[ "${SETUP_ONLY:-0}" = 1 ] && exit 0
exec $M serve --models "$REPO" --store "$STORE" --port "$PORT"
