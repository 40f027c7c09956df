#!/bin/sh
# test_partitions.sh: a partitioned queue over three redis-server processes on loopback (issue
# 12 section 4; docs/partitions.md), with the fault checker's per-key sequence check:
#   - events for K keys, each key's events numbered (tests/faults/sm_check.c --keys K), go
#     through redis://h1,h2,h3/STREAM; one worker, then three workers of which one is killed
#     with SIGKILL mid-run (its partitions are taken over after the lease), restarted, and a
#     second one killed; the store killed and restarted under two workers (failed batches
#     are given back and redone in order); a worker paused with SIGSTOP past its lease;
#   - after the drain, sm_check verify: nothing lost, nothing duplicated in the store, nothing
#     reordered per key (the order each key's results were written), every value equal to the
#     framework's reference (XGBoost's own predictions, tests/fixtures/ml/xgb_reg_json); the
#     killed worker restarts and gets partitions back, then another is killed;
#   - the checker is shown to fail when order breaks: on a results stream written out of order
#     by hand, and on a deliberately broken run (an unpartitioned queue where a consumer died
#     holding a batch), where reordered must be above zero and verify must exit non-zero.
# Usage: sh tests/stream/test_partitions.sh [build/mlship]   ends "N passed, N failed, N skipped"
# env: N (events per case, 4000), K (keys, 40), RATE (events/s for the kill case, 1000)
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
BLD=$(dirname "$M")
case "$M" in /*) ;; *) M="$PWD/$M" ;; esac
N=${N:-4000}; K=${K:-40}; RATE=${RATE:-1000}
T=$(mktemp -d) || exit 2
PIDS=""
cleanup() { for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0; skip=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  echo "skip - redis-server not installed (scripts/deps.sh test)"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
make -s BUILD="$BLD" "$BLD/sm_check" "$BLD/mxtool" >"$T/make.log" 2>&1 ||
  { echo "FAIL cannot build the checker"; sed 's/^/    | /' "$T/make.log" | head -n 20; echo "0 passed, 1 failed"; exit 1; }
CHK=$(cd "$BLD" && pwd)/sm_check
MX=$(cd "$BLD" && pwd)/mxtool
FX=tests/fixtures/ml/xgb_reg_json
ROWS=$("$MX" rows $FX/input_0.npy 40) || { echo "FAIL no fixture rows"; echo "0 passed, 1 failed"; exit 1; }
"$MX" take $FX/input_0.npy "$ROWS" "$T/X.npy" && "$MX" take $FX/output_0.npy "$ROWS" "$T/REF.npy" ||
  { echo "FAIL cannot cut the fixture"; echo "0 passed, 1 failed"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORTS=""
for i in 1 2 3; do
  p=$(free_port)
  redis-server --bind 127.0.0.1 --port "$p" --save '' --appendonly no --daemonize no >"$T/redis$i.log" 2>&1 &
  PIDS="$PIDS $!"; PORTS="$PORTS $p"
done
set -- $PORTS
P1=$1 P2=$2 P3=$3
for p in $PORTS; do
  i=0; while [ $i -lt 100 ] && ! redis-cli -p "$p" ping >/dev/null 2>&1; do sleep 0.05; i=$((i + 1)); done
  redis-cli -p "$p" ping >/dev/null 2>&1 || { bad "redis-server on $p did not start"; echo "$pass passed, $fail failed, $skip skipped"; exit 1; }
done
ok "three redis-server processes on 127.0.0.1:$P1, :$P2, :$P3"
HOSTS="127.0.0.1:$P1,127.0.0.1:$P2,127.0.0.1:$P3"
STORE="redis://127.0.0.1:$P1/0"

start_worker() { # name queue -> prints the pid
  "$M" stream work --model $FX/model.json --queue "$2" --store "$STORE" --consumer "$1" \
    --batch 32 --lease-ms 1000 >>"$T/$1.log" 2>&1 &
  echo $!
}
drained() { # queue
  i=0
  while [ $i -lt 600 ]; do
    "$M" stream status --queue "$1" --json >"$T/status.json" 2>/dev/null &&
      sed 's/,"consumers".*//' "$T/status.json" >"$T/sums.json" && # the sums, not a partition's
      grep -q '"pending": *0[,}]' "$T/sums.json" && grep -q '"lag": *0[,}]' "$T/sums.json" && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
