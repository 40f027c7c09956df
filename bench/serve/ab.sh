#!/bin/sh
# ab.sh: before/after req/s of two mlship builds on one route, alternating so that both see
# the same (shared) machine: round 1 runs A then B, round 2 B then A, and so on. Each run is
# wrk -t2 -c16 for $DUR seconds (default 5) on loopback, $ROUNDS rounds (default 2), with the
# bench/serve model and body (make_model.py writes them; /v2 routes get the same row as a
# V2 request).
# Usage: sh bench/serve/ab.sh BEFORE_BIN AFTER_BIN [ROUTE]     (ROUTE: /predict by default)
# Prints one line per round: "label req/s p50_us p99_us", and each server is stopped by its PID.
cd "$(dirname "$0")" || exit 2
A=$1; B=$2; ROUTE=${3:-/predict}; DUR=${DUR:-5}; ROUNDS=${ROUNDS:-2}; PORT=${PORT:-8091}
[ -x "$A" ] && [ -x "$B" ] || { echo "usage: sh bench/serve/ab.sh BEFORE_BIN AFTER_BIN [ROUTE]" >&2; exit 2; }
[ -f out/body.json ] || /usr/bin/python3 make_model.py || exit 1
BODY=$PWD/out/body.json
case $ROUTE in /v2*) BODY=$PWD/out/body_v2.json
  /usr/bin/python3 -c "import json;f=json.load(open('out/body.json'))['features'];json.dump({'inputs':[{'name':'X','shape':[1,len(f)],'datatype':'FP32','data':f}]},open('out/body_v2.json','w'))" ;;
esac
PID=""; trap '[ -n "$PID" ] && kill $PID 2>/dev/null' EXIT
one() { # label binary
  "$2" serve --models out/repo --port $PORT --poll-ms 0 2>/dev/null & PID=$!
  for _i in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:$PORT/v2/health/live && break; sleep 0.05; done
  curl -s -X POST --data-binary @"$BODY" http://127.0.0.1:$PORT$ROUTE >/dev/null
  r=$(BODY_FILE=$BODY wrk -t2 -c16 -d${DUR}s -s post.lua http://127.0.0.1:$PORT$ROUTE | sed -n 's/^RESULT //p')
  kill $PID; wait $PID 2>/dev/null; PID=""
  printf '%s %s\n' "$1" "$(printf '%s' "$r" | /usr/bin/python3 -c "import json,sys;d=json.load(sys.stdin);print(d['req_per_s'],d['p50_us'],d['p99_us'],'errors',d['err_status']+d['err_read']+d['err_connect'])")"
}
# odd rounds run before first, even rounds after first: neither always gets the warmer slot
for i in $(seq 1 "$ROUNDS"); do
  if [ $((i % 2)) -eq 1 ]; then one before "$A"; one after "$B"; else one after "$B"; one before "$A"; fi
done
