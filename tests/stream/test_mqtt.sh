#!/bin/sh
# test_mqtt.sh: MQTT sensors end to end (docs/queue-mqtt.md) on a mosquitto this script starts
# itself (a free port, persistence and max_queued_messages 0 in a temp dir, stopped by PID), so
# it can restart it: `mlship stream pipe --in mqtt://.../sensors/+/reading --out mqtt://.../scores`
# for every model format (ONNX network, ONNX-ML classifiers with and without a label map, a
# regressor, XGBoost JSON), the three payload forms ({"features":[..]}, {"ts":..,"values":[..]},
# CSV text), results checked against the framework's own outputs (tests/matrix/mxtool.c);
# --key-from-topic and --key-field; alerts with hysteresis on an MQTT topic, their sequence worked
# out from the framework's reference values; a stopped pipe resuming its persistent session
# (readings published while it was down are scored after the restart); bad payloads giving
# error results with reasons while good ones flow; the bridge into a durable SQLite queue with
# `stream work` killed -9 and restarted (every reading stored once, none lost); the pipe killed
# with -9 twenty times and the broker restarted while readings flow, counting lost, duplicated
# and wrong results (wrong must be 0; lost at most the readings in hand at each kill).
# Usage: sh tests/stream/test_mqtt.sh [path/to/mlship]   Ends with "N passed, N failed, N skipped".
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
BLD=$(dirname "$M")
case "$M" in /*) ;; *) M="$PWD/$M" ;; esac
T=$(mktemp -d) || exit 2
PIDS=""
BROKER_PID=""
cleanup() {
  for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
  [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null
  [ -n "$KEEP" ] || rm -rf "$T"
}
trap cleanup EXIT

pass=0; fail=0; skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { if eval "$2"; then ok; else bad "$1"; fi; }

[ -x "$M" ] || { echo "FAIL no $M"; echo "0 passed, 1 failed"; exit 1; }
if ! command -v mosquitto >/dev/null && ! [ -x /usr/sbin/mosquitto ]; then
  echo "SKIP mosquitto is not installed (scripts/deps.sh test installs it)"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
if "$M" stream pipe --model tests/fixtures/ml/sk_gb_clf_binary/model.onnx --in 'mqtt://127.0.0.1:1/a?x=1' --out - 2>&1 | grep -q "built without MQTT"; then
  echo "SKIP mlship was built with WITH_MQTT=0"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
X=$T/mxtool; Q=$T/mq_tool
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -Iinclude -Isrc -o "$X" tests/matrix/mxtool.c \
  "$BLD/libmlship_codec.a" "$BLD/libmlship_base.a" "$BLD/libmlship.a" -lcjson -lm 2>"$T/cc.log" &&
  ${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -o "$Q" tests/stream/mq_tool.c -lmosquitto -lpthread 2>>"$T/cc.log" ||
  { echo "FAIL cannot build mxtool / mq_tool"; cat "$T/cc.log"; echo "0 passed, 1 failed"; exit 1; }

# ---- the broker ---------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/mq"
# max_queued_messages 0: no per-client queue limit (the default 1000 drops QoS 1 messages for a
# slow or absent subscriber while the publisher is acknowledged: docs/queue-mqtt.md);
# set_tcp_nodelay: PUBACKs are not held back by Nagle's algorithm; user root: mosquitto started
# as root would drop to user mosquitto, who cannot write this directory.
printf '%s\n' "listener $PORT 127.0.0.1" "allow_anonymous true" "persistence true" \
  "persistence_location $T/mq/" "max_queued_messages 0" "max_inflight_messages 0" "set_tcp_nodelay true" \
  "user root" "pid_file $T/mq/mosquitto.pid" "log_dest file $T/mq/mosquitto.log" >"$T/mq/mosquitto.conf"
broker_start() {
  rm -f "$T/mq/mosquitto.pid"
  "$MOSQ" -c "$T/mq/mosquitto.conf" -d 2>>"$T/mq/start.log"
  i=0
  until [ -s "$T/mq/mosquitto.pid" ] && echo "ping x" | "$Q" pub 127.0.0.1 "$PORT" "ping-$$" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "FAIL mosquitto did not start"; cat "$T/mq/mosquitto.log"; return 1; }; sleep 0.1
  done
  BROKER_PID=$(cat "$T/mq/mosquitto.pid")
}
broker_stop() { # SIGTERM: mosquitto writes its persistence file as it exits
  kill "$BROKER_PID" 2>/dev/null
  i=0; while kill -0 "$BROKER_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  BROKER_PID=""
}
broker_start || { echo "0 passed, 1 failed"; exit 1; }
U="mqtt://127.0.0.1:$PORT"

# A collector with its own persistent session: FILTER NAME N [TIMEOUT] -> $T/NAME.out (background;
# its pid in $DUMP). The session is created first, so nothing published after this returns is missed.
collect() {
  "$Q" dump 127.0.0.1 "$PORT" "$1" "c-$2" 0 1 2>/dev/null
  "$Q" dump 127.0.0.1 "$PORT" "$1" "c-$2" "$3" "${4:-10}" >"$T/$2.out" 2>"$T/$2.err" &
  DUMP=$!; PIDS="$PIDS $DUMP"
}
# A pipe in the background (its pid in $PIPE): NAME ARGS...; its persistent session exists once
# the log says it subscribed (the pipe connects on its first read).
pipe_start() {
  name=$1; shift
  "$M" stream pipe "$@" >"$T/$name.pipe.out" 2>>"$T/$name.pipe.err" &
  PIPE=$!; PIDS="$PIDS $PIPE"
  sleep 0.4
}
pipe_stop() { kill -TERM "$PIPE" 2>/dev/null; wait "$PIPE"; }
publish() { "$Q" pub 127.0.0.1 "$PORT" "p-$$-$1" ${2:-} 2>"$T/pub.err"; } # NAME [RATE] < "TOPIC PAYLOAD" lines
rows_of() { "$X" emit instances "$1" "$2" | tr -d '\n' | sed 's/^{"instances":\[\[//; s/\]\]}$//; s/\],\[/\n/g'; }
outputs_of() { grep '"outputs"' "$1" | sed 's/.*"outputs":\({.*}\),"\(ts\|scored_at\)":.*/\1/'; }