verify() { # name queue prefix -> exit status of sm_check verify; its output in $T/name.verify.log
  "$CHK" verify --store "$STORE" --model default --n "$N" --prefix "$3" --ref "$T/REF.npy" \
    --output predictions --results "$2" --keys "$K" >"$T/$1.verify.log" 2>&1
}
show() { sed 's/^/    | /' "$T/$1.verify.log" | head -n 8; }

# ---- routing: stream send puts a key's events on one partition, the one of its hash ------
Q0="redis://$HOSTS/route-$$"
for i in 1 2 3; do printf '{"key":"alice","features":[%d]}\n{"key":"bob","features":[%d]}\n' "$i" "$i"; done >"$T/ev.jsonl"
if "$M" stream send --queue "$Q0" --file "$T/ev.jsonl" >"$T/ids.txt" 2>"$T/send.err"; then
  a=$(sed -n '1p;3p;5p' "$T/ids.txt" | cut -d/ -f1 | sort -u | wc -l)
  b=$(sed -n '2p;4p;6p' "$T/ids.txt" | cut -d/ -f1 | sort -u | wc -l)
  [ "$a" = 1 ] && [ "$b" = 1 ] && ok "stream send: each key's events on one partition ($(sed -n 1p "$T/ids.txt" | cut -d/ -f1), $(sed -n 2p "$T/ids.txt" | cut -d/ -f1))" ||
    { bad "stream send spread a key over partitions"; cat "$T/ids.txt"; }
else bad "stream send on a host list: $(cat "$T/send.err")"; fi
if "$M" stream send --queue "$Q0" --partitions 4 --key x --features '[1]' >/dev/null 2>"$T/send.err"; then
  bad "a producer naming 4 partitions for a 3-partition stream was accepted"
else grep -q "has 3 partitions" "$T/send.err" && ok "a producer with another partition count is refused" ||
  bad "wrong refusal: $(cat "$T/send.err")"; fi

# bad input: clear refusals with exit 2, nothing sent
"$M" stream send --queue "sqlite://$T/q.db" --partitions 3 --key a >/dev/null 2>"$T/e1"; r1=$?
"$M" stream status --queue "redis://$HOSTS/x?partitions=3" --partitions 3 >/dev/null 2>"$T/e2"; r2=$?
"$M" stream status --queue "redis://127.0.0.1:$P1,,127.0.0.1:$P2/x" >/dev/null 2>"$T/e3"; r3=$?
[ $r1 = 2 ] && grep -q "needs a redis:// queue URL" "$T/e1" && [ $r2 = 2 ] && grep -q "already names its partitions" "$T/e2" &&
  [ $r3 = 2 ] && grep -q "an empty host in the list" "$T/e3" && ok "bad --partitions uses and host lists refused with exit 2" ||
  { bad "bad input: exits $r1 $r2 $r3"; cat "$T/e1" "$T/e2" "$T/e3"; }

# ---- one worker, every partition ------------------------------------------------------------
Q1="redis://$HOSTS/one-$$"
"$CHK" produce --queue "$Q1" --x "$T/X.npy" --n "$N" --prefix "one-$$" --keys "$K" >"$T/one.produce.log" 2>&1 ||
  bad "produce: $(tail -n 2 "$T/one.produce.log")"
w=$(start_worker one-w1 "$Q1"); PIDS="$PIDS $w"
if drained "$Q1"; then ok "one worker drained $N events over 3 partitions"; else bad "one worker: not drained"; cat "$T/status.json"; fi
grep -q '"owner":"one-w1"' "$T/status.json" && [ "$(grep -o '"owner":"one-w1"' "$T/status.json" | wc -l)" = 3 ] &&
  ok "the lone worker owns all 3 partitions" || { bad "ownership with one worker"; cat "$T/status.json"; }
kill -TERM "$w"; wait "$w" 2>/dev/null
if verify one "$Q1" "one-$$"; then ok "one worker: $(tail -n 1 "$T/one.verify.log")"; else bad "one worker: $(tail -n 1 "$T/one.verify.log")"; show one; fi

