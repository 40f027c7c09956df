#!/bin/sh
# MQTT benchmark (issue 12 section 6), side by side in one run, on one mosquitto that the script
# starts (127.0.0.1, the tests' configuration: max_queued_messages 0, set_tcp_nodelay, persistence
# in bench/stream/out/mqtt/) and stops by PID:
#   ceiling        the raw QoS 1 rate with no model (tests/stream/mq_tool.c ceiling: one publisher,
#                  one subscriber, each its own connection and network thread, N messages of
#                  250 bytes published without waiting, flowing)
#   mlship         `mlship stream pipe --model gbdt.onnx --in mqtt://.../bench/in --out
#                  mqtt://.../bench/out`: readings {"ts":..,"values":[30 numbers]} published at
#                  full speed (mq_tool flood), results collected from bench/out (mq_tool collect):
#                  events/s = N / (first reading published -> last result received)
#   mlship_paced   the same at RATE (2,000) readings/s offered: reading-published -> result-received
#                  p50/p99; a second subscriber keeps every result, and each is checked against
#                  scikit-learn's predict_proba (REF.npy) for its row: a wrong or missing one fails
# Model and features: bench/stream/run.sh's (the 200-tree depth-6 GBDT on 30 features, X.npy's
# rows cycled). Publisher, broker, pipe and collectors share the machine's 2 cores.
#   REPS=3 sh bench/stream/mqtt.sh
# env: REPS (3), N (100000), NPACED (20000), RATE (2000), NCEIL (100000)
set -e
cd "$(dirname "$0")/../.."
REPS=${REPS:-3}; N=${N:-100000}; NPACED=${NPACED:-20000}; RATE=${RATE:-2000}; NCEIL=${NCEIL:-100000}
O=bench/stream/out
M=$PWD/build/mlship
sh scripts/deps.sh bench
make -s all
[ -f $O/gbdt.onnx ] && [ -f $O/X.npy ] || /usr/bin/python3 bench/stream/make_data.py
cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -o $O/mq_tool tests/stream/mq_tool.c -lmosquitto -lpthread
Q=$O/mq_tool
/usr/bin/python3 -c "
import numpy as np
X = np.load('$O/X.npy')
with open('$O/rows.txt', 'w') as f:
    for r in X: f.write(','.join('%.9g' % v for v in r) + '\n')"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -rf $O/mqtt; mkdir -p $O/mqtt
printf '%s\n' "listener $PORT 127.0.0.1" "allow_anonymous true" "persistence true" \
  "persistence_location $PWD/$O/mqtt/" "max_queued_messages 0" "max_inflight_messages 0" "set_tcp_nodelay true" \
  "user root" "pid_file $PWD/$O/mqtt/m.pid" "log_dest file $PWD/$O/mqtt/m.log" >$O/mqtt/m.conf
mosquitto -c $O/mqtt/m.conf -d
for i in $(seq 1 50); do [ -s $O/mqtt/m.pid ] && break; sleep 0.1; done
BPID=$(cat $O/mqtt/m.pid)
PPID_=""
trap 'rc=$?; [ -n "$PPID_" ] && kill $PPID_ 2>/dev/null; kill $BPID 2>/dev/null; wait 2>/dev/null; exit $rc' EXIT INT TERM
sleep 0.3
U=mqtt://127.0.0.1:$PORT
RES=$O/mqtt-$(date -u +%Y%m%dT%H%MZ).jsonl
: >"$RES"
load() { cut -d' ' -f1 /proc/loadavg; }
emit() { # config json-line load
  echo "$2" | sed "s/^{/{\"config\":\"$1\",\"load\":$3,/" | tee -a "$RES"
}

pipe_run() { # config n rate
  l=$(load)
  "$M" stream pipe --model $O/gbdt.onnx --in "$U/bench/in" --out "$U/bench/out" --consumer bench-pipe >$O/pipe.log 2>&1 &
  PPID_=$!
  sleep 0.5
  $Q collect 127.0.0.1 $PORT bench/out "$2" 10 >$O/collect.out 2>/dev/null &
  cp=$!
  kp=""
  if [ "$1" = mlship_paced ]; then $Q dump 127.0.0.1 $PORT bench/out "bench-keep-$rep-$$" "$2" 10 >$O/kept.jsonl 2>/dev/null & kp=$!; fi
  sleep 0.5
  $Q flood 127.0.0.1 $PORT bench/in "$2" "$3" $O/rows.txt 2>$O/flood.log
  wait $cp || { echo "$1: results missing: $(cat $O/collect.out)" >&2; exit 1; }
  [ -n "$kp" ] && { wait $kp || { echo "$1: kept results missing" >&2; exit 1; }; }
  kill -TERM $PPID_; wait $PPID_ 2>/dev/null || true; PPID_=""
  check=""
  if [ -n "$kp" ]; then
    check=$(/usr/bin/python3 -c "
import json, numpy as np
ref = np.load('$O/REF.npy'); n = 0; bad = 0
for i, line in enumerate(open('$O/kept.jsonl')):
    r = json.loads(line); n += 1
    p = r.get('outputs', {}).get('probabilities')
    if p is None or np.abs(np.array(p, dtype=np.float64) - ref[i % len(ref)]).max() > 1e-5: bad += 1
print('checked %d wrong %d' % (n, bad))")
    case "$check" in *"wrong 0"*) ;; *) echo "$1: $check" >&2; exit 1 ;; esac
  fi
  emit "$1" "$(sed "s/}\$/,\"check\":\"$check\"}/" $O/collect.out)" "$l"
}

for rep in $(seq 1 "$REPS"); do
  l=$(load); emit ceiling "$($Q ceiling 127.0.0.1 $PORT "$NCEIL")" "$l"
  pipe_run mlship "$N" 0
  pipe_run mlship_paced "$NPACED" "$RATE"
done

echo "medians ($REPS rounds):"
for cfg in ceiling mlship mlship_paced; do
  for k in rate p50_ms p99_ms; do
    v=$(grep "\"config\":\"$cfg\"" "$RES" | sed -n "s/.*\"$k\":\([0-9.]*\).*/\1/p" | sort -n |
        awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}')
    [ -n "$v" ] && printf '  %-13s %-8s %s\n' "$cfg" "$k" "$v"
  done
done
echo "results: $RES"
