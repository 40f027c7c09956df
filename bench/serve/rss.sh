#!/bin/sh
# rss.sh: resident memory of `mlship serve` on bench/serve/make_mlp.py's 5.3 MB MLP with dynamic
# batching on (max_batch_size 64), after bursts of 1 to 100 concurrent single-row requests, so
# the batcher runs every padded batch size (each has its own session). With BASELINE set to
# another mlship binary, the two alternate RUNS times (default 2): the before/after of a change.
# Usage: [BASELINE=/path/to/old/mlship] sh bench/serve/rss.sh
cd "$(dirname "$0")" || exit 2
ROOT=$(cd ../.. && pwd)
OUT=$PWD/out
sh "$ROOT/scripts/deps.sh" bench || exit 1
RUNS=${RUNS:-2}
/usr/bin/python3 make_mlp.py >/dev/null || exit 1
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null' EXIT
measure() { # binary
  "$1" serve --models "$OUT/mlp_on" --port 8083 --threads 2 --poll-ms 0 2>"$OUT/rss.log" &
  PID=$!
  for _i in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:8083/v2/health/live && break; sleep 0.05; done
  start=$(awk '/^VmRSS/ {print $2}' /proc/$PID/status)
  for _round in 1 2 3; do
    for c in 1 2 3 5 8 13 21 34 55 64 100; do
      seq "$c" | xargs -P "$c" -I{} curl -s -o /dev/null -X POST --data-binary @"$OUT/body_mlp.json" \
        http://127.0.0.1:8083/predict
    done
  done
  batches=$(curl -s http://127.0.0.1:8083/metrics | sed -n 's/^mlship_batch_size_count{model="mlp"} //p')
  after=$(awk '/^VmRSS/ {print $2}' /proc/$PID/status)
  kill $PID; wait $PID 2>/dev/null; PID=""
  echo "{\"binary\":\"$1\",\"rss_kb_started\":$start,\"rss_kb_after\":$after,\"model_runs\":${batches:-0}}"
}
for _run in $(seq 1 "$RUNS"); do
  [ -n "${BASELINE:-}" ] && measure "$BASELINE"
  measure "$ROOT/build/mlship"
done
