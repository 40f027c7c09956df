#!/bin/sh
# test_stream_faults.sh: the streaming guarantees under faults (issue 11 section 6), on the
# embedded queue + SQLite store, on Redis Streams + the Redis store, and on NATS JetStream + a
# SQLite store:
#   - two `mlship stream work` processes consume a paced stream of events while one of them is
#     killed with SIGKILL at random moments, at least KILLS (20) times, and restarted;
#   - on Redis, the server itself (AOF, appendfsync always) is killed with SIGKILL and
#     restarted mid-run, and so is nats-server (file storage, same store dir); the producer
#     resends a batch whose send failed (same ids);
# then, once the queue is drained, tests/faults/sm_check.c classifies every event id: its
# result is stored exactly once and equals the framework's output for its features (the
# fixture's reference .npy), the newest prediction of its key is its event's, and the id is on
# the results stream at least once. Any lost or wrong id fails the case.
# Usage: sh tests/faults/test_stream_faults.sh [build/mlship]     ends "N passed, N failed, N skipped"
# env: N (events per case, 8000), RATE (events/s, 800), KILLS (20)
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
BLD=$(dirname "$M")
case "$M" in /*) ;; *) M="$PWD/$M" ;; esac
N=${N:-8000}; RATE=${RATE:-800}; KILLS=${KILLS:-20}
T=$(mktemp -d) || exit 2
PIDS=""
cleanup() { for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0; skip=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

make -s BUILD="$BLD" "$BLD/sm_check" "$BLD/mxtool" >"$T/make.log" 2>&1 ||
  { echo "FAIL cannot build the checker"; sed 's/^/    | /' "$T/make.log" | head -n 20; echo "0 passed, 1 failed"; exit 1; }
CHK=$(cd "$BLD" && pwd)/sm_check
MX=$(cd "$BLD" && pwd)/mxtool

# The model and its framework reference: XGBoost's own predictions for its fixture rows
# (finite rows only: NaN rows are the missing-value policy's business, not this suite's).
FX=tests/fixtures/ml/xgb_reg_json
ROWS=$("$MX" rows $FX/input_0.npy 40) || { echo "FAIL no fixture rows"; echo "0 passed, 1 failed"; exit 1; }
"$MX" take $FX/input_0.npy "$ROWS" "$T/X.npy" && "$MX" take $FX/output_0.npy "$ROWS" "$T/REF.npy" ||
  { echo "FAIL cannot cut the fixture"; echo "0 passed, 1 failed"; exit 1; }

rand_ms() { # a pseudo-random number of ms in [lo, hi)
  awk -v lo="$1" -v hi="$2" -v s="$(od -An -N4 -tu4 /dev/urandom)" 'BEGIN{srand(s); print int(lo + rand() * (hi - lo))}'
}
sleep_ms() { sleep "$(awk -v m="$1" 'BEGIN{printf "%.3f", m / 1000}')"; }

start_worker() { # name queue store -> prints the pid
  "$M" stream work --model $FX/model.json --queue "$2" --store "$3" --consumer "$1" \
    --batch 32 --linger-ms 2 --lease-ms 1000 >>"$T/$1.log" 2>&1 &
  echo $!
}

# Wait until nothing is left to score: no lag, nothing pending (stream status --json).
drained() { # queue
  i=0
  while [ $i -lt 600 ]; do
    "$M" stream status --queue "$1" --json >"$T/status.json" 2>/dev/null &&
      grep -q '"pending": *0[,}]' "$T/status.json" && grep -q '"lag": *0[,}]' "$T/status.json" && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

run_case() { # name queue store [function that kills and restarts the broker mid-run]
  name=$1 q=$2 s=$3 restart=${4:-}
  prefix="$name-$$"
  "$CHK" produce --queue "$q" --x "$T/X.npy" --n "$N" --prefix "$prefix" --rate "$RATE" \
    >"$T/$name.produce.log" 2>&1 &
  prod=$!; PIDS="$PIDS $prod"
  w1=$(start_worker "$name-w1" "$q" "$s"); w2=$(start_worker "$name-w2" "$q" "$s")
  PIDS="$PIDS $w1 $w2"
  k=0
  while [ $k -lt "$KILLS" ]; do
    sleep_ms "$(rand_ms 150 450)"
    if [ $((k % 2)) -eq 0 ]; then kill -9 "$w1" 2>/dev/null; wait "$w1" 2>/dev/null; w1=$(start_worker "$name-w1" "$q" "$s"); PIDS="$PIDS $w1"
    else kill -9 "$w2" 2>/dev/null; wait "$w2" 2>/dev/null; w2=$(start_worker "$name-w2" "$q" "$s"); PIDS="$PIDS $w2"; fi
    if [ -n "$restart" ] && [ $k -eq $((KILLS / 2)) ]; then $restart; fi
    k=$((k + 1))
  done
  if wait "$prod"; then ok "$name: producer sent $N events (resending after failed sends)"
  else bad "$name: producer failed"; sed 's/^/    | /' "$T/$name.produce.log" | tail -n 5; fi
  if drained "$q"; then ok "$name: queue drained after $KILLS worker kills"
  else bad "$name: queue not drained"; cat "$T/status.json"; fi
  kill -TERM "$w1" "$w2" 2>/dev/null; wait "$w1" "$w2" 2>/dev/null
  if "$CHK" verify --store "$s" --model default --n "$N" --prefix "$prefix" --ref "$T/REF.npy" \
       --output predictions --results "$q" >"$T/$name.verify.log" 2>&1; then
    ok "$name: $(tail -n 1 "$T/$name.verify.log")"
  else
    bad "$name: $(tail -n 1 "$T/$name.verify.log")"; sed 's/^/    | /' "$T/$name.verify.log" | head -n 8
    tail -n 5 "$T/$name-w1.log" | sed 's/^/    w1| /'
  fi
}

# ---- embedded: SQLite queue, SQLite store ------------------------------------------------
run_case sqlite "sqlite://$T/queue.db" "sqlite://$T/store.db"

# ---- Redis Streams + Redis store, on a server of our own (it gets killed) ----------------
RPORT=""
start_redis() {
  redis-server --bind 127.0.0.1 --port "$RPORT" --appendonly yes --appendfsync always --save '' \
    --dir "$T/redis" --daemonize no >>"$T/redis.log" 2>&1 &
  RPID=$!; PIDS="$PIDS $RPID"
  i=0; while [ $i -lt 100 ]; do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && return 0; sleep 0.05; i=$((i + 1)); done
  return 1
}
restart_redis() {
  kill -9 "$RPID"; wait "$RPID" 2>/dev/null
  if start_redis; then ok "redis: killed with SIGKILL and restarted mid-run (AOF, appendfsync always)"
  else bad "redis did not restart"; fi
}
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  mkdir -p "$T/redis"
  RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 6399)
  if start_redis; then
    run_case redis "redis://127.0.0.1:$RPORT/events" "redis://127.0.0.1:$RPORT/0" restart_redis
  else bad "cannot start redis-server"; fi
else
  echo "skip - redis-server not installed"; skip=$((skip + 1))
fi

# ---- NATS JetStream queue (file storage) + SQLite store, on a server of our own ------------
# JetStream writes every message to its files before the PubAck and fsyncs them every 2 minutes
# (sync_interval): a process kill loses nothing that was acknowledged (the page cache survives
# it), which is what this case checks; a machine crash could (docs/queue-nats.md).
NPORT=""
start_nats() {
  nats-server -js -a 127.0.0.1 -p "$NPORT" -sd "$T/nats" >>"$T/nats.log" 2>&1 &
  NPID=$!; PIDS="$PIDS $NPID"
  i=0; while [ $i -lt 100 ]; do (echo >/dev/tcp/127.0.0.1/$NPORT) 2>/dev/null && return 0
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$NPORT),0.2)" 2>/dev/null && return 0
    sleep 0.05; i=$((i + 1)); done
  return 1
}
restart_nats() {
  kill -9 "$NPID"; wait "$NPID" 2>/dev/null
  if start_nats; then ok "nats: nats-server killed with SIGKILL and restarted mid-run (same port and store dir)"
  else bad "nats-server did not restart"; fi
}
if command -v nats-server >/dev/null; then
  mkdir -p "$T/nats"
  NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 4299)
  if start_nats; then
    run_case nats "nats://127.0.0.1:$NPORT/events" "sqlite://$T/nstore.db" restart_nats
    kill "$NPID" 2>/dev/null; wait "$NPID" 2>/dev/null
  else bad "cannot start nats-server"; fi
else
  echo "skip - nats-server not installed"; skip=$((skip + 1))
fi

echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
