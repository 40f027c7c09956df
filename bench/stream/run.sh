#!/bin/sh
# Streaming benchmark (issue 11 section 7), side by side in one run, on one redis-server that
# the script starts (127.0.0.1, no persistence, as the anchors ran) and stops by PID:
#   ceiling        the machine's raw Redis Streams rate with no model (stream_bench ceiling:
#                  XADD -> XREADGROUP COUNT 100 -> XACK, flowing)
#   py_c64         the Python consumer a team writes today (py_consumer.py: redis-py + the
#                  pickled scikit-learn GBDT, COUNT 64, pipelined result writes), full speed
#   py_c1          the tutorial's one-at-a-time loop (COUNT 1, no pipeline), full speed
#   mlship         `mlship stream work --model gbdt.onnx` (the same model as ONNX-ML), full speed
#   py_paced / mlship_paced   both at RATE (2,000) events/s offered: event-to-result p50/p99
#   sqlite_commit  the machine's durable SQLite commits/s with the embedded queue's settings
#                  (WAL, synchronous=FULL; bench/ceilings/sqlite_commit.c), one row per commit
#   embedded       the embedded deployment: tests/faults/sm_check.c produces NEMB events into a
#                  SQLite queue while `mlship stream work` scores them into a SQLite store;
#                  events/s = NEMB / (first send -> queue drained); then sm_check verifies every
#                  stored result against scikit-learn's (a lost or wrong one fails the run)
#   tickets        `mlship serve --queue sqlite --store sqlite --stream-workers 1` and
#                  ticket_bench.c: CALLERS (64) concurrent callers, each trigger -> 202 ->
#                  long-poll -> 200 done, for TSECS (10) s; round trips/s, p50/p99
#   tickets_redis  the same with queue and store on the Redis server (db 1 for the store)
# Every system gets the same events from the same driver (stream_bench drive: id, ts,
# features as comma-separated text), writes one result per event to events:results, and has
# every result checked against scikit-learn's own predict_proba (REF.npy): a run with a wrong
# or missing result fails. Producer, Redis and consumer share the machine's 2 cores.
# REPS rounds, the systems alternating in each; one JSON line per measurement (with the load
# average when it started), then the medians.
#   REPS=3 sh bench/stream/run.sh
# env: REPS (3), N (100000 full-speed events), NSLOW (10000, the tutorial loop), NPACED (30000),
#      RATE (2000), PORT (6395), NEMB (50000), CALLERS (64), TSECS (10)
set -e
cd "$(dirname "$0")/../.."
REPS=${REPS:-3}; N=${N:-100000}; NSLOW=${NSLOW:-10000}; NPACED=${NPACED:-30000}; RATE=${RATE:-2000}
PORT=${PORT:-6395}; NEMB=${NEMB:-50000}; CALLERS=${CALLERS:-64}; TSECS=${TSECS:-10}
O=bench/stream/out
M=$PWD/build/mlship
sh scripts/deps.sh bench
make -s all build/sm_check build/mxtool
[ -f $O/gbdt.onnx ] && [ -f $O/X.npy ] || /usr/bin/python3 bench/stream/make_data.py
cc -O2 -o $O/stream_bench bench/stream/stream_bench.c -lhiredis -lcjson -lpthread -lm
B=$O/stream_bench
cc -O2 -o $O/ticket_bench bench/stream/ticket_bench.c -lpthread
cc -O2 -o $O/sqlite_commit bench/ceilings/sqlite_commit.c -lsqlite3
A=$PWD/$O
if redis-cli -p $PORT ping >/dev/null 2>&1; then echo "port $PORT busy: refusing to run" >&2; exit 1; fi
mkdir -p $O/redis
redis-server --bind 127.0.0.1 --port $PORT --save '' --appendonly no --dir $O/redis >$O/redis.log 2>&1 &
RPID=$!
CPID=""
trap 'rc=$?; [ -n "$CPID" ] && kill $CPID 2>/dev/null; kill $RPID 2>/dev/null; wait 2>/dev/null; exit $rc' EXIT INT TERM
for i in $(seq 1 50); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.1; done
R="redis-cli -p $PORT"
RES=$O/results-$(date -u +%Y%m%dT%H%MZ).jsonl
: > "$RES"

