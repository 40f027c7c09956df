#!/bin/sh
# run.sh: HTTP serving benchmark, side by side in one run (issue 4, section 5).
# Same model (a 100-tree GradientBoostingClassifier over 30 features: pickled for Flask, ONNX-ML
# for mlship), same body (bench/serve/out/body.json), same load: wrk at 1, 16 and 64
# connections for $DUR seconds each (default 10), $RUNS times (default 1; medians reported),
# against:
#   mlship     build/mlship serve --models out/repo          (POST /predict)
#   flask      bench/serve/flask_server.py, Flask's threaded server
#   gunicorn   the same app under gunicorn -w 2
#   nginx      bench/serve/nginx.conf: a fixed JSON reply, the machine's HTTP ceiling
# wrk posts the body with bench/serve/post.lua. Installs its apt packages (scripts/deps.sh bench).
# Every server binds 127.0.0.1 and is stopped by its PID. wrk shares the 2 cores with the
# server under test. Results: out/results.jsonl (one line per run) and a table on stdout.
# Usage: sh bench/serve/run.sh [servers...]   (default: mlship flask gunicorn nginx)
#   MODEL_REPO=DIR uses another repository for mlship (e.g. one with batching on).
#   THREADS=N passes --threads N to mlship serve (default: its own, the CPU count).
#   WRK_T=N runs wrk with N threads (default 2; always 1 at 1 connection).
# Each result line also records the 1-minute load average when the cell started.
cd "$(dirname "$0")" || exit 2
HERE=$PWD
ROOT=$(cd ../.. && pwd)
sh "$ROOT/scripts/deps.sh" bench || exit 1
DUR=${DUR:-10}; RUNS=${RUNS:-1}
SERVERS=${*:-mlship flask gunicorn nginx}
OUT=$HERE/out; mkdir -p "$OUT"
[ -f "$OUT/model.pkl" ] || /usr/bin/python3 make_model.py || exit 1
REPO=${MODEL_REPO:-$OUT/repo}
BODY=$OUT/body.json
RES=$OUT/results.jsonl; : >"$RES"
SCRATCH=$(mktemp -d); PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$SCRATCH"' EXIT

wait_port() { # URL: wait until it answers
  for _i in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "server at $1 did not come up" >&2; return 1
}

start() { # name -> PID, URL
  case $1 in
  mlship)
    "$ROOT/build/mlship" serve --models "$REPO" --port 8081 --poll-ms 0 ${THREADS:+--threads $THREADS} 2>"$SCRATCH/mlship.log" &
    PID=$!; URL=http://127.0.0.1:8081/predict; wait_port http://127.0.0.1:8081/v2/health/live ;;
  flask)
    MODEL=$OUT/model.pkl PORT=5000 /usr/bin/python3 "$HERE/flask_server.py" 2>"$SCRATCH/flask.log" &
    PID=$!; URL=http://127.0.0.1:5000/predict; wait_port http://127.0.0.1:5000/health ;;
  gunicorn)
    MODEL=$OUT/model.pkl gunicorn -w 2 -b 127.0.0.1:5001 --chdir "$HERE" flask_server:app 2>"$SCRATCH/gunicorn.log" &
    PID=$!; URL=http://127.0.0.1:5001/predict; wait_port http://127.0.0.1:5001/health ;;
  nginx)
    mkdir -p "$SCRATCH/nginx/logs"
    nginx -p "$SCRATCH/nginx/" -c "$HERE/nginx.conf" -g "daemon off; pid $SCRATCH/nginx/nginx.pid;" 2>"$SCRATCH/nginx.log" &
    PID=$!; URL=http://127.0.0.1:8089/predict; wait_port $URL ;;
  esac
}

for s in $SERVERS; do
  start $s || exit 1
  # Same answer check: mlship and Flask must agree on the model's output for the body.
  if [ $s != nginx ]; then
    got=$(curl -s -X POST -H 'Content-Type: application/json' --data-binary @"$BODY" "$URL")
    echo "$s answers $got (predict_proba[:,1] = $(cat "$OUT/expected.txt"))"
  fi
  for run in $(seq 1 "$RUNS"); do
    for c in 1 16 64; do
      t=${WRK_T:-2}; [ $c -eq 1 ] && t=1
      load=$(cut -d' ' -f1 /proc/loadavg)
      line=$(BODY_FILE=$BODY wrk -t$t -c$c -d"${DUR}s" -s "$HERE/post.lua" "$URL" | sed -n 's/^RESULT //p')
      echo "{\"server\":\"$s\",\"connections\":$c,\"run\":$run,\"load1\":$load,\"result\":$line}" >>"$RES"
      echo "$s c=$c run=$run load=$load $line"
    done
  done
  kill $PID; wait $PID 2>/dev/null; PID=""
  sleep 1
done

# Medians per (server, connections).
/usr/bin/python3 - "$RES" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = sorted({(r["server"], r["connections"]) for r in rows}, key=lambda k: (k[1], k[0]))
print("| server | conns | req/s | p50 ms | p99 ms | errors | load avg |")
print("|---|---:|---:|---:|---:|---:|---|")
for s, c in keys:
    rs = [r["result"] for r in rows if r["server"] == s and r["connections"] == c]
    med = lambda k: st.median(x[k] for x in rs)
    errs = sum(x["err_connect"] + x["err_read"] + x["err_write"] + x["err_status"] + x["err_timeout"] for x in rs)
    loads = ", ".join(str(r.get("load1", "?")) for r in rows if r["server"] == s and r["connections"] == c)
    print(f"| {s} | {c} | {med('req_per_s'):,.0f} | {med('p50_us')/1000:.2f} | {med('p99_us')/1000:.2f} | {errs} | {loads} |")
PY
