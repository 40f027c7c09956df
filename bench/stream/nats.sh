#!/bin/sh
# NATS JetStream streaming benchmark (issue 12 section 6), side by side in one run, on one
# nats-server -js that the script starts (127.0.0.1, a free port, file storage in a temporary
# store dir) and stops by PID:
#   ceiling       the engine's raw rate with no model (nats_bench ceiling: publish -> pull
#                 fetch(100) -> ack -> result publish, file storage, flowing)
#   mlship        `mlship stream work --model gbdt.onnx --queue nats://.../bev --batch 100`
#                 (the GBDT of bench/stream/run.sh as ONNX-ML), full speed
#   mlship_t2     the same with --threads 2 (two connections, each a pull consumer's reader)
#   mlship_paced  the first at RATE (2,000) events/s offered: event-to-result p50/p99
# The driver (nats_bench drive) is bench/stream/run.sh's producer shape: id, ts and the 30
# features as comma-separated text, rows of X.npy in turn; it reads every result off the
# results subject and checks it against scikit-learn's own predict_proba (REF.npy): a wrong or
# missing result fails the run. Producer, nats-server and worker share the machine's 2 cores.
# REPS rounds, the systems alternating in each; one JSON line per measurement (with the load
# average when it started), then the medians and the ratio mlship / ceiling.
#   REPS=3 sh bench/stream/nats.sh
# env: REPS (3), N (50000 full-speed events), NCEIL (100000), NPACED (20000), RATE (2000)
set -e
cd "$(dirname "$0")/../.."
REPS=${REPS:-3}; N=${N:-50000}; NCEIL=${NCEIL:-100000}; NPACED=${NPACED:-20000}; RATE=${RATE:-2000}
O=bench/stream/out
M=$PWD/build/mlship
make -s all
[ -f $O/gbdt.onnx ] && [ -f $O/X.npy ] || /usr/bin/python3 bench/stream/make_data.py
cc -O2 -o $O/nats_bench bench/stream/nats_bench.c -lnats -lcjson -lpthread -lm
B=$O/nats_bench
S=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -js -a 127.0.0.1 -p "$PORT" -sd "$S" >"$S/nats.log" 2>&1 &
NPID=$!
CPID=""
trap 'rc=$?; [ -n "$CPID" ] && kill $CPID 2>/dev/null; kill $NPID 2>/dev/null; wait 2>/dev/null; rm -rf "$S"; exit $rc' EXIT INT TERM
for i in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break; sleep 0.1; done
HP=127.0.0.1:$PORT
RES=$O/nats-results-$(date -u +%Y%m%dT%H%MZ).jsonl
: > "$RES"
echo "nats-server $(nats-server --version | sed 's/.*v//') on $HP, store $S ($(df -T "$S" | awk 'NR==2{print $2}'))" >&2

load() { cut -d' ' -f1 /proc/loadavg; }
emit() { # config json-line load
  line=$(echo "$2" | sed "s/^{/{\"config\":\"$1\",\"load\":$3,/")
  echo "$line" | tee -a "$RES"
}
run_mlship() { # config n rate worker-args...
  cfg=$1 n=$2 rate=$3; shift 3
  $B reset $HP bev; l=$(load)
  "$M" stream work --model $O/gbdt.onnx --queue "nats://$HP/bev" --batch 100 "$@" >$O/nats-worker.log 2>&1 &
  CPID=$!
  $B ready $HP bev
  out=$($B drive $HP "$n" "$rate" $O/X.npy $O/REF.npy bev) || { echo "$cfg: $out" >&2; exit 1; }
  kill -TERM $CPID; wait $CPID 2>/dev/null || true; CPID=""
  emit "$cfg" "$out" "$l"
}

for rep in $(seq 1 "$REPS"); do
  l=$(load); emit ceiling "$($B ceiling $HP "$NCEIL" 100)" "$l"
  run_mlship mlship "$N" 0
  run_mlship mlship_t2 "$N" 0 --threads 2
  run_mlship mlship_paced "$NPACED" "$RATE"
done

med() { # config key
  grep "\"config\":\"$1\"" "$RES" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" | sort -n |
    awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'
}
c=$(med ceiling msgs_per_s); m=$(med mlship events_per_s); m2=$(med mlship_t2 events_per_s)
ratio() { awk -v m="$1" -v c="$2" 'BEGIN{printf "%.2f", m / c}'; }
echo "medians ($REPS rounds):"
echo "  ceiling       msgs/s    $c"
echo "  mlship        events/s  $m   ratio $(ratio "$m" "$c")   (1 thread)"
echo "  mlship_t2     events/s  $m2   ratio $(ratio "$m2" "$c")   (--threads 2)"
echo "  mlship_paced  p50 ms    $(med mlship_paced p50_ms)   p99 ms $(med mlship_paced p99_ms)   (at $RATE events/s offered)"
echo "results: $RES"