fresh() { $R DEL events events:results events:dead >/dev/null; }
load() { cut -d' ' -f1 /proc/loadavg; }
emit() { # config json-line
  line=$(echo "$2" | sed "s/^{/{\"config\":\"$1\",\"load\":$3,/")
  echo "$line" | tee -a "$RES"
}
wait_group() { # until a consumer blocks in XREADGROUP (its model loaded): CLIENT LIST's last command
  for i in $(seq 1 1200); do
    $R CLIENT LIST 2>/dev/null | grep -q "cmd=xreadgroup" && return 0; sleep 0.05
  done
  echo "consumer did not start" >&2; return 1
}
run_consumer() { # config n rate command...
  cfg=$1 n=$2 rate=$3; shift 3
  fresh; l=$(load)
  "$@" & CPID=$!
  wait_group
  out=$($B drive $PORT "$n" "$rate" $O/X.npy $O/REF.npy events) || { echo "$cfg: $out" >&2; exit 1; }
  kill -TERM $CPID; wait $CPID 2>/dev/null || true; CPID=""
  emit "$cfg" "$out" "$l"
}
py() { exec /usr/bin/python3 bench/stream/py_consumer.py --port $PORT --model $O/gbdt.pkl "$@"; }
ml() { exec "$M" stream work --model $O/gbdt.onnx --queue "redis://127.0.0.1:$PORT/events" "$@"; }

drained_sqlite() { # queue URL: until nothing is pending or unread
  for i in $(seq 1 6000); do
    "$M" stream status --queue "$1" --json 2>/dev/null | grep -q '"pending":0,"lag":0,' && return 0; sleep 0.02
  done
  return 1
}
embedded() {
  rm -f $A/eq.db* $A/es.db*; l=$(load)
  "$M" stream work --model $A/gbdt.onnx --queue "sqlite://$A/eq.db" --store "sqlite://$A/es.db" --batch 256 >$A/emb.log 2>&1 &
  CPID=$!
  sleep 0.5
  t0=$(date +%s%N)
  build/sm_check produce --queue "sqlite://$A/eq.db" --x $A/X.npy --n "$NEMB" --prefix emb >/dev/null
  drained_sqlite "sqlite://$A/eq.db" || { echo "embedded: not drained" >&2; exit 1; }
  t1=$(date +%s%N)
  kill -TERM $CPID; wait $CPID 2>/dev/null || true; CPID=""
  v=$(build/sm_check verify --store "sqlite://$A/es.db" --model default --n "$NEMB" --prefix emb \
        --ref $A/REF.npy --output probabilities) || { echo "embedded: $v" >&2; exit 1; }
  emit embedded "{\"bench\":\"embedded\",\"n\":$NEMB,\"events_per_s\":$(( NEMB * 1000000000 / (t1 - t0) )),\"check\":\"$v\"}" "$l"
}
tickets() { # config queue-url store-url
  rm -rf $A/repo $A/tq.db* $A/ts.db*; mkdir -p $A/repo/fraud/1; cp $A/gbdt.onnx $A/repo/fraud/1/model.onnx
  $R DEL tickets >/dev/null
  feats=$(build/mxtool emit instances $A/X.npy 0 | sed 's/.*\[\[\(.*\)\]\].*/[\1]/')
  l=$(load)
  "$M" serve --models $A/repo --port 0 --store "$3" --queue "$2" --stream-workers 1 >$A/serve.log 2>&1 &
  CPID=$!; p=""
  for i in $(seq 1 200); do
    p=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' $A/serve.log | head -n 1)
    [ -n "$p" ] && break; sleep 0.05
  done
  [ -n "$p" ] || { echo "serve did not start" >&2; cat $A/serve.log >&2; exit 1; }
  out=$($O/ticket_bench "$p" fraud "$CALLERS" "$TSECS" "$feats") || { echo "tickets: $out" >&2; exit 1; }
  kill -TERM $CPID; wait $CPID 2>/dev/null || true; CPID=""
  emit "$1" "$out" "$l"
}

for rep in $(seq 1 "$REPS"); do
  l=$(load); emit ceiling "$($B ceiling $PORT 200000 100)" "$l"
  l=$(load); emit sqlite_commit "$($O/sqlite_commit $A/commit.db 2000 1)" "$l"
  embedded
  tickets tickets "sqlite://$A/tq.db" "sqlite://$A/ts.db"
  tickets tickets_redis "redis://127.0.0.1:$PORT/tickets" "redis://127.0.0.1:$PORT/1"
  run_consumer py_c64 "$N" 0 py --count 64
  run_consumer mlship "$N" 0 ml --batch 64
  run_consumer py_c1 "$NSLOW" 0 py --count 1 --no-pipeline
  run_consumer py_paced "$NPACED" "$RATE" py --count 64
  run_consumer mlship_paced "$NPACED" "$RATE" ml --batch 64
done

echo "medians ($REPS rounds):"
for cfg in ceiling py_c64 mlship py_c1 py_paced mlship_paced sqlite_commit embedded tickets tickets_redis; do
  for k in msgs_per_s events_per_s p50_ms p99_ms commits_per_s per_s; do
    v=$(grep "\"config\":\"$cfg\"" "$RES" | sed -n "s/.*\"$k\":\([0-9.]*\).*/\1/p" | sort -n |
        awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}')
    [ -n "$v" ] && printf '  %-13s %-13s %s\n' "$cfg" "$k" "$v"
  done
done
echo "results: $RES"