# ---- three workers, one killed with SIGKILL mid-run ----------------------------------------
Q3="redis://$HOSTS/three-$$"
"$CHK" produce --queue "$Q3" --x "$T/X.npy" --n "$N" --prefix "three-$$" --keys "$K" --rate "$RATE" \
  >"$T/three.produce.log" 2>&1 &
prod=$!; PIDS="$PIDS $prod"
w1=$(start_worker three-w1 "$Q3"); w2=$(start_worker three-w2 "$Q3"); w3=$(start_worker three-w3 "$Q3")
PIDS="$PIDS $w1 $w2 $w3"
sleep 1.5
"$M" stream status --queue "$Q3" --json >"$T/before.json" 2>/dev/null
owned_w2=$(grep -o '"owner":"three-w2"' "$T/before.json" | wc -l)
[ "$owned_w2" -ge 1 ] && ok "three workers: three-w2 owns $owned_w2 partition(s) before the kill" ||
  { bad "three-w2 owns nothing before the kill"; cat "$T/before.json"; }
kill -9 "$w2"; wait "$w2" 2>/dev/null
t0=$(date +%s%N)
i=0; taken=""
while [ $i -lt 100 ]; do
  "$M" stream status --queue "$Q3" --json >"$T/after.json" 2>/dev/null
  if ! grep -q '"owner":"three-w2"' "$T/after.json" && ! grep -q '"owner":""' "$T/after.json"; then taken=yes; break; fi
  sleep 0.1; i=$((i + 1))
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ -n "$taken" ] && ok "three-w2's partitions taken over ${ms} ms after SIGKILL (lease 1000 ms)" ||
  { bad "three-w2's partitions not taken over"; cat "$T/after.json"; }
# three-w2 comes back under its name: the others give partitions back to it (never with
# events in hand); then three-w1 is killed too and its partitions are taken over in turn
w2=$(start_worker three-w2 "$Q3"); PIDS="$PIDS $w2"
i=0; back=""
while [ $i -lt 50 ]; do
  "$M" stream status --queue "$Q3" --json >"$T/back.json" 2>/dev/null
  grep -q '"owner":"three-w2"' "$T/back.json" && { back=yes; break; }
  sleep 0.1; i=$((i + 1))
done
[ -n "$back" ] && ok "three-w2 restarted: the partitions rebalance to it" || { bad "no partition came back to three-w2"; cat "$T/back.json"; }
kill -9 "$w1"; wait "$w1" 2>/dev/null
i=0; taken=""
while [ $i -lt 100 ]; do
  "$M" stream status --queue "$Q3" --json >"$T/after.json" 2>/dev/null
  if ! grep -q '"owner":"three-w1"' "$T/after.json" && ! grep -q '"owner":""' "$T/after.json"; then taken=yes; break; fi
  sleep 0.1; i=$((i + 1))
done
[ -n "$taken" ] && ok "three-w1 killed too: its partitions taken over" || { bad "three-w1's partitions not taken over"; cat "$T/after.json"; }
if wait "$prod"; then ok "producer sent $N events at $RATE/s"; else bad "producer failed"; fi
if drained "$Q3"; then ok "three workers (two kills, one restart): drained"; else bad "three workers: not drained"; cat "$T/status.json"; fi
kill -TERM "$w2" "$w3" 2>/dev/null; wait "$w2" "$w3" 2>/dev/null
if verify three "$Q3" "three-$$"; then ok "three workers, two killed: $(tail -n 1 "$T/three.verify.log")"
else bad "three workers, two killed: $(tail -n 1 "$T/three.verify.log")"; show three; fi

