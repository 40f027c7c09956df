#!/bin/sh
# test_agent_features.sh: the device's feature cache end to end (issue 14, "extra data"):
# `mlship serve --edge-dir --store --api-token` is the backend; `edge publish --features T`
# names the table in the manifest; the agent syncs it (cursor-based, in pages) into its
# SQLite cache and answers /v1/models/gb:predict by key from it. Checked against
# scikit-learn's own outputs (tests/fixtures/ml/sk_gb_clf_binary: 200 rows of 8 features,
# loaded as keys r0..r199): all keys after the first sync; rows changed on the backend
# (r0..r9 given the features of rows 100..109) answer as those rows after the next sync;
# with the backend killed the agent still answers by key, and after a restart offline too;
# status shows each table's rows, cursor (= the backend's highest change number) and ages;
# /v1/agent/features/T/KEY shows a row's age; a wrong backend token is reported.
# Usage: sh tests/edge/test_agent_features.sh [build/mlship]
M=${1:-build/mlship}
cd "$(dirname "$0")/../.." || exit 2
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "     $2"; }
make -s build/tcompare >/dev/null || { echo "FAIL cannot build build/tcompare"; echo "0 passed, 1 failed"; exit 1; }
command -v sqlite3 >/dev/null || { echo "FAIL sqlite3 not installed"; echo "0 passed, 1 failed"; exit 1; }
FIX=tests/fixtures/ml/sk_gb_clf_binary
T=$(mktemp -d); PUB=$T/pub; ST=$T/state; DB=$T/features.db
# ports nobody listens on now (a port derived from the PID collided once with a test
# service's random port: the agent could not listen and every later check failed)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
BP=$(free_port); AP=$(free_port)
BPID=""; APID=""
cleanup() { for p in $APID $BPID; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT

# the fixture's rows as CSV: id,f0..f7 (r<i>: row i); rows 100..109 as r0..r9 for the update
python3 - "$FIX/input_0.npy" "$T" <<'PY'
import ast, struct, sys
b = open(sys.argv[1], 'rb').read()
hl = struct.unpack('<H', b[8:10])[0]
h = ast.literal_eval(b[10:10 + hl].decode())
n, d = h['shape']
v = struct.unpack('<%df' % (n * d), b[10 + hl:10 + hl + 4 * n * d])
rows = [v[i * d:(i + 1) * d] for i in range(n)]
head = 'id,' + ','.join('f%d' % j for j in range(d)) + '\n'
with open(sys.argv[2] + '/all.csv', 'w') as f:
    f.write(head + ''.join('r%d,' % i + ','.join(repr(x) for x in r) + '\n' for i, r in enumerate(rows)))
with open(sys.argv[2] + '/update.csv', 'w') as f:
    f.write(head + ''.join('r%d,' % i + ','.join(repr(x) for x in rows[100 + i]) + '\n' for i in range(10)))
PY
"$M" features load --store "sqlite://$DB" --table cust --key id -q "$T/all.csv" || { echo "FAIL features load"; exit 1; }

backend_up() {
  "$M" serve --model "$FIX/model.onnx" --edge-dir "$PUB" --store "sqlite://$DB" --api-token tok \
    --host 127.0.0.1 --port $BP --threads 2 2>>"$T/backend.log" & BPID=$!
  i=0; until curl -sf "http://127.0.0.1:$BP/v2/health/live" >/dev/null 2>&1; do i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.05; done
}
agent_up() { # [options]
  "$M" agent --state "$ST" --backend "http://127.0.0.1:$BP/edge" --name gb --pubkey "$T/key.pub" \
    --listen "127.0.0.1:$AP" --poll-s 1 --confirm-s 1 --backend-token "${TOKEN:-tok}" --page-rows 64 "$@" \
    >>"$T/agent.log" 2>&1 & APID=$!
  i=0; until curl -sf "http://127.0.0.1:$AP/v2/health/live" >/dev/null 2>&1; do i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.05; done
}
status() { curl -s "http://127.0.0.1:$AP/v1/agent/status"; }
wait_status() { i=0; while [ $i -lt $((${2:-15} * 10)) ]; do status | grep -q "$1" && return 0; sleep 0.1; i=$((i + 1)); done; return 1; }
# predict keys r<from>..r<to> on the device; compare the probabilities with output_1.npy's rows
keyed() { # label first last ref-first
  keys=$(python3 -c "import sys; print(','.join('\"r%d\"' % i for i in range(int(sys.argv[1]), int(sys.argv[2]) + 1)))" "$2" "$3")
  curl -s -XPOST "http://127.0.0.1:$AP/v1/models/gb:predict" -d "{\"keys\": [$keys]}" > "$T/resp.json"
  python3 - "$T/resp.json" "$FIX/output_1.npy" "$4" "$(($3 - $2 + 1))" > "$T/cmp.txt" 2>&1 <<'PY'
import ast, json, struct, sys
r = json.load(open(sys.argv[1]))
b = open(sys.argv[2], 'rb').read(); hl = struct.unpack('<H', b[8:10])[0]
h = ast.literal_eval(b[10:10 + hl].decode()); n, d = h['shape']
fmt = {'<f4': 'f', '<f8': 'd'}[h['descr']]; sz = struct.calcsize(fmt)
ref = struct.unpack('<%d%s' % (n * d, fmt), b[10 + hl:10 + hl + sz * n * d])
first, count = int(sys.argv[3]), int(sys.argv[4])
preds = r['predictions']
assert len(preds) == count, 'got %d predictions' % len(preds)
for k, p in enumerate(preds):
    got = p['probabilities'] if isinstance(p, dict) else p
    if isinstance(got, dict): got = [got[key] for key in sorted(got)]
    want = ref[(first + k) * d:(first + k + 1) * d]
    assert all(abs(a - w) <= 1e-5 + 1e-5 * abs(w) for a, w in zip(got, want)), 'key %d: %s vs %s' % (k, got, want)
print('ok')
PY
  if grep -qx ok "$T/cmp.txt"; then ok "$1"; else bad "$1" "$(head -c 300 "$T/cmp.txt") $(head -c 300 "$T/resp.json")"; fi
}

"$M" edge keygen -o "$T/key" >/dev/null || { echo "FAIL keygen"; exit 1; }
"$M" edge publish --key "$T/key" --model "$FIX/model.onnx" --name gb --version 1 --dir "$PUB" \
  --golden "$FIX/input_0.npy" --features cust >/dev/null || { echo "FAIL publish"; exit 1; }
grep -q '"features": \["cust"\]' "$PUB/gb/manifest.json" && ok "publish --features puts the table in the manifest" || bad "manifest features"

# 1. the backend's API itself: a token, JSON Lines, a cursor
backend_up
c=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$BP/v1/features/cust")
[ "$c" = 401 ] && ok "GET /v1/features/cust without the token: 401" || bad "features token" "$c"
curl -s -H 'Authorization: Bearer tok' "http://127.0.0.1:$BP/v1/features/cust?since=195" > "$T/page"
max=$(sqlite3 "$DB" "select max(mlship_change) from cust")
if [ "$(wc -l < "$T/page")" = $((1 + max - 195 + 1)) ] && head -n 1 "$T/page" | grep -q '"key": "id", "columns": \["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"\]' \
   && tail -n 1 "$T/page" | grep -q "\"next\": $max, \"rows\": $((max - 195)), \"more\": false"; then ok "since=195: the schema, rows 196..$max, next $max"
else bad "since page" "$(head -c 400 "$T/page")"; fi

# 2. first sync: 200 rows in pages of 64, keyed predictions equal scikit-learn's
agent_up
if wait_status '"table": "cust", "rows": 200, "cursor": '"$max"; then ok "synced 200 rows in pages of 64, cursor $max"; else bad "first sync" "$(status)"; fi
wait_status '"serving_version": 1,' >/dev/null
sleep 1.5 # the repository reloads the model with its new config.json
keyed "keyed predictions r0..r199 from the cache equal scikit-learn" 0 199 0

# 3. rows changed on the backend reach the device at the next sync
"$M" features load --store "sqlite://$DB" --table cust --key id -q "$T/update.csv"
max2=$(sqlite3 "$DB" "select max(mlship_change) from cust")
if wait_status '"rows": 200, "cursor": '"$max2"; then ok "changed rows synced (cursor $max -> $max2)"; else bad "update sync" "$(status)"; fi
keyed "changed keys r0..r9 now answer as rows 100..109" 0 9 100
keyed "unchanged keys r10..r99 as before" 10 99 10
curl -s "http://127.0.0.1:$AP/v1/agent/features/cust/r3" > "$T/row.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["change"] > int(sys.argv[2]) and r["age_s"] >= 0 and r["synced_age_s"] >= 0 and len(r["values"]) == 8' "$T/row.json" "$max" 2>/dev/null \
  && ok "/v1/agent/features/cust/r3: values, change number, age" || bad "row age" "$(head -c 300 "$T/row.json")"

# 4. backend gone: keyed predictions go on from the cache; status shows the cache aging
kill -9 $BPID; wait $BPID 2>/dev/null; BPID=""
sleep 2.5
keyed "backend down: keyed predictions from the cache" 0 9 100
age=$(status | python3 -c 'import json,sys; f=json.load(sys.stdin)["features"][0]; print(f["last_sync_age_s"], f["oldest_row_age_s"] is not None, f["last_error"][:200])')
case $age in [2-9].*" True "*Couldn*|[1-9][0-9]*" True "*Couldn*) ok "status: cache last synced ${age%% *} s ago, the sync error named";;
  *) bad "status ages" "$age";; esac

# 5. restarted offline: config.json rebuilt from the cache, keys still answer
kill $APID; wait $APID 2>/dev/null; APID=""
agent_up
sleep 1
keyed "restarted offline: keyed predictions r0..r9 from the cache" 0 9 100
keyed "restarted offline: keyed predictions r10..r199 from the cache" 10 199 10

# 6. a wrong backend token: reported per table, the cache keeps answering
kill $APID; wait $APID 2>/dev/null; APID=""
backend_up
TOKEN=wrong agent_up
if wait_status '"last_error": "http://127.0.0.1:'$BP'/v1/features/cust?since='"$max2"'&limit=64: HTTP 401'; then ok "wrong backend token: HTTP 401 reported with the URL"
else bad "wrong token" "$(status)"; fi
keyed "wrong token: keyed predictions from the cache" 10 199 10

kill $APID $BPID 2>/dev/null; wait $APID $BPID 2>/dev/null; APID=""; BPID=""
[ $fail -ne 0 ] && { echo "--- agent log (tail)"; tail -n 20 "$T/agent.log"; }
echo "edge-agent-features: $pass passed, $fail failed"
[ $fail -eq 0 ]
