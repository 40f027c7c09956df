#!/bin/sh
# test_advise.sh: `mlship advise` end to end: --help, bad flags, the pipe-without-flags message,
# the questions on a terminal (through script(1)'s pty), one case per branch of the tree
# (docs/advise.md), the refusals, --json read by a real JSON parser (python3), the measured
# facts on every model format against `mlship bench`, `mlship inspect` and
# `mlship export-c --report`, and every printed command run as printed (batch and its
# systemd ExecStart=, serve, stream work, export-c, edge keygen/publish + agent).
# Usage: sh tests/cli/test_advise.sh [path/to/mlship]    Ends with "N passed, N failed, N skipped".
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
case $M in /*) ;; *) M=$PWD/$M ;; esac
FX=tests/fixtures/ml
T=$(mktemp -d) || exit 2
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0; skip=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
show() { sed 's/^/    | /' "$1" | head -n 8; }
[ -x "$M" ] || { echo "FAIL no $M"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
# the printed commands say `mlship ...`: this build is the mlship on PATH
mkdir -p "$T/bin" && ln -s "$M" "$T/bin/mlship" && PATH=$T/bin:$PATH && export PATH

run() { # NAME WANT_EXIT cmd... (stdin /dev/null; $T/out, $T/err)
  _name=$1; _want=$2; shift 2
  "$@" >"$T/out" 2>"$T/err" </dev/null; _rc=$?
  if [ "$_rc" -eq "$_want" ]; then ok; else bad "$_name: exit $_rc, expected $_want"; show "$T/err"; fi
}
has() { # NAME out|err TEXT
  if grep -qF -- "$3" "$T/$2"; then ok; else bad "$1: $2 lacks '$3'"; show "$T/$2"; fi
}
# jq-free JSON: py NAME EXPR (a Python expression over j, the last run's stdout, must be true)
py() {
  if python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
      "$T/out" "$2" 2>"$T/pyerr"; then ok; else bad "$1: not true: $2"; show "$T/pyerr"; head -c 600 "$T/out"; echo; fi
}
field() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # URL SECONDS
  _i=0; while [ $_i -lt $(($2 * 10)) ]; do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; _i=$((_i + 1)); done; return 1
}
S="--seconds 0.2"  # measuring time per advise call: thousands of calls on every model here
C="--seconds 0.4"  # where the timings are compared with bench's (run for as long)

# ---- help and bad flags ------------------------------------------------------------------------
run "help" 0 mlship advise --help
for o in --latency --offline --stream --entities --requests-per-s --device --json --seconds --input \
         --key --name --store --queue --dir --backend --port --write-units; do has "help $o" out "$o"; done
run "help list" 0 mlship --help; has "help list" out "advise"
run "latency garbage" 2 mlship advise --latency 5x; has "latency garbage" err "--latency needs a duration"
run "latency zero" 2 mlship advise --latency 0s
run "latency no value" 2 mlship advise --latency
run "device unknown" 2 mlship advise --latency 5ms --device esp32; has "device unknown" err "cortex-m4, aarch64 or browser"
run "entities negative" 2 mlship advise --entities -1
run "rps garbage" 2 mlship advise --requests-per-s lots
run "unknown option" 2 mlship advise --latency 5ms --fast
run "two models" 2 mlship advise a.onnx b.onnx --latency 5ms
run "no such model" 2 mlship advise "$T/nope.onnx" --latency 5ms; has "no such model" err "nope.onnx"
printf 'not a model' >"$T/junk.onnx"
run "junk model" 2 mlship advise "$T/junk.onnx" --latency 5ms

# ---- no flags: a pipe gets the list, a terminal gets questions ---------------------------------
run "pipe without flags" 2 mlship advise bench/models/mlp.onnx
has "pipe without flags" err "not a terminal"; has "pipe without flags" err "--latency D"; has "pipe without flags" err "--offline"
if command -v script >/dev/null 2>&1; then
  # answers: 2s, offline n, stream n, entities/requests/device skipped
  printf '2s\nn\nn\n\n\n\n' | script -qec "mlship advise --json" /dev/null >"$T/tty" 2>&1
  grep -qF "How long may a prediction take" "$T/tty" && ok || { bad "tty: no question"; show "$T/tty"; }
  grep -q '"mode": *"real-time"' "$T/tty" && ok || { bad "tty: 2s is not real-time"; show "$T/tty"; }
  printf 'soon\nsoon\nsoon\n' | script -qec "mlship advise" /dev/null >"$T/tty" 2>&1
  grep -qF "a duration such as" "$T/tty" && ok || { bad "tty: bad answer not explained"; show "$T/tty"; }
else
  skip=$((skip + 2)); echo "SKIP terminal questions: no script(1)"
fi

# ---- the tree, one case per branch (constraints only) ------------------------------------------
branch() { # NAME MODE RUNNER_UP flags...
  _n=$1; _m=$2; _r=$3; shift 3
  run "$_n" 0 mlship advise --json "$@"
  py "$_n" "j['mode'] == '$_m' and j['runner_up'] == '$_r' and len(j['reasons']) >= 1 and len(j['flip']) >= 1"
}
branch "ms offline -> edge" edge real-time --latency 5ms --offline
py "offline assumes aarch64" "j['facts']['device']['name'] == 'aarch64' and j['facts']['device']['assumed']"
branch "ms -> real-time" real-time edge --latency 5ms
branch "200us -> real-time" real-time edge --latency 200us
branch "seconds -> real-time" real-time streaming --latency 2s
branch "minutes -> batch" batch real-time --latency 10m
py "10m timer" "j['units']['on_calendar'] == '*-*-* *:00/5:00'"
branch "hours -> batch" batch real-time --latency 1h
py "1h timer" "j['units']['on_calendar'] == '*-*-* *:00:00'"
branch "days -> batch" batch real-time --latency 1d
py "1d timer" "j['units']['on_calendar'] == '*-*-* 02:00:00'"
branch "stream -> streaming" streaming real-time --stream
branch "ms + device -> edge" edge real-time --latency 5ms --device cortex-m4
run "text answer" 0 mlship advise --latency 2s
has "text answer" out "recommended: real-time"; has "text answer" out "runner-up: streaming"; has "text answer" out "flips if:"
py_json_keys="all(k in j for k in ('mode','runner_up','reasons','flip','commands','units','constraints','facts'))"
run "json keys" 0 mlship advise --json --latency 1h; py "json keys" "$py_json_keys"

# ---- refusals ------------------------------------------------------------------------------------
run "offline svm on m4" 2 mlship advise $FX/svc_rbf_proba/model.onnx --offline --device cortex-m4 $S
has "offline svm on m4" err "cannot run on cortex-m4"; has "offline svm on m4" err "SVM"
run "offline xgb json in browser" 2 mlship advise $FX/xgb_binary_json/model.json --offline --device browser $S
has "offline xgb json in browser" err "XGBoost"
# mlp: 84,480 multiply-adds at 2.5 cycles, 168 MHz = 1.26 ms on the M4: 100us is impossible there
run "offline latency below device" 2 mlship advise bench/models/mlp.onnx --offline --device cortex-m4 --latency 100us $S
has "offline latency below device" err "below what cortex-m4 can do"
run "offline m4 fits" 0 mlship advise bench/models/mlp.onnx --json --offline --device cortex-m4 --latency 5ms $S
py "offline m4 fits" "j['mode'] == 'edge' and j['facts']['device']['fits'] is True and abs(j['facts']['device']['est_latency_us'] - 84480 * 2.5 / 168) < 0.01"
# the CNN takes tens of microseconds a row here: 1us is below its batch-1 latency
run "latency below measured" 2 mlship advise bench/models/cnn.onnx --latency 1us $S
has "latency below measured" err "below this model's batch-1 latency"
run "precompute instead" 0 mlship advise bench/models/cnn.onnx --json --latency 1us --entities 1000 $S
py "precompute instead" "j['mode'] == 'batch'"

# ---- measured facts, every model format, against bench / inspect / export-c --------------------
# Timings: advise and bench run the same loop (cli_bench_measure) seconds apart on a machine
# shared with other jobs, so they agree only roughly; a factor of 5 either way still catches a
# unit slip (us for ms is 1000x) or the wrong thing measured (a batch of 256 for one row).
MODELS="bench/models/mlp.onnx $FX/sk_gb_clf_binary/model.onnx $FX/sk_rf_reg_average/model.onnx
$FX/logreg_binary/model.onnx $FX/xgb_binary_json/model.json $FX/xgb_reg_json/model.json"
for mf in $MODELS; do
  id=$(basename "$(dirname "$mf")")/$(basename "$mf")
  run "$id advise" 0 mlship advise "$mf" --json --latency 1h --entities 10000 --requests-per-s 2 $C
  cp "$T/out" "$T/adv.json"
  py "$id file size" "j['facts']['file_bytes'] == $(wc -c <"$mf")"
  mlship bench "$mf" --batch 1 --seconds 0.4 >"$T/b1.json" 2>"$T/err" && ok || bad "$id bench"
  py "$id batch-1 median vs bench" "0.2 <= j['facts']['batch1']['median_us'] / json.load(open('$T/b1.json'))['median_us_per_call'] <= 5"
  py "$id batch-1 rows/s vs bench" "0.2 <= j['facts']['batch1']['rows_per_s'] / json.load(open('$T/b1.json'))['rows_per_s'] <= 5"
  nb=$(field "$T/adv.json" "j['facts']['batched']['batch']")
  if [ "$nb" -gt 1 ]; then bflag="--batch $nb"; else bflag=""; fi
  mlship bench "$mf" $bflag --seconds 0.4 >"$T/bn.json" 2>"$T/err" && ok || bad "$id bench batched"
  py "$id batched rows/s vs bench" "0.2 <= j['facts']['batched']['rows_per_s'] / json.load(open('$T/bn.json'))['rows_per_s'] <= 5"
  mlship inspect "$mf" >"$T/insp.json" 2>"$T/err" && ok || bad "$id inspect"
  py "$id operators vs inspect" "[(o['domain'], o['op_type']) for o in j['facts']['operators']] == [(o['domain'], o['op_type']) for o in json.load(open('$T/insp.json'))['operators']]"
  mkdir -p "$T/x"
  if mlship export-c "$mf" --name m -o "$T/x" --report >"$T/rep.json" 2>"$T/err"; then
    ok
    py "$id flash/RAM vs export-c" "(lambda r, e: e['ok'] and e['weights_bytes'] == r['flash']['weights_bytes'] and e['arena_bytes'] == r['ram']['arena_bytes'] and e['tree_keys_bytes'] == r['ram']['tree_keys_bytes'] and e['stack_bytes_estimate'] == r['ram']['stack_bytes_estimate'] and j['facts']['multiply_adds'] == r['multiply_adds'])(json.load(open('$T/rep.json')), j['facts']['export_c'])"
  else
    bad "$id export-c --report"; show "$T/err"
  fi
  py "$id cost" "j['facts']['cost']['realtime_cpu_s_per_day'] > 0 and j['facts']['cost']['batch_run_s'] > 0"
done
# multiply-adds against the layer sizes: 64x256 + 256x256 + 256x10 = 84,480 (mlp); the CNN's
# 333,056 as bench/RESULTS.md counts it
run "mlp macs" 0 mlship advise bench/models/mlp.onnx --json --latency 5ms $S
py "mlp macs" "j['facts']['multiply_adds'] == 64*256 + 256*256 + 256*10"
run "cnn macs" 0 mlship advise bench/models/cnn.onnx --json --latency 5ms $S
py "cnn macs" "j['facts']['multiply_adds'] == 333056"
# an SVM: export-c refuses it, so advise says it cannot export, with export-c's reason
run "svm facts" 0 mlship advise $FX/svc_rbf_proba/model.onnx --json --latency 5ms $S
py "svm facts" "j['facts']['export_c']['ok'] is False and 'SVM' in j['facts']['export_c']['error']"
mlship export-c $FX/svc_rbf_proba/model.onnx --name m -o "$T/x" >/dev/null 2>&1; [ $? -eq 3 ] && ok || bad "svm export-c exit"

# ---- the printed commands, run as printed ------------------------------------------------------
cmd_n() { field "$T/adv.json" "j['commands'][$1]"; }
# batch: 3 rows of the mlp's 64 features; then its ExecStart= line (a second start is a no-op)
awk 'BEGIN { printf "id"; for (c = 0; c < 64; c++) printf ",f%d", c; print "";
             for (r = 0; r < 3; r++) { printf "k%d", r; for (c = 0; c < 64; c++) printf ",%.3f", (r * 64 + c) % 7 / 7; print "" } }' >"$T/rows.csv"
mkdir -p "$T/units"
run "batch advise" 0 mlship advise bench/models/mlp.onnx --json --latency 1d --entities 3 --input "$T/rows.csv" \
    --key id --store "sqlite://$T/s.db" --write-units "$T/units" $S
cp "$T/out" "$T/adv.json"
py "batch advise" "j['mode'] == 'batch' and len(j['commands']) == 2"
run "batch command" 0 sh -c "$(cmd_n 0)"
run "batch runs command" 0 sh -c "$(cmd_n 1)"; has "batch runs command" out '"status":"published"'
[ -f "$T/units/mlship-mlp.service" ] && [ -f "$T/units/mlship-mlp.timer" ] && ok || bad "units written"
cmp -s "$T/units/mlship-mlp.timer" /dev/stdin <<EOF && ok || bad "timer file = json units.timer"
$(field "$T/adv.json" "j['units']['timer']")
EOF
exec_start=$(sed -n 's/^ExecStart=//p' "$T/units/mlship-mlp.service")
run "ExecStart" 0 sh -c "$exec_start"
grep -qF "OnCalendar=*-*-* 02:00:00" "$T/units/mlship-mlp.timer" && ok || bad "OnCalendar daily"
if command -v systemd-analyze >/dev/null 2>&1; then
  run "OnCalendar valid" 0 systemd-analyze calendar "$(sed -n 's/^OnCalendar=//p' "$T/units/mlship-mlp.timer")"
else
  skip=$((skip + 1)); echo "SKIP OnCalendar check: no systemd-analyze"
fi

# serve: started as printed (on a free --port), until it answers ready
port=$(free_port)
run "serve advise" 0 mlship advise bench/models/mlp.onnx --json --latency 5ms --port "$port" $S
cp "$T/out" "$T/adv.json"
sh -c "exec $(cmd_n 0)" >"$T/serve.log" 2>&1 &
PIDS="$PIDS $!"; spid=$!
if wait_http "http://127.0.0.1:$port/v2/health/ready" 15; then ok; else bad "serve command: not ready"; show "$T/serve.log"; fi
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null

# stream work: runs until SIGTERM, then exits 0; stream status answers
run "stream advise" 0 mlship advise bench/models/mlp.onnx --json --stream --requests-per-s 10 \
    --queue "sqlite://$T/q.db" --store "sqlite://$T/s2.db" $S
cp "$T/out" "$T/adv.json"
sh -c "exec $(cmd_n 0)" >"$T/work.log" 2>&1 &
wpid=$!; PIDS="$PIDS $wpid"
sleep 1
kill -0 "$wpid" 2>/dev/null && ok || { bad "stream work command exited"; show "$T/work.log"; }
kill -TERM "$wpid"; wait "$wpid"; [ $? -eq 0 ] && ok || { bad "stream work: exit on SIGTERM"; show "$T/work.log"; }
run "stream status command" 0 sh -c "$(cmd_n 1)"

# export-c for the M4: the files are written and its report is the advice's facts
mkdir -p "$T/m4"
run "m4 advise" 0 mlship advise bench/models/mlp.onnx --json --offline --device cortex-m4 --dir "$T/m4" $S
cp "$T/out" "$T/adv.json"
run "export-c command" 0 sh -c "$(cmd_n 0)"
[ -f "$T/m4/mlp.c" ] && [ -f "$T/m4/mlp.h" ] && ok || bad "export-c wrote no files"
py "export-c report = advice" "json.load(open('$T/adv.json'))['facts']['export_c']['weights_bytes'] == j['flash']['weights_bytes']"

# aarch64: keygen, publish, and the agent fetching version 1 from a static server of --dir
mkdir -p "$T/edge"
bport=$(free_port)
run "agent advise" 0 mlship advise bench/models/mlp.onnx --json --offline --device aarch64 --dir "$T/edge" \
    --backend "http://127.0.0.1:$bport" $S
cp "$T/out" "$T/adv.json"
run "keygen command" 0 sh -c "$(cmd_n 0)"
run "publish command" 0 sh -c "$(cmd_n 1)"
(cd "$T/edge" && exec python3 -m http.server -b 127.0.0.1 "$bport") >"$T/http.log" 2>&1 &
PIDS="$PIDS $!"
aport=$(free_port)
# the printed agent line plus a free --listen port (its default, 8090, may be taken here)
sh -c "exec $(cmd_n 2) --listen 127.0.0.1:$aport" >"$T/agent.log" 2>&1 &
apid=$!; PIDS="$PIDS $apid"
_i=0; got=""
while [ $_i -lt 150 ]; do
  got=$(curl -sf "http://127.0.0.1:$aport/v1/agent/status" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("serving_version"))' 2>/dev/null)
  [ "$got" = 1 ] && break; sleep 0.1; _i=$((_i + 1))
done
[ "$got" = 1 ] && ok || { bad "agent command: version '$got', not 1"; show "$T/agent.log"; }
kill "$apid" 2>/dev/null

# browser: the package is `make wasm` in this tree (checked with -n: building it is the wasm stage's)
run "browser advise" 0 mlship advise bench/models/mlp.onnx --json --offline --device browser $S
cp "$T/out" "$T/adv.json"
py "browser advise" "j['commands'] == ['make wasm']"
run "make wasm parses" 0 make -n wasm

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