# mxtool check in chunks (it takes at most 256 rows at a time): REF ROWS(one a line) GOT.jsonl SELECTOR
check_long() {
  n=$(wc -l <"$2"); k=1
  while [ $k -le "$n" ]; do
    sed -n "$k,$((k + 199))p" "$2" | paste -sd, >"$T/chunk.rows"
    sed -n "$k,$((k + 199))p" "$3" >"$T/chunk.jsonl"
    "$X" check --lines "$1" "$(cat "$T/chunk.rows")" "$T/chunk.jsonl" "$4" >"$T/chunk.log" 2>&1 || { cat "$T/chunk.log"; return 1; }
    k=$((k + 200))
  done
}

FX=tests/fixtures/ml
# id  model  input  outputs (NAME:REF[:labels L1,L2]) ...   (the list of tests/stream/test_stream.sh)
MODELS="
mlp bench/models/mlp.onnx bench/models/mlp.X.npy output:bench/models/mlp.REF.npy
sk_gb_clf_binary $FX/sk_gb_clf_binary/model.onnx $FX/sk_gb_clf_binary/input_0.npy label:$FX/sk_gb_clf_binary/output_0.npy probabilities:$FX/sk_gb_clf_binary/output_1.npy
logreg_binary $FX/logreg_binary/model.onnx $FX/logreg_binary/input_0.npy label:$FX/logreg_binary/output_0.npy probabilities:$FX/logreg_binary/output_1.npy:0,1
sk_rf_reg_average $FX/sk_rf_reg_average/model.onnx $FX/sk_rf_reg_average/input_0.npy Y:$FX/sk_rf_reg_average/output_0.npy
xgb_binary_json $FX/xgb_binary_json/model.json $FX/xgb_binary_json/input_0.npy probabilities:$FX/xgb_binary_json/output_0.npy
"

# ---- refusals, before anything runs --------------------------------------------------------------
m0=$FX/sk_gb_clf_binary/model.onnx
refuse() { # NAME WANT ARGS...
  name=$1; want=$2; shift 2
  "$M" "$@" >"$T/ref.out" 2>&1; rc=$?
  check "$name (rc $rc: $(head -c 200 "$T/ref.out"))" "[ $rc -ne 0 ] && grep -q \"$want\" '$T/ref.out'"
}
refuse "publishing results to a topic filter is refused" "cannot publish to the topic filter" \
  stream pipe --model "$m0" --in "$U/none/x" --out "$U/scores/+"
refuse "an MQTT URL with a query parameter is refused" "unknown parameter 'qos=2'" \
  stream pipe --model "$m0" --in "$U/a/b?qos=2" --out -
refuse "stream work refuses an MQTT topic as its queue" "not a durable queue" \
  stream work --model "$m0" --queue "$U/a/b"
