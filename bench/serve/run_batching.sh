#!/bin/sh
# run_batching.sh: dynamic batching on vs off (issue 4 section 5), side by side in one run.
# Model: bench/serve/make_mlp.py's MLP 256-1024-1024-10 (1.32M multiply-adds per row), the same
# file in two repositories: out/mlp_off (no config.json) and out/mlp_on (max_batch_size 64,
# max_queue_delay_us $DELAY_US, default 2000). Load: wrk, 64 connections (CONNS), $DUR s
# (default 10), POST /predict with one 256-float row; the two modes alternate $RUNS times
# (default 3) and medians are reported. wrk shares the machine's cores with the server.
# Usage: sh bench/serve/run_batching.sh     (THREADS=N passes --threads N to mlship serve;
#        WRK_T=1|2 wrk threads, default 2)
cd "$(dirname "$0")" || exit 2
HERE=$PWD
ROOT=$(cd ../.. && pwd)
sh "$ROOT/scripts/deps.sh" bench || exit 1   # wrk, curl, python3-onnx for make_mlp.py
DUR=${DUR:-10}; RUNS=${RUNS:-3}; CONNS=${CONNS:-64}; WRK_T=${WRK_T:-2}
OUT=$HERE/out; mkdir -p "$OUT"
/usr/bin/python3 make_mlp.py || exit 1
RES=$OUT/batching.jsonl; : >"$RES"
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null' EXIT
TOPT=""; [ -n "${THREADS:-}" ] && TOPT="--threads $THREADS"
for run in $(seq 1 "$RUNS"); do
  for mode in off on; do
    "$ROOT/build/mlship" serve --models "$OUT/mlp_$mode" --port 8082 --poll-ms 0 $TOPT 2>"$OUT/mlp_$mode.log" &
    PID=$!
    for _i in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:8082/v2/health/live && break; sleep 0.05; done
    curl -s -X POST --data-binary @"$OUT/body_mlp.json" http://127.0.0.1:8082/predict >/dev/null
    load=$(cut -d' ' -f1 /proc/loadavg)
    line=$(BODY_FILE=$OUT/body_mlp.json wrk -t"$WRK_T" -c"$CONNS" -d"${DUR}s" -s "$HERE/post.lua" http://127.0.0.1:8082/predict | sed -n 's/^RESULT //p')
    batches=$(curl -s http://127.0.0.1:8082/metrics | sed -n 's/^mlship_batch_size_count{model="mlp"} //p')
    rows=$(curl -s http://127.0.0.1:8082/metrics | sed -n 's/^mlship_batch_size_sum{model="mlp"} //p')
    echo "{\"mode\":\"$mode\",\"run\":$run,\"load1\":$load,\"model_runs\":${batches:-0},\"rows\":${rows:-0},\"result\":$line}" >>"$RES"
    echo "batching $mode run $run (load $load): $line"
    kill $PID; wait $PID 2>/dev/null; PID=""
    sleep 1
  done
done
/usr/bin/python3 - "$RES" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
med = {}
print("| batching | req/s (median) | runs | p50 ms | p99 ms | rows per model run | errors |")
print("|---|---:|---|---:|---:|---:|---:|")
for mode in ("off", "on"):
    rs = [r for r in rows if r["mode"] == mode]
    q = [r["result"]["req_per_s"] for r in rs]
    med[mode] = st.median(q)
    bs = [r["rows"] / r["model_runs"] for r in rs if r["model_runs"]]
    errs = sum(r["result"][k] for r in rs for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    print(f"| {mode} | {med[mode]:,.0f} | {', '.join(f'{x:,.0f}' for x in q)} | "
          f"{st.median(r['result']['p50_us'] for r in rs)/1000:.2f} | {st.median(r['result']['p99_us'] for r in rs)/1000:.2f} | "
          f"{st.median(bs) if bs else 1:.1f} | {errs} |")
print(f"\nbatching on / off: {med['on'] / med['off']:.2f}x")
PY
