#!/bin/sh
# run_ab.sh: `mlship serve` req/s of two builds side by side in one run, alternating
# A B A B ... (issue 10: a refactor must not be slower). The same repository (the example
# fraud model, 30 float features, as model "default"), the same bodies (one row), wrk with
# 2 threads and 16 connections for $DUR seconds (default 5) per cell, on 127.0.0.1 only,
# for POST /v2/models/default/infer (V2 JSON) and POST /predict.
# Usage: sh bench/serve/run_ab.sh A_BINARY B_BINARY [ROUNDS (default 3)]
# Prints one line per cell and the median req/s per (build, route).
set -eu
A=$1; B=$2; ROUNDS=${3:-3}; DUR=${DUR:-5}
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d); PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT
mkdir -p "$T/repo/default/1"; cp "$ROOT/examples/fraud/model.onnx" "$T/repo/default/1/model.onnx"
ROW="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0,1.1,1.2,1.3,1.4,1.5,1.6,1.7,1.8,1.9,2.0,2.1,2.2,2.3,2.4,2.5,2.6,2.7,2.8,2.9,3.0"
printf '{"inputs":[{"name":"features","shape":[1,30],"datatype":"FP32","data":[%s]}]}' "$ROW" >"$T/v2.json"
printf '{"features":[%s]}' "$ROW" >"$T/predict.json"
: >"$T/res"
cell() { # LABEL BINARY
  "$2" serve --models "$T/repo" --port 8093 --poll-ms 0 2>"$T/log" &
  PID=$!
  for _i in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:8093/v2/health/ready && break; sleep 0.05; done
  for route in v2 predict; do
    url=http://127.0.0.1:8093/predict; [ $route = v2 ] && url=http://127.0.0.1:8093/v2/models/default/infer
    rps=$(BODY_FILE=$T/$route.json wrk -t2 -c16 -d"${DUR}s" -s "$HERE/post.lua" "$url" |
          sed -n 's/^RESULT .*"req_per_s":\([0-9.]*\).*"err_status":\([0-9]*\).*/\1 \2/p')
    echo "$1 $route $rps" | tee -a "$T/res"
  done
  kill $PID; wait $PID 2>/dev/null || true; PID=""
}
for r in $(seq 1 "$ROUNDS"); do cell A "$A"; cell B "$B"; done
echo "medians (req/s; A=$A B=$B):"
for b in A B; do for route in v2 predict; do
  printf '%s %s ' $b $route
  awk -v b=$b -v r=$route '$1==b && $2==r {print $3}' "$T/res" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
done; done