refuse "--key-field needs MQTT input" "are for MQTT input" stream pipe --model "$m0" --in - --out - --key-field dev
refuse "a bridge (no --model) needs a queue to forward to" "missing --model FILE" stream pipe --in "$U/a/b" --out -
refuse "--alert needs --model" "alert needs --model" stream pipe --in "$U/a/b" --out "sqlite://$T/x.db" --alert 'y > 1'
"$M" stream pipe --help >"$T/help.txt" 2>&1
check "stream pipe --help names the MQTT options" "grep -q -- '--key-from-topic N' '$T/help.txt' && grep -q -- '--key-field NAME' '$T/help.txt'"

# ---- every model format, the three payload forms, the key from the topic -------------------------
# rows in turn as {"features":[..]}, {"ts":"t<row>","values":[..]} and CSV text, on
# sensors/<id>/reading: the key is topic level 2
while read -r id model input outs; do
  [ -z "$id" ] && continue
  rows=$("$X" rows "$input" 6)
  rows_of "$input" "$rows" >"$T/rows.txt"
  echo "$rows" | tr ',' '\n' | paste -d' ' - "$T/rows.txt" | awk -v id="$id" '{
    t = "sensors/" id "/reading"
    if (NR % 3 == 1) printf "%s {\"features\":[%s]}\n", t, $2
    else if (NR % 3 == 2) printf "%s {\"ts\":\"t%s\",\"values\":[%s]}\n", t, $1, $2
    else printf "%s %s\n", t, $2 }' >"$T/pub.txt"
  n=$(wc -l <"$T/pub.txt")
  collect "scores/$id" "res-$id" "$n"
  pipe_start "$id" --model "$model" --in "$U/sensors/+/reading" --out "$U/scores/$id" --key-from-topic 2
  publish "$id" <"$T/pub.txt"
  check "$id: every reading is acknowledged to the publisher ($(cat "$T/pub.err"))" "grep -q 'published $n acked $n' '$T/pub.err'"
  wait "$DUMP"
  pipe_stop; rc=$?
  check "$id: the pipe exits 0 on SIGTERM (rc $rc; $(tail -n 2 "$T/$id.pipe.err" | tr '\n' ' '))" "[ $rc -eq 0 ]"
  check "$id: one result per reading ($(wc -l <"$T/res-$id.out") of $n)" "[ \$(grep -c '\"scored_at\"' '$T/res-$id.out') -eq $n ]"
  check "$id: no error results" "! grep -q '\"error\"' '$T/res-$id.out'"
  check "$id: the key is topic level 2" "[ \$(grep -c '\"key\":\"$id\"' '$T/res-$id.out') -eq $n ]"
  outputs_of "$T/res-$id.out" >"$T/got.jsonl"
  for spec in $outs; do
    out=${spec%%:*}; rest=${spec#*:}; ref=${rest%%:*}; labels=""
    [ "$rest" != "$ref" ] && labels="--labels ${rest#*:}"
    check "$id: $out equals the framework's output" "'$X' check --lines $labels '$ref' '$rows' '$T/got.jsonl' '*.$out' >'$T/judge.log' 2>&1 || { cat '$T/judge.log'; false; }"
  done
done <<MODELS_END
$MODELS
MODELS_END
r2=$(echo "$rows" | cut -d, -f2)
check "a {ts, values} reading: id <key>@<ts> and its ts passed through" \
  "grep -q '\"id\":\"xgb_binary_json@t$r2\".*\"ts\":\"t$r2\"' '$T/res-xgb_binary_json.out'"

# ---- alerts with hysteresis, published on their own topic; --key-field ---------------------------
# probabilities[1] of rows 5, 2, 3, 2, 5 for one key, from the framework's reference (the
# reasoning of tests/stream/test_stream.sh): threshold 0.2, clear 0.15: raised at t1 (row 5,
# 0.281), held at t2 (0.191), cleared at t3 (0.057), not raised at t4 (0.191), raised at t5.
id=sk_gb_clf_binary; input=$FX/$id/input_0.npy; model=$FX/$id/model.onnx
rows_of "$input" 0,1,2,3,4,5 >"$T/rows6.txt"
row() { sed -n "$(($1 + 1))p" "$T/rows6.txt"; }
: >"$T/al.txt"; i=0
for r in 5 2 3 2 5; do i=$((i + 1)); echo "plant/line1/reading {\"dev\":\"dev1\",\"ts\":\"t$i\",\"values\":[$(row $r)]}" >>"$T/al.txt"; done
echo 'plant/line1/reading {"ts":"t9","values":[1,2,3,4,5,6,7,8]}' >>"$T/al.txt"
collect alerts al 3
collect "scores/al" alres 6
AL_ARGS="--model $model --in $U/plant/+/reading --out $U/scores/al --key-field dev --alert probabilities[1]>0.2 --alert-clear 0.15 --alert-out $U/alerts"
pipe_start al $AL_ARGS
publish al <"$T/al.txt"
wait "$DUMP"
seq=$(sed 's/.*"alert":"\([a-z]*\)".*"id":"\([^"]*\)".*/\1:\2/' "$T/al.out" | tr '\n' ' ')
check "alerts on the alerts topic: raised, cleared, raised ($seq)" "[ '$seq' = 'raised:dev1@t1 cleared:dev1@t3 raised:dev1@t5 ' ]"
check "alerts carry the key from --key-field and the value read" "grep -q '\"key\":\"dev1\",\"value\":0.28' '$T/al.out'"
check "the alert rule is named in each alert" "[ \$(grep -c '\"rule\":\"probabilities\[1\]>0.2\"' '$T/al.out') -eq 3 ]"
i=0; while [ $i -lt 50 ] && [ "$(wc -l <"$T/alres.out")" -lt 6 ]; do sleep 0.1; i=$((i + 1)); done
check "a reading without the --key-field member gets an error result saying so" "grep -q \"payload has no member 'dev' (--key-field)\" '$T/alres.out'"
outputs_of "$T/alres.out" >"$T/got.jsonl"
check "the alerting pipe's results equal the framework's" "'$X' check --lines '$FX/$id/output_1.npy' 5,2,3,2,5 '$T/got.jsonl' '*.probabilities' >/dev/null"
kill "$DUMP" 2>/dev/null

# ---- a stopped pipe resumes: readings published while it was down are scored after it restarts -----
pipe_stop
collect "scores/al" resume 20 15
: >"$T/down.txt"
for i in $(seq 1 20); do echo "plant/line2/reading {\"dev\":\"dev2\",\"ts\":\"d$i\",\"features\":[$(row $((i % 6)))]}" >>"$T/down.txt"; done
publish down <"$T/down.txt"
check "readings published while the pipe is down are acknowledged by the broker" "grep -q 'published 20 acked 20' '$T/pub.err'"
pipe_start al2 $AL_ARGS
wait "$DUMP"
check "the restarted pipe (same default client id) scores all 20 ($(grep -c scored_at "$T/resume.out"))" \
  "[ \$(grep -c '\"id\":\"dev2@d' '$T/resume.out') -eq 20 ]"
check "  in the order they were published" "[ \"\$(sed 's/.*\"id\":\"dev2@d\([0-9]*\)\".*/\1/' '$T/resume.out' | tr '\n' ' ')\" = '$(seq 1 20 | tr '\n' ' ')' ]"

# ---- bad payloads: an error result each, with the reason; a good reading after them is scored -----
collect "scores/al" badres 8
big=$(head -c 1100000 /dev/zero | tr '\0' '7')
{
  echo "plant/line3/reading garbage"
  echo "plant/line3/reading "
  echo 'plant/line3/reading {"dev":"d3","x":1}'
  echo 'plant/line3/reading {"dev":"d3","features":[1,2'
  echo 'plant/line3/reading {"dev":"d3","features":[1,2]}'
  printf 'plant/line3/reading \001\002\377\376\n'
  echo "plant/line3/reading $big"
  echo "plant/line3/reading {\"dev\":\"d3\",\"ts\":\"good\",\"features\":[$(row 2)]}"
} | publish bad
wait "$DUMP"
check "8 readings, 8 results" "[ \$(grep -c scored_at '$T/badres.out') -eq 8 ]"
check "bad: not JSON, not CSV numbers" "grep -q \"payload is not a JSON object, so it has no member 'dev'\" '$T/badres.out'"
check "bad: an empty payload" "grep -q 'payload is empty' '$T/badres.out'"
check "bad: no features" "grep -q \"payload: no member 'features' or 'values'\" '$T/badres.out'"
check "bad: malformed JSON" "grep -q 'is not one JSON object' '$T/badres.out'"
check "bad: wrong arity, named" "grep -q 'expects 8 numbers, got 2' '$T/badres.out'"
check "bad: a payload over 1 MiB" "grep -q 'payload is 1100000 bytes' '$T/badres.out'"
check "good after bad: scored" "grep -q '\"id\":\"d3@good\".*\"outputs\"' '$T/badres.out'"
pipe_stop; rc=$?
check "the pipe survived the bad payloads and exits 0 (rc $rc)" "[ $rc -eq 0 ]"

# ---- the bridge: MQTT readings -> a durable SQLite queue -> `stream work`, workers killed -9 ------
NB=600
collect "unused/none" none 0 1
pipe_start bridge --in "$U/farm/+/reading" --out "sqlite://$T/bq.db" --key-from-topic 2
: >"$T/br.txt"
for i in $(seq 1 $NB); do echo "farm/f$((i % 4))/reading {\"ts\":\"$i\",\"values\":[$(row $((i % 6)))]}"; done >"$T/br.txt"
echo 'farm/f9/reading not,numbers' >>"$T/br.txt"
publish bridge 600 <"$T/br.txt" &
PUBP=$!
for k in 1 2 3; do
  "$M" stream work --queue "sqlite://$T/bq.db" --model "$model" --store "sqlite://$T/bs.db" --batch 8 --lease-ms 500 >>"$T/bw.log" 2>&1 &
  wp=$!; PIDS="$PIDS $wp"; sleep 0.3; kill -9 $wp; wait $wp 2>/dev/null
done
wait $PUBP
check "the bridge's readings are all acknowledged to the publisher" "grep -q 'published $((NB + 1)) acked $((NB + 1))' '$T/pub.err'"
"$M" stream work --queue "sqlite://$T/bq.db" --model "$model" --store "sqlite://$T/bs.db" --lease-ms 500 >>"$T/bw.log" 2>&1 &
wp=$!; PIDS="$PIDS $wp"
i=0
while [ $i -lt 100 ]; do
  "$M" stream status --queue "sqlite://$T/bq.db" --json >"$T/st.json" 2>/dev/null && grep -q '"pending":0,"lag":0,' "$T/st.json" &&
    [ "$(sqlite3 "$T/bs.db" "select count(*) from mlship_stream_events" 2>/dev/null)" -ge $NB ] && break
  sleep 0.2; i=$((i + 1))
done
kill -TERM $wp; wait $wp
pipe_stop; rc=$?
check "the bridge exits 0 on SIGTERM (rc $rc; $(tail -n 1 "$T/bridge.pipe.err"))" "[ $rc -eq 0 ]"
got=$(sqlite3 "$T/bs.db" "select count(*), count(distinct event_id) from mlship_stream_events where error is null")
check "after 3 workers killed -9, every bridged reading has exactly one stored result ($got of $NB)" "[ '$got' = '$NB|$NB' ]"
for i in $(seq 1 $NB); do echo $((i % 6)); done >"$T/brrows"
for i in $(seq 1 $NB); do echo "f$((i % 4))@$i"; done >"$T/brids"
sqlite3 "$T/bs.db" "select event_id, outputs from mlship_stream_events" | sort >"$T/brout"
awk -F'|' 'NR == FNR { o[$1] = $2; next } { print o[$1] }' "$T/brout" "$T/brids" >"$T/got.jsonl"
check "the bridged readings' stored outputs equal the framework's" "check_long '$FX/$id/output_1.npy' '$T/brrows' '$T/got.jsonl' '*.probabilities'"
check "the bad reading is dead-lettered with the pipe's reason" \
  "sqlite3 '$T/bq.db' \"select body from mlship_queue where stream like '%:dead'\" | grep -q \"value 0 ('not') is not a number\""

# ---- faults: the pipe killed -9 twenty times and the broker restarted while readings flow ----------
NK=4000; RATE=400; BATCH=16
: >"$T/fk.txt"
for i in $(seq 1 $NK); do echo "mill/m$((i % 5))/reading {\"ts\":\"$i\",\"features\":[$(row $((i % 6)))]}"; done >"$T/fk.txt"
collect "scores/fk" fk $NK 20
FK_ARGS="--model $model --in $U/mill/+/reading --out $U/scores/fk --key-from-topic 2 --batch $BATCH"
pipe_start fk $FK_ARGS
publish fk $RATE <"$T/fk.txt" &
PUBP=$!
kills=0
for k in $(seq 1 20); do
  sleep 0.35
  kill -9 "$PIPE"; wait "$PIPE" 2>/dev/null; kills=$((kills + 1))
  if [ $k -eq 10 ]; then broker_stop; sleep 0.3; broker_start; fi
  "$M" stream pipe $FK_ARGS >/dev/null 2>>"$T/fk.pipe.err" &
  PIPE=$!; PIDS="$PIDS $PIPE"
done
wait $PUBP; prc=$?
check "the publisher got every acknowledgement across the broker restart ($(cat "$T/pub.err"))" "[ $prc -eq 0 ]"
wait "$DUMP"
pipe_stop
total=$(grep -c scored_at "$T/fk.out")
sed 's/.*"id":"\(m[0-9]@[0-9]*\)".*/\1/' "$T/fk.out" | sort | uniq -c | awk '{ print $2 " " $1 }' >"$T/fk.count"
uniq_n=$(wc -l <"$T/fk.count"); dup=$((total - uniq_n)); lost=$((NK - uniq_n))
# wrong: a result whose numbers are not the framework's for its reading (first copy of each id)
awk '!seen[$0]++' "$T/fk.out" | grep '"outputs"' | awk -F'"id":"' '{ split($2, a, "\""); if (!s[a[1]]++) print }' >"$T/fk.first"
sed 's/.*"id":"m[0-9]@\([0-9]*\)".*/\1/' "$T/fk.first" | awk '{ print $1 % 6 }' >"$T/fk.rows"
outputs_of "$T/fk.first" >"$T/got.jsonl"
wrong=0
check_long "$FX/$id/output_1.npy" "$T/fk.rows" "$T/got.jsonl" '*.probabilities' >"$T/fk.judge" 2>&1 || wrong=1
errs=$(grep -c '"error"' "$T/fk.out")
echo "mqtt faults: $kills pipe kills (kill -9), 1 broker restart, $NK readings: $uniq_n scored, lost $lost, duplicated $dup, wrong $wrong (error results $errs)"
check "no wrong result after kills and a broker restart ($(head -c 300 "$T/fk.judge"))" "[ $wrong -eq 0 ] && [ $errs -eq 0 ]"
check "lost at most the readings in hand at each kill ($lost <= $kills x $BATCH)" "[ $lost -le $((kills * BATCH)) ]"
check "the restarted pipes scored the readings published while they were down ($uniq_n of $NK)" "[ $uniq_n -ge $((NK - kills * BATCH)) ]"

# ---- what MQTT does not guarantee: a stock mosquitto drops acknowledged QoS 1 messages ----------
# The same flow to a broker with Debian's defaults (max_queued_messages 1000) and to ours (0):
# a subscriber with a persistent session that is away while 5,000 readings are published. The
# publisher gets every PUBACK from both; the stock broker keeps 1,000 of them for the session.
SP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/stock"
printf '%s\n' "listener $SP 127.0.0.1" "allow_anonymous true" "user root" "pid_file $T/stock/m.pid" \
  "log_dest file $T/stock/m.log" >"$T/stock/m.conf"
"$MOSQ" -c "$T/stock/m.conf" -d 2>/dev/null
i=0; until [ -s "$T/stock/m.pid" ] && echo "ping x" | "$Q" pub 127.0.0.1 "$SP" "ping-$$" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.1; done
STOCK_PID=$(cat "$T/stock/m.pid" 2>/dev/null)
PIDS="$PIDS $STOCK_PID"
away() { # PORT NAME: create the session, publish 5,000 while it is away, then read what it kept
  "$Q" dump 127.0.0.1 "$1" stock/t "away-$2" 0 1 2>/dev/null
  "$Q" flood 127.0.0.1 "$1" stock/t 5000 0 "$T/rows6.txt" 2>"$T/$2.flood"
  "$Q" dump 127.0.0.1 "$1" stock/t "away-$2" 5000 2 >"$T/$2.kept" 2>/dev/null
}
away "$SP" stock; away "$PORT" ours
kill "$STOCK_PID" 2>/dev/null
kept_stock=$(grep -c . "$T/stock.kept"); kept_ours=$(grep -c . "$T/ours.kept")
echo "mqtt QoS 1, 5000 published and acknowledged to an absent persistent subscriber: a stock mosquitto kept $kept_stock, max_queued_messages 0 kept $kept_ours"
check "both brokers acknowledged all 5000 to the publisher" "grep -q 'acked 5000' '$T/stock.flood' && grep -q 'acked 5000' '$T/ours.flood'"
check "a stock mosquitto drops acknowledged QoS 1 messages past max_queued_messages ($kept_stock of 5000 kept)" "[ $kept_stock -lt 5000 ]"
check "max_queued_messages 0 keeps all 5000 ($kept_ours)" "[ $kept_ours -eq 5000 ]"

broker_stop
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
