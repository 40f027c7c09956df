#!/bin/sh
# test_engine_faults.sh: the fault matrix (issue 12 section 5, Jepsen-style): one scenario run
# on every queue backend that has a hook file, with the faults that backend has:
#   - a paced producer (sm_check produce: unique ids "P-i", resends a batch whose send failed,
#     same ids) and two `mlship stream work` processes, each serving /metrics;
#   - worker-kill: a worker killed with SIGKILL and restarted, KILLS (20) times over the run;
#   - broker-kill: the broker killed with SIGKILL and restarted mid-run;
#   - proxy-cut: the workers and the producer reach the broker (the workers the store too,
#     when the hook says how) through tests/faults/tcp_proxy.c, which cuts every connection
#     and refuses new ones for CUT_MS, CUTS (2) times. During a cut each worker must keep answering /metrics with
#     mlship_stream_queue_up 0, a worker restarted during the cut must start anyway, and after
#     the heal each must be back (queue_up 1, mlship_stream_reconnects_total >= 1) having
#     logged the outage in a few lines (one per back-off step), not a flood;
#   - poison: events no model can score (wrong feature count, unknown model, no features, bad
#     JSON, no id at all) sent among the good ones: each is dead-lettered with its reason
#     (tests/faults/qtool.c reads the dead letters) while the good events flow.
# Once the faults heal the queue is drained and sm_check verify classifies every id: lost (no
# stored result), wrong (an error or numbers that differ from the framework's own output, or a
# key whose newest prediction is not its event's), missing from the results stream; a second
# stored row per event id cannot exist (results are keyed by it). Any lost or wrong id fails.
# Reorder per key: counted when sm_check reports it (the per-key sequence extension), and must
# be zero for a backend whose hook sets ENGINE_ORDERED=1 (partitions); TODO until it lands.
#
# ADDING A BACKEND: write tests/faults/engines/NAME.sh (see redis.sh; no change here). It is
# sourced in a subshell of its own and defines:
#   ENGINE_FAULTS="worker-kill broker-kill proxy-cut poison"   the faults it supports
#   ENGINE_ORDERED=0|1           1: per-key order is promised (the reorder count must be 0)
#   ENGINE_SELF_RECONNECT=0|1    1: the client library reconnects by itself (libnats), so the
#                                worker's queue_up/reconnects metrics cannot show a cut: skipped
#   engine_check                 0 when its tools are installed; else print why (a skip)
#   engine_start DIR             start its own broker (free_port gives a port; track_pid PID
#                                makes sure it is killed if the test dies; the broker's output
#                                goes to a log in DIR, not stdout), echo the queue URL
#   engine_store DIR             optional: echo the store URL (default sqlite://DIR/store.db)
#   engine_stop                  stop what engine_start started, by PID
#   broker-kill: engine_kill9 (SIGKILL the broker, wait for it), engine_restart (same port
#                and data; return once it answers)
#   proxy-cut:   engine_addr (echo "HOST PORT" the proxy forwards to), engine_url_via PORT
#                (echo the queue URL through the proxy's port), optional engine_store_via PORT
# ENGINES="sqlite redis" picks some (default: every file in engines/).
#
# Usage: sh tests/faults/test_engine_faults.sh [build/mlship]   ends "N passed, N failed, N skipped"
# env: N (events per engine, 8000), RATE (events/s, 800), KILLS (20), CUTS (2), CUT_MS (2500)
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
BLD=$(dirname "$M")
case "$M" in /*) ;; *) M="$PWD/$M" ;; esac
N=${N:-8000}; RATE=${RATE:-800}; KILLS=${KILLS:-20}; CUTS=${CUTS:-2}; CUT_MS=${CUT_MS:-2500}
ROOT=$PWD
T=$(mktemp -d) || exit 2
: >"$T/pids"; : >"$T/tally"
cleanup() { for p in $(cat "$T/pids"); do kill -9 "$p" 2>/dev/null; done; [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
ok() { echo "ok - $1"; echo pass >>"$T/tally"; }
bad() { echo "FAIL $1"; echo fail >>"$T/tally"; }
skip() { echo "skip - $1"; echo skip >>"$T/tally"; }
track_pid() { echo "$1" >>"$T/pids"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
show() { sed 's/^/    | /' "$1" | tail -n "${2:-8}"; }

make -s BUILD="$BLD" "$BLD/sm_check" "$BLD/mxtool" "$BLD/qtool" "$BLD/tcp_proxy" "$BLD/tcp_proxy_test" >"$T/make.log" 2>&1 ||
  { echo "FAIL cannot build the fault tools"; show "$T/make.log" 20; echo "0 passed, 1 failed"; exit 1; }
B=$(cd "$BLD" && pwd)
CHK=$B/sm_check MX=$B/mxtool QT=$B/qtool PROXY=$B/tcp_proxy

# ---- the proxy itself first: everything below leans on it --------------------------------
timeout 60 "$B/tcp_proxy_test" "$PROXY" >"$T/proxy_test.log" 2>&1
grep -E '^(ok|FAIL) ' "$T/proxy_test.log"
grep -c '^ok ' "$T/proxy_test.log" | awk '{for (i = 0; i < $1; i++) print "pass"}' >>"$T/tally"
nf=$(grep -c '^FAIL ' "$T/proxy_test.log")
if [ "$nf" -gt 0 ] || ! tail -n 1 "$T/proxy_test.log" | grep -q ' 0 failed'; then
  bad "tcp_proxy_test: $(tail -n 1 "$T/proxy_test.log")"
fi

# The model and its framework reference: XGBoost's own predictions for its fixture rows
# (finite rows only: NaN rows are the missing-value policy's business, not this suite's).
FX=$ROOT/tests/fixtures/ml/xgb_reg_json
ROWS=$("$MX" rows "$FX/input_0.npy" 40) || { echo "FAIL no fixture rows"; echo "0 passed, 1 failed"; exit 1; }
"$MX" take "$FX/input_0.npy" "$ROWS" "$T/X.npy" && "$MX" take "$FX/output_0.npy" "$ROWS" "$T/REF.npy" ||
  { echo "FAIL cannot cut the fixture"; echo "0 passed, 1 failed"; exit 1; }

rand_ms() { # a pseudo-random number of ms in [lo, hi)
  awk -v lo="$1" -v hi="$2" -v s="$(od -An -N4 -tu4 /dev/urandom)" 'BEGIN{srand(s); print int(lo + rand() * (hi - lo))}'
}
sleep_ms() { sleep "$(awk -v m="$1" 'BEGIN{printf "%.3f", m / 1000}')"; }

# Poison: what no model can score, and the reason each must be dead-lettered with.
cat >"$T/poison.jsonl" <<'EOF'
{"id":"poison-short","key":"pk1","features":[1,2]}
{"id":"poison-model","key":"pk2","features":[1,2,3,4,5,6,7,8,9,10],"model":"nosuch"}
{"id":"poison-nofeat","key":"pk3"}
{"id":"poison-input","key":"pk4","features":{"nope":[1]}}
EOF
cat >"$T/poison.want" <<'EOF'
poison-short	expects 10 numbers, got 2
poison-model	unknown model 'nosuch'
poison-nofeat	no field 'features'
poison-input	no input 'nope'
poison-json	expected ',' or ']'
-	no field 'key' or 'features'
EOF
NPOISON=$(wc -l <"$T/poison.want")
send_poison() { # queue
  "$M" stream send --queue "$1" --file "$T/poison.jsonl" >/dev/null &&
    "$QT" raw "$1" id=poison-json key=pk5 'features=[1,2' &&
    "$QT" raw "$1" 'garbage=\xff\xfe\x00'
}

# ---- one engine ---------------------------------------------------------------------------

metric() { # port name -> its value, or nothing when /metrics does not answer
  curl -s -m 2 "http://127.0.0.1:$1/metrics" 2>/dev/null | sed -n "s/^$2 //p"
}

start_worker() { # name metrics-port -> sets WPID
  "$M" stream work --model "$FX/model.json" --queue "$WQ" --store "$WS" --consumer "$1" \
    --batch 32 --linger-ms 2 --lease-ms 1000 --metrics-port "$2" >>"$D/$1.log" 2>&1 &
  WPID=$!; track_pid "$WPID"
}
restart() { # 1|2: kill that worker with SIGKILL and start it again
  if [ "$1" = 1 ]; then kill -9 "$W1" 2>/dev/null; wait "$W1" 2>/dev/null; start_worker w1 "$MP1"; W1=$WPID
  else kill -9 "$W2" 2>/dev/null; wait "$W2" 2>/dev/null; start_worker w2 "$MP2"; W2=$WPID; fi
  KILLED=$((KILLED + 1))
}
kill_some() { # how many kills, spread ~150-450 ms apart
  j=0; while [ $j -lt "$1" ]; do sleep_ms "$(rand_ms 150 450)"; restart $((KILLED % 2 + 1)); j=$((j + 1)); done
}

# Wait until nothing is left to score: no lag, nothing pending (stream status --json).
drained() {
  i=0
  while [ $i -lt 600 ]; do
    "$M" stream status --queue "$Q" --json >"$D/status.json" 2>/dev/null &&
      grep -q '"pending": *0[,}]' "$D/status.json" && grep -q '"lag": *0[,}]' "$D/status.json" && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

wait_metric() { # port name value seconds: until /metrics shows it
  i=0; lim=$(($4 * 10))
  while [ $i -lt $lim ]; do [ "$(metric "$1" "$2")" = "$3" ] && return 0; sleep 0.1; i=$((i + 1)); done
  return 1
}

# One cut: w1 lives through it (its log must stay short), w2 is killed and restarted in it.
cut_once() { # n
  lines0=$(wc -l <"$D/w1.log")
  kill -USR1 "$PXP"
  if [ "${ENGINE_SELF_RECONNECT:-0}" = 1 ]; then
    skip "$NAME cut $1: queue_up 0 during the cut (the client library reconnects by itself: the worker does not see the cut)"
  elif wait_metric "$MP1" mlship_stream_queue_up 0 3; then ok "$NAME cut $1: w1 answers /metrics during the cut, queue_up 0"
  else bad "$NAME cut $1: w1 /metrics during the cut: queue_up '$(metric "$MP1" mlship_stream_queue_up)'"; fi
  restart 2
  if wait_metric "$MP2" mlship_stream_queue_up 0 3 && kill -0 "$W2" 2>/dev/null; then
    ok "$NAME cut $1: a worker started during the cut keeps running and answers /metrics"
  else bad "$NAME cut $1: the worker started during the cut"; show "$D/w2.log" 4; fi
  sleep_ms $((CUT_MS - 1000))
  kill -USR2 "$PXP"
  if wait_metric "$MP1" mlship_stream_queue_up 1 10 && wait_metric "$MP2" mlship_stream_queue_up 1 10; then
    ok "$NAME cut $1: both workers reconnected after the heal (queue_up 1)"
  else bad "$NAME cut $1: not reconnected within 10 s of the heal"; show "$D/w1.log" 4; fi
  r1=$(metric "$MP1" mlship_stream_reconnects_total); r2=$(metric "$MP2" mlship_stream_reconnects_total)
  if [ "${ENGINE_SELF_RECONNECT:-0}" = 1 ]; then
    skip "$NAME cut $1: reconnects counted (the client library reconnects by itself; w1 $r1, w2 $r2)"
  elif [ "${r1:-0}" -ge 1 ] && [ "${r2:-0}" -ge 1 ]; then ok "$NAME cut $1: reconnects counted (w1 $r1, w2 $r2)"
  else bad "$NAME cut $1: mlship_stream_reconnects_total w1 '$r1', w2 '$r2'"; fi
  # one line per back-off step (100 ms doubling to a 2 s cap: ~6 in a few seconds) and one
  # "working again": a flood would be one per failed call (every ~200 ms read, per thread)
  dl=$(( $(wc -l <"$D/w1.log") - lines0 ))
  if [ "$dl" -le 12 ]; then ok "$NAME cut $1: w1 logged the ${CUT_MS} ms outage in $dl lines"
  else bad "$NAME cut $1: w1 logged $dl lines in one outage (a flood)"; show "$D/w1.log" 12; fi
}

has() { case " $ENGINE_FAULTS " in *" $1 "*) return 0 ;; esac; return 1; }

run_engine() { # name
  NAME=$1
  if ! why=$(engine_check); then skip "$NAME: $why"; return; fi
  D=$T/$NAME; mkdir -p "$D"
  if ! engine_start "$D" >"$D/url" || ! [ -s "$D/url" ]; then bad "$NAME: engine_start failed"; return; fi
  Q=$(cat "$D/url")
  if command -v engine_store >/dev/null 2>&1; then S=$(engine_store "$D"); else S=sqlite://$D/store.db; fi
  WQ=$Q WS=$S PXP=""
  if has proxy-cut; then
    : >"$D/proxy.out"
    "$PROXY" -k $(engine_addr) </dev/null >"$D/proxy.out" 2>"$D/proxy.err" &
    PXP=$!; track_pid "$PXP"
    i=0; while [ $i -lt 50 ] && ! grep -q '^port ' "$D/proxy.out"; do sleep 0.05; i=$((i + 1)); done
    PP=$(sed -n 's/^port //p' "$D/proxy.out")
    WQ=$(engine_url_via "$PP")
    command -v engine_store_via >/dev/null 2>&1 && WS=$(engine_store_via "$PP")
  fi
  prefix="$NAME-$$"
  # the producer's connection is cut too: what it was told was sent must all be scored
  "$CHK" produce --queue "$WQ" --x "$T/X.npy" --n "$N" --prefix "$prefix" --rate "$RATE" >"$D/produce.log" 2>&1 &
  prod=$!; track_pid "$prod"
  MP1=$(free_port); MP2=$(free_port); KILLED=0
  start_worker w1 "$MP1"; W1=$WPID; start_worker w2 "$MP2"; W2=$WPID
  if has poison; then
    sleep 0.3
    if send_poison "$Q" 2>"$D/poison.err"; then :; else bad "$NAME: cannot send the poison messages"; show "$D/poison.err" 4; fi
  fi
  # the schedule: kills in four stretches, the broker restart after the first, a cut after
  # each of the next ones (w1 is not killed during a cut: it is the one watched)
  per=$((KILLS / 4)); [ "$per" -lt 1 ] && per=1
  kill_some "$per"
  if has broker-kill; then
    engine_kill9
    if engine_restart; then ok "$NAME: broker killed with SIGKILL and restarted mid-run"
    else bad "$NAME: the broker did not restart"; fi
  fi
  c=0
  while [ $c -lt 3 ]; do
    kill_some "$per"
    if has proxy-cut && [ $c -lt "$CUTS" ]; then cut_once $((c + 1)); fi
    c=$((c + 1))
  done
  [ "$KILLED" -lt "$KILLS" ] && kill_some $((KILLS - KILLED))
  if wait "$prod"; then ok "$NAME: producer sent $N events (resending after failed sends)"
  else bad "$NAME: producer failed"; show "$D/produce.log" 5; fi
  if drained; then ok "$NAME: queue drained after $KILLED worker kills"
  else bad "$NAME: queue not drained"; cat "$D/status.json"; fi
  for p in $W1 $W2; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if "$CHK" verify --store "$S" --model default --n "$N" --prefix "$prefix" --ref "$T/REF.npy" \
       --output predictions --results "$Q" >"$D/verify.log" 2>&1; then
    ok "$NAME: $(tail -n 1 "$D/verify.log")"
  else
    bad "$NAME: $(tail -n 1 "$D/verify.log")"; show "$D/verify.log" 8; show "$D/w1.log" 5
  fi
  # TODO(per-key sequence): sm_check's per-key extension reports "reordered N"; until then
  # there is nothing to read here and this check does not run.
  ro=$(tail -n 1 "$D/verify.log" | sed -n 's/.*reordered \([0-9][0-9]*\).*/\1/p')
  if [ -n "$ro" ] && [ "${ENGINE_ORDERED:-0}" = 1 ]; then
    if [ "$ro" -eq 0 ]; then ok "$NAME: no event reordered within its key"; else bad "$NAME: $ro events reordered within their key"; fi
  fi
  if has poison; then
    "$QT" dead "$Q" >"$D/dead.txt" 2>"$D/dead.err" || { bad "$NAME: cannot read the dead letters"; show "$D/dead.err" 3; }
    nd=$(wc -l <"$D/dead.txt")
    if [ "$nd" -eq "$NPOISON" ]; then ok "$NAME: $nd dead letters, one per poison message, none of the good events"
    else bad "$NAME: $nd dead letters, expected $NPOISON"; show "$D/dead.txt" 10; fi
    while IFS="	" read -r id why; do
      if awk -F '\t' -v id="$id" -v why="$why" '$1 == id && index($2, why) { f = 1 } END { exit !f }' "$D/dead.txt"; then
        ok "$NAME: poison $id dead-lettered ($why)"
      else bad "$NAME: poison $id not dead-lettered with '$why'"; fi
    done <"$T/poison.want"
  fi
  [ -n "$PXP" ] && kill "$PXP" 2>/dev/null
  engine_stop
}

ENGINES=${ENGINES:-$(for f in tests/faults/engines/*.sh; do basename "$f" .sh; done)}
for e in $ENGINES; do
  f=tests/faults/engines/$e.sh
  [ -f "$f" ] || { bad "no hook file $f"; continue; }
  # each engine in a subshell of its own: its hooks and variables end with it
  ( . "./$f"; run_engine "$e" )
done

pass=$(grep -c '^pass$' "$T/tally"); fail=$(grep -c '^fail$' "$T/tally"); skip=$(grep -c '^skip$' "$T/tally")
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
