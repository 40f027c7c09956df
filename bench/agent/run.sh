#!/bin/sh
# bench/agent/run.sh: the device agent (issue 14 section 4), side by side in one run, on the
# 200-tree GBDT of the batch and stream benchmarks (scikit-learn GradientBoostingClassifier,
# depth 6, 30 features, as ONNX-ML; bench/stream/make_data.py writes it):
#   - cold start to the first local prediction: process spawned -> first POST /v2/models/gb/infer
#     answered 200 (bench/agent/coldstart.py, 10 runs, min and median), for `mlship agent` (a state
#     directory with the model installed, backend up) and `mlship serve --model` on the same file;
#   - resident memory (VmRSS) of each after 200 requests;
#   - swap time: the agent's own last_verify_ms (load, warm, golden check) and last_swap_ms (state
#     saved, repository rescanned, new version serving) over 5 updates, and publish -> serving;
#   - local req/s: wrk -t2 -c16 -d${DUR:-10}s, one row per request, agent vs serve, same body;
#   - bytes per update: what the backend sent for one update (manifest, signature, blob: its
#     access log's bytes_out) and for a check with nothing new (304).
# Results: one JSON line in bench/agent/out/results-<UTC>.jsonl, a table on stdout.
# Usage: sh bench/agent/run.sh    (needs wrk and python3-sklearn: scripts/deps.sh bench)
cd "$(dirname "$0")/../.." || exit 2
M=build/mlship; PY=/usr/bin/python3; DUR=${DUR:-10}
OUT=bench/agent/out; mkdir -p "$OUT"
make -s -j2 all build/mxtool >/dev/null || exit 1
[ -f bench/stream/out/gbdt.onnx ] || $PY bench/stream/make_data.py || exit 1
MODEL=bench/stream/out/gbdt.onnx
T=$(mktemp -d); PUB=$T/pub; ST=$T/state
# ports from the kernel (bind 0): ports derived from the PID collided with other services
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BP=$(free_port); AP=$(free_port); SP=$(free_port); BPID=""; APID=""
cleanup() { for p in $APID $BPID; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
wait_up() { i=0; until curl -sf "http://127.0.0.1:$1/v2/health/live" >/dev/null 2>&1; do i=$((i + 1)); [ $i -gt 400 ] && return 1; sleep 0.05; done; }
status() { curl -s "http://127.0.0.1:$AP/v1/agent/status"; }
field() { status | $PY -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

# inputs: 8 golden rows, a one-row request body
build/mxtool take bench/stream/out/X.npy "$(build/mxtool rows bench/stream/out/X.npy 8)" "$T/golden.npy" >/dev/null
$PY -c "import numpy as np, json; x = np.load('bench/stream/out/X.npy')[:1]
print(json.dumps({'inputs': [{'name': 'X', 'datatype': 'FP32', 'shape': list(x.shape), 'data': x.ravel().tolist()}]}))" > "$T/body.json" \
  || { echo "cannot write the request body"; exit 1; }
in=$($M inspect "$MODEL" | $PY -c "import json,sys; print(json.load(sys.stdin)['inputs'][0]['name'])")
sed -i "s/\"name\": \"X\"/\"name\": \"$in\"/" "$T/body.json"

$M edge keygen -o "$T/key" >/dev/null
V=0
pub() { V=$((V + 1)); $M edge publish --key "$T/key" --model "$MODEL" --name gb --version $V --dir "$PUB" --golden "$T/golden.npy" >/dev/null; }
pub
$M serve --model "$MODEL" --edge-dir "$PUB" --host 127.0.0.1 --port $BP --threads 1 --access-log "$T/access.log" 2>/dev/null & BPID=$!
wait_up $BP || { echo "the backend did not start"; exit 1; }
AGENT="$M agent --state $ST --backend http://127.0.0.1:$BP/edge --name gb --pubkey $T/key.pub --listen 127.0.0.1:$AP --poll-s 1 --confirm-s 1 --threads 2"
$AGENT 2>"$T/agent.log" & APID=$!
wait_up $AP
i=0; until [ "$(field state 2>/dev/null)" = confirmed ] || [ $i -gt 300 ]; do i=$((i + 1)); sleep 0.1; done

# bytes per update: the backend's bytes_out for one update, and for a check with nothing new
bytes_between() { $PY -c "import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
print(sum(r['bytes_out'] for r in rows if r.get('path','').startswith('/edge/')), len(rows))" "$T/access.log" "$1"; }
n0=$(wc -l < "$T/access.log"); sleep 2.2; idle=$(bytes_between "$n0")
blob=$(stat -c %s "$MODEL"); man=$(stat -c %s "$PUB/gb/manifest.json"); sig=$(stat -c %s "$PUB/gb/manifest.sig")

# swap time over 5 updates
verify=""; swapt=""; lat=""
for k in 1 2 3 4 5; do
  n0=$(wc -l < "$T/access.log"); t0=$($PY -c 'import time; print(time.time())')
  pub
  until [ "$(field serving_version)" = $V ]; do sleep 0.01; done
  t1=$($PY -c 'import time; print(time.time())')
  until [ "$(field state)" = confirmed ]; do sleep 0.05; done
  [ $k = 1 ] && upd=$(bytes_between "$n0")
  verify="$verify $(field last_verify_ms)"; swapt="$swapt $(field last_swap_ms)"
  lat="$lat $($PY -c "print(round(($t1 - $t0) * 1000, 1))")"
done
kill $APID; wait $APID 2>/dev/null; APID=""

# cold start and memory: the agent (state installed, backend up) and serve on the same file
cold_a=$($PY bench/agent/coldstart.py 10 "http://127.0.0.1:$AP/v2/models/gb/infer" "$T/body.json" -- $AGENT)
cold_s=$($PY bench/agent/coldstart.py 10 "http://127.0.0.1:$SP/v2/models/default/infer" "$T/body.json" -- \
  $M serve --model "$MODEL" --host 127.0.0.1 --port $SP --threads 2)

# req/s, one after the other, same body and load
rps() { BODY_FILE=$T/body.json wrk -t2 -c16 -d${DUR}s -s bench/serve/post.lua "$1" | sed -n 's/^RESULT //p'; }
$AGENT 2>/dev/null & APID=$!; wait_up $AP; r_agent=$(rps "http://127.0.0.1:$AP/v2/models/gb/infer"); kill $APID; wait $APID 2>/dev/null; APID=""
$M serve --model "$MODEL" --host 127.0.0.1 --port $SP --threads 2 2>/dev/null & SPID=$!; wait_up $SP
r_serve=$(rps "http://127.0.0.1:$SP/v2/models/default/infer"); kill $SPID; wait $SPID 2>/dev/null

stamp=$(date -u +%Y%m%dT%H%MZ)
$PY - "$OUT/results-$stamp.jsonl" <<PY
import json, statistics, sys
def nums(s): return [float(x) for x in s.split()]
r = {"when": "$stamp", "model": "$MODEL", "model_bytes": $blob,
     "cold_agent": json.loads('''$cold_a'''), "cold_serve": json.loads('''$cold_s'''),
     "verify_ms": nums("$verify"), "swap_ms": nums("$swapt"), "publish_to_serving_ms": nums("$lat"),
     "update_bytes": [int(x) for x in "$upd".split()][0], "update_requests": [int(x) for x in "$upd".split()][1],
     "idle_check_bytes": [int(x) for x in "$idle".split()][0], "idle_check_requests": [int(x) for x in "$idle".split()][1],
     "manifest_bytes": $man, "sig_bytes": $sig,
     "rps_agent": json.loads('''$r_agent'''), "rps_serve": json.loads('''$r_serve''')}
open(sys.argv[1], "a").write(json.dumps(r) + "\n")
med = statistics.median
print("| measure | mlship agent | mlship serve |")
print("|---|---|---|")
print("| cold start to first prediction, median of 10 (min) | %.1f ms (%.1f) | %.1f ms (%.1f) |" % (
    r["cold_agent"]["median_ms"], r["cold_agent"]["min_ms"], r["cold_serve"]["median_ms"], r["cold_serve"]["min_ms"]))
print("| resident memory after 200 requests | %.1f MiB | %.1f MiB |" % (r["cold_agent"]["rss_kb"] / 1024, r["cold_serve"]["rss_kb"] / 1024))
print("| local POST /v2 infer, 1 row, wrk -t2 -c16 | %.0f req/s (p99 %d us) | %.0f req/s (p99 %d us) |" % (
    r["rps_agent"]["req_per_s"], r["rps_agent"]["p99_us"], r["rps_serve"]["req_per_s"], r["rps_serve"]["p99_us"]))
print("| update: verify (load+warm+golden), median of 5 | %.1f ms | |" % med(r["verify_ms"]))
print("| update: swap (state saved -> new version serving), median of 5 | %.1f ms | |" % med(r["swap_ms"]))
print("| update: publish -> serving (poll 1 s), median of 5 | %.0f ms | |" % med(r["publish_to_serving_ms"]))
print("| bytes per update (%d requests: manifest %d + sig %d + blob %d, bodies) | %d | |" % (
    r["update_requests"], r["manifest_bytes"], r["sig_bytes"], r["model_bytes"], r["update_bytes"]))
print("| bytes per check with nothing new (%d requests, 304) | %d | |" % (r["idle_check_requests"], r["idle_check_bytes"]))
PY