# ---- the store fails mid-run: failed batches are given back and redone in order -----------
# A fourth redis-server holds this case's store (AOF, appendfsync always); it is killed with
# SIGKILL and restarted 0.3 s later (less than the lease, so the release path is what
# brings the failed batches back, not a lapsed lease), every batch in between failing.
SPT=$(free_port); mkdir -p "$T/st"
start_store() {
  redis-server --bind 127.0.0.1 --port "$SPT" --appendonly yes --appendfsync always --save '' \
    --dir "$T/st" --daemonize no >>"$T/store.log" 2>&1 &
  STP=$!; PIDS="$PIDS $STP"
  i=0; while [ $i -lt 100 ] && ! redis-cli -p "$SPT" ping >/dev/null 2>&1; do sleep 0.05; i=$((i + 1)); done
}
start_store
QS="redis://$HOSTS/storefail-$$"
"$CHK" produce --queue "$QS" --x "$T/X.npy" --n "$N" --prefix "sf-$$" --keys "$K" --rate "$RATE" >"$T/sf.produce.log" 2>&1 &
prod=$!; PIDS="$PIDS $prod"
s1=$(STORE="redis://127.0.0.1:$SPT/0" start_worker sf-w1 "$QS"); s2=$(STORE="redis://127.0.0.1:$SPT/0" start_worker sf-w2 "$QS")
PIDS="$PIDS $s1 $s2"
sleep 1; kill -9 "$STP"; wait "$STP" 2>/dev/null; sleep 0.3; start_store
wait "$prod" || bad "store failure: producer failed"
if drained "$QS"; then ok "store killed for a second mid-run: drained"; else bad "store failure: not drained"; cat "$T/status.json"; fi
kill -TERM "$s1" "$s2" 2>/dev/null; wait "$s1" "$s2" 2>/dev/null
retried=$(cat "$T/sf-w1.log" "$T/sf-w2.log" | grep -c "retrying" || true)
if STORE="redis://127.0.0.1:$SPT/0" verify storefail "$QS" "sf-$$"; then
  ok "store failure: $(tail -n 1 "$T/storefail.verify.log") (failure lines logged: $retried)"
else bad "store failure: $(tail -n 1 "$T/storefail.verify.log")"; show storefail; fi
kill -9 "$STP" 2>/dev/null; wait "$STP" 2>/dev/null

# ---- a worker paused (SIGSTOP) past its lease, then resumed ----------------------------------
# Its partitions are taken over while it sleeps; when it wakes with a batch in hand it may not
# publish it (its lease ran out: queue_part.c refuses), so the new owner's results stay last.
QP="redis://$HOSTS/pause-$$"
"$CHK" produce --queue "$QP" --x "$T/X.npy" --n "$N" --prefix "pause-$$" --keys "$K" --rate "$RATE" \
  >"$T/pause.produce.log" 2>&1 &
prod=$!; PIDS="$PIDS $prod"
p1=$(start_worker pause-w1 "$QP"); p2=$(start_worker pause-w2 "$QP"); PIDS="$PIDS $p1 $p2"
sleep 1.2; kill -STOP "$p2"; sleep 2.5; kill -CONT "$p2"
wait "$prod" || bad "pause: producer failed"
if drained "$QP"; then ok "a worker paused 2.5 s (lease 1 s) and resumed: drained"; else bad "pause: not drained"; cat "$T/status.json"; fi
kill -TERM "$p1" "$p2" 2>/dev/null; wait "$p1" "$p2" 2>/dev/null
fenced=$(grep -c "no longer this consumer's" "$T/pause-w2.log" || true)
if verify pause "$QP" "pause-$$"; then ok "paused worker: $(tail -n 1 "$T/pause.verify.log") (stale batches refused: $fenced)"
else bad "paused worker: $(tail -n 1 "$T/pause.verify.log")"; show pause; fi

# ---- serve --queue URL --partitions N: tickets through a partitioned queue ----------------
"$M" serve --port 0 --model $FX/model.json --store "$STORE" --queue "redis://127.0.0.1:$P2/serve-$$" \
  --partitions 3 --stream-workers 2 >"$T/serve.log" 2>&1 &
SP=$!; PIDS="$PIDS $SP"; SPORT=""
for i in $(seq 1 100); do
  SPORT=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$T/serve.log" | head -n 1)
  [ -n "$SPORT" ] && break; sleep 0.05
done
ntk=0; done_=0
for k in ka kb kc kd ke kf; do
  r=$(curl -s -X POST "http://127.0.0.1:$SPORT/v1/models/default/predictions/$k" -d '{"features":[1,2,3,4,5,6,7,8,9,10]}')
  tk=$(printf '%s' "$r" | sed -n 's/.*"ticket":"\([^"]*\)".*/\1/p')
  [ -n "$tk" ] && ntk=$((ntk + 1)) &&
    curl -s "http://127.0.0.1:$SPORT/v1/tickets/$tk?wait_ms=5000" | grep -q '"status":"done"' && done_=$((done_ + 1))
