#!/bin/sh
# Partitioned queue scaling (issue 12 section 4; docs/partitions.md): events/s end to end with
# 1, 2 and 3 `mlship stream work` processes on a queue of three partitions over three
# redis-server processes on loopback (started here, no persistence, stopped by PID), the
# results into a Redis store on the first server; and, for reference, one worker on an
# ordinary (unpartitioned) stream of the first server.
# One measurement: the workers start on an empty stream and are given time to split the
# partitions (stream status shows W owners), then tests/faults/sm_check.c produces N events
# (K keys, a per-key seq) as fast as it can, and the time runs from its start to the queue
# drained; then sm_check verifies every result (lost, wrong, duplicated in the store and
# reordered per key must all be 0, or the run fails). The producer, the three redis-servers
# and the workers share the machine's 2 cores: past 2 workers there is no core left to gain.
# REPS rounds, the worker counts alternating in each; one JSON line per measurement (with the
# load average), then the medians.
#   REPS=3 sh bench/stream/partitions.sh
# env: REPS (3), N (150000), K (200)
set -e
cd "$(dirname "$0")/../.."
REPS=${REPS:-3}; N=${N:-150000}; K=${K:-200}
M=$PWD/build/mlship
make -s all build/sm_check build/mxtool
CHK=$PWD/build/sm_check MX=$PWD/build/mxtool
FX=tests/fixtures/ml/xgb_reg_json
T=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
ROWS=$("$MX" rows $FX/input_0.npy 40)
"$MX" take $FX/input_0.npy "$ROWS" "$T/X.npy"
"$MX" take $FX/output_0.npy "$ROWS" "$T/REF.npy"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORTS=""
for i in 1 2 3; do
  p=$(free_port)
  redis-server --bind 127.0.0.1 --port "$p" --save '' --appendonly no --daemonize no >"$T/redis$i.log" 2>&1 &
  PIDS="$PIDS $!"; PORTS="$PORTS $p"
done
set -- $PORTS
HOSTS="127.0.0.1:$1,127.0.0.1:$2,127.0.0.1:$3"; STORE="redis://127.0.0.1:$1/0"
for p in $PORTS; do i=0; while [ $i -lt 100 ] && ! redis-cli -p "$p" ping >/dev/null 2>&1; do sleep 0.05; i=$((i + 1)); done; done

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
run() { # workers round ("u": one worker on an unpartitioned stream of the first server)
  w=$1 q="redis://$HOSTS/bench-$1-$2-$$" wp=""
  unp=""
  if [ "$w" = u ]; then q="redis://$(echo "$HOSTS" | cut -d, -f1)/bench-u-$2-$$"; w=1; unp=1; fi
  for i in $(seq 1 "$w"); do
    "$M" stream work --model $FX/model.json --queue "$q" --store "$STORE" --consumer "w$i" \
      --batch 64 --lease-ms 5000 >>"$T/w.log" 2>&1 &
    wp="$wp $!"
  done
  PIDS="$PIDS $wp"
  i=0; [ -n "$unp" ] && i=100
  while [ $i -lt 100 ]; do # the partitions split: W distinct owners, none free
    "$M" stream status --queue "$q" --json >"$T/s.json" 2>/dev/null || true
    o=$(grep -o '"owner":"[^"]*"' "$T/s.json" | sort -u | grep -vc '"owner":""' || true)
    [ "$o" = "$w" ] && ! grep -q '"owner":""' "$T/s.json" && break
    sleep 0.1; i=$((i + 1))
  done
  kill -STOP $wp
  "$CHK" produce --queue "$q" --x "$T/X.npy" --n "$N" --prefix "b$w-$2-$$" --keys "$K" >/dev/null
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(now_ms)
  kill -CONT $wp
  while :; do
    "$M" stream status --queue "$q" --json 2>/dev/null | sed 's/,"consumers".*//' >"$T/s.json"
    grep -q '"pending":0,' "$T/s.json" && grep -q '"lag":0,' "$T/s.json" && break
    sleep 0.05
  done
  t1=$(now_ms)
  kill -TERM $wp; wait $wp 2>/dev/null || true
  "$CHK" verify --store "$STORE" --model default --n "$N" --prefix "b$w-$2-$$" --ref "$T/REF.npy" \
    --output predictions --results "$q" --keys "$K" >"$T/v.log" || { cat "$T/v.log"; exit 1; }
  eps=$(( N * 1000 / (t1 - t0) ))
  [ -n "$unp" ] && w=u
  echo "{\"workers\":\"$w\",\"round\":$2,\"events\":$N,\"ms\":$((t1 - t0)),\"events_per_s\":$eps,\"load\":$load}" | tee -a "$T/all.jsonl"
}
for r in $(seq 1 "$REPS"); do for w in u 1 2 3; do run "$w" "$r"; done; done
echo "medians (events/s, backlog of $N: resume -> drained, every result verified):"
for w in u 1 2 3; do
  med=$(grep "\"workers\":\"$w\"," "$T/all.jsonl" | sed 's/.*"events_per_s":\([0-9]*\).*/\1/' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  [ "$w" = u ] && echo "  1 worker, unpartitioned stream: $med" || echo "  $w worker(s), 3 partitions: $med"
done