done
[ $ntk = 6 ] && [ $done_ = 6 ] && ok "serve --partitions 3 --stream-workers 2: 6 tickets triggered and done" ||
  { bad "serve on a partitioned queue: $ntk tickets, $done_ done"; tail -n 5 "$T/serve.log"; }
"$M" stream status --queue "redis://127.0.0.1:$P2/serve-$$" --partitions 3 >"$T/sstatus.txt" 2>&1
[ "$(grep -c 'owner [^(]' "$T/sstatus.txt")" = 3 ] && ok "stream status --partitions 3: every partition owned by a server worker" ||
  { bad "serve's partitions not all owned"; cat "$T/sstatus.txt"; }
kill -TERM "$SP"; wait "$SP" 2>/dev/null

# ---- the checker fails when order breaks ----------------------------------------------------
# A results stream written by hand: events 2,3 of 0..3 before 0,1 (K=2: both keys reversed).
QC="redis://127.0.0.1:$P2/craft-$$"
"$CHK" produce --queue "redis://127.0.0.1:$P2/craft-$$:results" --x "$T/X.npy" --n 4 --from 2 --prefix c --keys 2 >/dev/null 2>&1
"$CHK" produce --queue "redis://127.0.0.1:$P2/craft-$$:results" --x "$T/X.npy" --n 2 --prefix c --keys 2 >/dev/null 2>&1
"$CHK" verify --store "$STORE" --model default --n 4 --prefix c --ref "$T/REF.npy" --output predictions \
  --results "$QC" --keys 2 >"$T/craft.log" 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "reordered per key 2" "$T/craft.log" && ok "checker: a hand-reversed results stream counts 2 reordered and fails" ||
  { bad "checker missed a reversed results stream (exit $rc)"; sed 's/^/    | /' "$T/craft.log"; }
QD="redis://127.0.0.1:$P2/craftok-$$"
"$CHK" produce --queue "redis://127.0.0.1:$P2/craftok-$$:results" --x "$T/X.npy" --n 4 --prefix c --keys 2 >/dev/null 2>&1
"$CHK" verify --store "$STORE" --model default --n 4 --prefix c --ref "$T/REF.npy" --output predictions \
  --results "$QD" --keys 2 >"$T/craftok.log" 2>&1
grep -q "reordered per key 0" "$T/craftok.log" && ok "checker: the same results in order count 0 reordered" ||
  { bad "checker on an ordered stream"; sed 's/^/    | /' "$T/craftok.log"; }

# A deliberately broken run: an unpartitioned stream with two consumers, one of which died
# holding the first 50 events (read with redis-cli XREADGROUP as "ghost", never acked); the
# worker scores the newer events of the same keys first and the ghost's after its lease.
QB="redis://127.0.0.1:$P3/broken-$$"
"$CHK" produce --queue "$QB" --x "$T/X.npy" --n "$N" --prefix "broken-$$" --keys "$K" >"$T/broken.produce.log" 2>&1
redis-cli -p "$P3" XREADGROUP GROUP mlship ghost COUNT 50 STREAMS "broken-$$" '>' >/dev/null
b1=$(start_worker broken-w1 "$QB"); PIDS="$PIDS $b1"
if drained "$QB"; then :; else bad "broken run: not drained"; fi
kill -TERM "$b1"; wait "$b1" 2>/dev/null
if verify broken "$QB" "broken-$$"; then
  bad "broken run (unpartitioned, a consumer died holding 50 events) passed the order check: $(tail -n 1 "$T/broken.verify.log")"
else
  r=$(sed -n 's/.*reordered per key \([0-9]*\).*/\1/p' "$T/broken.verify.log" | tail -n 1)
  [ -n "$r" ] && [ "$r" -gt 0 ] && ok "checker fails a broken run (unpartitioned, a consumer died holding 50 events): $r events reordered per key" ||
    { bad "broken run failed for another reason"; show broken; }
fi

echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
