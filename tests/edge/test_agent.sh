#!/bin/sh
# test_agent.sh: the device agent's fault matrix (issue 14 section 3) against nginx serving a
# directory written by `mlship edge publish`, on loopback: backend down at start and
# mid-download (the download resumes with Range), a flipped byte, a bad signature, another
# key, a replayed older manifest, an expired one, a golden check failure, a model that fails
# to load, a lying size (the server sends more than the manifest says), --max-blob, a
# malformed manifest, a full disk (a small tmpfs; skipped when mount is not permitted), a new
# model the agent dies with twice before confirming (reverted), and 20 successive updates
# under steady local load with zero failed predictions. Predictions are checked against
# scikit-learn's own outputs in tests/fixtures/ml/sk_gb_clf_binary.
# The backend is EDGE_BACKEND: nginx (default) or serve (`mlship serve --edge-dir`, whose
# hidden --test-edge-rate plays nginx's limit_rate). The agent runs as $AGENT_RUN $M (e.g.
# AGENT_RUN="qemu-aarch64 -L /" with an aarch64 build; the publisher and the backend stay
# native: they are the server side).
# Usage: sh tests/edge/test_agent.sh [build/mlship [agent-binary]]
M=${1:-build/mlship}
AM=${2:-$M}
BK=${EDGE_BACKEND:-nginx}
AGENT_RUN=${AGENT_RUN:-}
cd "$(dirname "$0")/../.." || exit 2
pass=0; fail=0; skip=0
ok()   { pass=$((pass + 1)); echo "ok   $1"; }
bad()  { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "     $2"; }
skip() { skip=$((skip + 1)); echo "skip $1"; }
case $BK in
  nginx) command -v nginx >/dev/null 2>&1 || { echo "FAIL nginx not installed (scripts/deps.sh test)"; echo "0 passed, 1 failed"; exit 1; }
         PFX="" ;;
  serve) PFX=/edge ;;
  *) echo "FAIL EDGE_BACKEND '$BK' is not nginx or serve"; echo "0 passed, 1 failed"; exit 1 ;;
esac
echo "# backend: $BK; agent: ${AGENT_RUN:+$AGENT_RUN }$AM"
make -s build/tcompare >/dev/null || { echo "FAIL cannot build build/tcompare"; echo "0 passed, 1 failed"; exit 1; }
FIX=tests/fixtures/ml/sk_gb_clf_binary
T=$(mktemp -d); PUB=$T/pub; ST=$T/state
# ports nobody listens on now (one derived from the PID can collide with a test service's)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
NG=$(free_port); SLOW=$(free_port); AP=$(free_port)
NGPID=""; APID=""; LPID=""
cleanup() {
  for p in $LPID $APID $NGPID; do kill "$p" 2>/dev/null; done
  mountpoint -q "$T/tiny" 2>/dev/null && umount "$T/tiny"
  rm -rf "$T"
}
trap cleanup EXIT

# ---- the backend: nginx, config in the temp dir, started and stopped by PID -----------------
mkdir -p "$T/ng" "$PUB"
cat > "$T/ng/nginx.conf" <<NGX
daemon off;
worker_processes 1;
pid $T/ng/nginx.pid;
error_log $T/ng/error.log;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 64; }
http {
  access_log $T/ng/access.log;
  client_body_temp_path $T/ng; proxy_temp_path $T/ng; fastcgi_temp_path $T/ng;
  uwsgi_temp_path $T/ng; scgi_temp_path $T/ng;
  server { listen 127.0.0.1:$NG; root $PUB; }
  server { listen 127.0.0.1:$SLOW; root $PUB; location /blobs/ { limit_rate 3k; } }
}
NGX
# or two `mlship serve --edge-dir` on the same ports (the second with blobs at 3 KiB/s), the
# access log in the same place
sv_up() { # port [options]: one serve, waited for
  p=$1; shift
  "$M" serve --model "$FIX/model.onnx" --edge-dir "$PUB" --host 127.0.0.1 --port "$p" --threads 2 \
    --access-log "$T/ng/access.log" "$@" 2>>"$T/ng/error.log" & NGPID="$NGPID $!"
  i=0; until curl -sf "http://127.0.0.1:$p/v2/health/live" >/dev/null 2>&1; do i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.05; done
}
ng_start() {
  if [ "$BK" = nginx ]; then nginx -e "$T/ng/error.log" -p "$T/ng" -c "$T/ng/nginx.conf" & NGPID=$!; sleep 0.3
  else NGPID=""; sv_up $NG; sv_up $SLOW --test-edge-rate 3072; fi
}
# down: nginx's TERM is its fast shutdown; serve's would drain the download first, so KILL
ng_stop()  { [ -n "$NGPID" ] && kill -"$([ "$BK" = nginx ] && echo TERM || echo KILL)" $NGPID 2>/dev/null; wait $NGPID 2>/dev/null; NGPID=""; }

# ---- publishing -------------------------------------------------------------------------------
"$M" edge keygen -o "$T/key" >/dev/null && "$M" edge keygen -o "$T/other" >/dev/null || { echo "FAIL keygen"; exit 1; }
V=0
pub() { # [model] [extra publish options...]: the next version, into ${INTO:-$PUB}
  V=$((V + 1)); model=${1:-$FIX/model.onnx}; [ $# -gt 0 ] && shift
  "$M" edge publish --key "$T/key" --model "$model" --name gb --version $V --dir "${INTO:-$PUB}" "$@" >/dev/null
}
resign() { "$M" edge sign --key "${1:-$T/key}" --manifest "$PUB/gb/manifest.json"; }

# ---- the agent ----------------------------------------------------------------------------------
agent_start() { # backend-port state-dir [options]
  port=$1; dir=$2; shift 2
  $AGENT_RUN "$AM" agent --state "$dir" --backend "http://127.0.0.1:$port$PFX" --name gb --pubkey "$T/key.pub" \
    --listen "127.0.0.1:$AP" --poll-s 1 --confirm-s 1 --stall-s 5 "$@" >>"$T/agent.log" 2>&1 & APID=$!
  i=0; until curl -sf "http://127.0.0.1:$AP/v2/health/live" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt ${AGENT_WAIT:-100} ] && break; sleep 0.05; done
}
agent_stop() { [ -n "$APID" ] && kill -"${1:-TERM}" "$APID" 2>/dev/null; wait "$APID" 2>/dev/null; APID=""; }
status() { curl -s "http://127.0.0.1:$AP/v1/agent/status"; }
wait_status() { # grep-pattern [seconds]: 0 once status matches
  i=0; while [ $i -lt $((${2:-15} * 10)) ]; do status | grep -q "$1" && return 0; sleep 0.1; i=$((i + 1)); done
  return 1
}
serving() { status | sed -n 's/.*"serving_version": \([0-9]*\).*/\1/p'; }

# The V2 request: the fixture's rows, as the manifest's golden inputs carry them
request() { python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["golden"]; print(json.dumps({"inputs": g["inputs"]}))' "$PUB/gb/manifest.json"; }
# POST it and compare the probabilities with scikit-learn's (output_1.npy)
check_predict() { # label
  curl -s -XPOST "http://127.0.0.1:$AP/v2/models/gb/infer" -H 'Content-Type: application/json' -d @"$T/req.json" > "$T/resp.json"
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(r["outputs"][1]))' "$T/resp.json" > "$T/p.json" 2>/dev/null
  if build/tcompare "$T/p.json" "$FIX/output_1.npy" >/dev/null 2>&1; then ok "$1"; else bad "$1" "$(head -c 300 "$T/resp.json")"; fi
}

# 1. backend down at start, nothing installed: the agent runs, is live, not ready, says why
agent_start $NG "$ST"
if curl -sf "http://127.0.0.1:$AP/v2/health/live" >/dev/null && ! curl -sf "http://127.0.0.1:$AP/v2/health/ready" >/dev/null \
   && wait_status '"last_error": "http://127.0.0.1:'$NG$PFX'/gb/manifest.json: Couldn'; then ok "backend down at start: live, not ready, error names the URL"
else bad "backend down at start" "$(status)"; fi

# 2. the backend comes up: version 1 installs and predicts scikit-learn's probabilities
pub "$FIX/model.onnx" --golden "$FIX/input_0.npy"; request > "$T/req.json"
ng_start
if wait_status '"serving_version": 1,.*"state": "confirmed"'; then ok "v1 installed and confirmed"; else bad "v1 installed" "$(status)"; fi
check_predict "v1 local /v2 infer equals scikit-learn"
$AGENT_RUN "$AM" agent predict --state "$ST" "$FIX/input_0.npy" -o "$T/out" --output-format npy >/dev/null 2>&1
if build/tcompare "$T/out/output_1.npy" "$FIX/output_1.npy" >/dev/null 2>&1; then ok "agent predict equals scikit-learn"; else bad "agent predict"; fi
cp "$PUB/gb/manifest.json" "$T/old.json"; cp "$PUB/gb/manifest.sig" "$T/old.sig"

# 2b. serve --edge-dir as an HTTP file server (against the file itself, with curl)
if [ "$BK" = serve ]; then
  U=http://127.0.0.1:$NG/edge
  code() { rm -f "$T/body"; curl -s --path-as-is -o "$T/body" -w '%{http_code}' "$@"; }
  blob=$(ls "$PUB/blobs" | head -n 1); size=$(wc -c < "$PUB/blobs/$blob")
  etag=$(curl -sI "$U/gb/manifest.json" | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' | tr -d '\r')
  [ "$(code "$U/gb/manifest.json")" = 200 ] && cmp -s "$T/body" "$PUB/gb/manifest.json" && [ -n "$etag" ] \
    && ok "edge-dir: GET the manifest, byte for byte, with an ETag" || bad "edge-dir GET" "etag '$etag'"
  [ "$(code -H "If-None-Match: $etag" "$U/gb/manifest.json")" = 304 ] && [ ! -s "$T/body" ] \
    && [ "$(code -H 'If-None-Match: "other"' "$U/gb/manifest.json")" = 200 ] \
    && ok "edge-dir: If-None-Match 304 on the same tag, 200 on another" || bad "edge-dir If-None-Match"
  tail -c +101 "$PUB/blobs/$blob" > "$T/tail"
  [ "$(code -H 'Range: bytes=100-' "$U/blobs/$blob")" = 206 ] && cmp -s "$T/body" "$T/tail" \
    && [ "$(code -H 'Range: bytes=-10' "$U/blobs/$blob")" = 206 ] && cmp -s "$T/body" "$(tail -c 10 "$PUB/blobs/$blob" > "$T/t10"; echo "$T/t10")" \
    && ok "edge-dir: Range A- and -N give 206 with exactly those bytes" || bad "edge-dir Range"
  h=$(curl -sI -H "Range: bytes=$size-" "$U/blobs/$blob" | tr -d '\r')
  echo "$h" | grep -q "^HTTP/1.1 416" && echo "$h" | grep -qi "^Content-Range: bytes \*/$size$" \
    && ok "edge-dir: a range past the end is 416 with Content-Range */$size" || bad "edge-dir 416" "$h"
  h=$(curl -sI "$U/blobs/$blob" | tr -d '\r')
  echo "$h" | grep -qi "^Content-Length: $size$" && echo "$h" | grep -qi "^Accept-Ranges: bytes" \
    && ok "edge-dir: HEAD gives Content-Length $size and Accept-Ranges" || bad "edge-dir HEAD" "$h"
  ln -s /etc/passwd "$PUB/gb/passwd"; ln -s /etc "$PUB/etc"; n404=0
  for p in gb gb/ blobs "../$(basename "$PUB")/gb/manifest.json" '%2e%2e/%2e%2e/etc/passwd' '..%2f..%2fetc/passwd' \
           gb/passwd etc/passwd .hidden gb/nope; do
    c=$(code "$U/$p"); [ "$c" = 404 ] && grep -q '"error":"/edge/' "$T/body" && n404=$((n404 + 1)) || echo "     $p: $c $(head -c 200 "$T/body")"
  done
  rm -f "$PUB/gb/passwd" "$PUB/etc"
  [ $n404 = 10 ] && ok "edge-dir: no listing, no .., %2e%2e or symbolic link out: 10 paths, 10 clear 404s" || bad "edge-dir 404s" "$n404 of 10"
fi

# 3. a bad signature and 4. another key: refused, v1 keeps serving
pub "$FIX/model.onnx" --golden "$FIX/input_0.npy"
c=$(head -c 1 "$PUB/gb/manifest.sig"); [ "$c" = 0 ] && c=1 || c=0; sed -i "1s/^./$c/" "$PUB/gb/manifest.sig"
if wait_status 'does not verify' && [ "$(serving)" = 1 ]; then ok "bad signature refused, v1 serving"; else bad "bad signature" "$(status)"; fi
resign "$T/other"
sleep 2
if status | grep -q 'does not verify' && [ "$(serving)" = 1 ]; then ok "other key refused, v1 serving"; else bad "other key" "$(status)"; fi
check_predict "predictions during refused updates"

# 5. a malformed manifest (validly signed): refused by the parser with the field at fault
printf '{"format": "mlship-edge/1", "name": "gb", "version": "two"}' > "$PUB/gb/manifest.json"; resign
if wait_status "must be a number" && [ "$(serving)" = 1 ]; then ok "malformed manifest refused"; else bad "malformed manifest" "$(status)"; fi

# 6. a flipped byte in the blob: SHA-256 mismatch, quarantined
pub "$FIX/model.onnx" --golden "$FIX/input_0.npy"
cp -r "$PUB/blobs" "$T/blobs.good"
blob=$(ls "$PUB/blobs" | head -n 1)
printf 'X' | dd of="$PUB/blobs/$blob" bs=1 seek=100 conv=notrunc 2>/dev/null
if wait_status "version $V quarantined: .*SHA-256" && [ "$(serving)" = 1 ]; then ok "flipped byte quarantined"; else bad "flipped byte" "$(status)"; fi
rm -rf "$PUB/blobs"; cp -r "$T/blobs.good" "$PUB/blobs"

# 7. the server sends more than the manifest's size: stopped, quarantined
pub "$FIX/model.onnx" --golden "$FIX/input_0.npy"
sed -i 's/"size": [0-9]*/"size": 1000/' "$PUB/gb/manifest.json"; resign
if wait_status "version $V quarantined: .*more than the manifest's 1000 bytes" && [ "$(serving)" = 1 ]; then ok "oversized transfer quarantined"; else bad "oversized transfer" "$(status)"; fi

# 8. the golden outputs differ: quarantined before it serves
pub "$FIX/model.onnx" --golden "$FIX/input_0.npy"
python3 -c 'import json,sys; p=sys.argv[1]; m=json.load(open(p)); o=m["golden"]["outputs"][1]; o["data"][0]=o["data"][0]+0.25; open(p,"w").write(json.dumps(m))' "$PUB/gb/manifest.json"; resign
if wait_status "version $V quarantined: golden check: output" && [ "$(serving)" = 1 ]; then ok "golden mismatch quarantined"; else bad "golden mismatch" "$(status)"; fi

# 9. a model that does not load (a truncated file): quarantined with the loader's reason
head -c 3000 "$FIX/model.onnx" > "$T/truncated.onnx"
pub "$T/truncated.onnx"
if wait_status "version $V quarantined" && [ "$(serving)" = 1 ]; then ok "unloadable model quarantined"; else bad "unloadable model" "$(status)"; fi
check_predict "predictions after the quarantines"

# 10. an expired manifest: refused, v1 keeps serving
INTO=$T/stage pub "$FIX/model.onnx" --golden "$FIX/input_0.npy" --expires 1s
sleep 2.2; cp "$T/stage/gb/manifest.json" "$T/stage/gb/manifest.sig" "$PUB/gb/"
if wait_status "expired at" && [ "$(serving)" = 1 ]; then ok "expired manifest refused"; else bad "expired manifest" "$(status)"; fi

# 11. a good update installs; then the older manifest replayed is refused (anti-rollback)
pub "$FIX/model.onnx" --golden "$FIX/input_0.npy"
if wait_status "\"serving_version\": $V,.*confirmed"; then ok "v$V installed after the refusals"; else bad "v$V installed" "$(status)"; fi
cp "$T/old.json" "$PUB/gb/manifest.json"; cp "$T/old.sig" "$PUB/gb/manifest.sig"
if wait_status "version 1 is not greater than version $V" && [ "$(serving)" = $V ]; then ok "replayed v1 manifest refused"; else bad "replay" "$(status)"; fi
# ... and still refused after a restart (the counter is persisted)
agent_stop; agent_start $NG "$ST"
if wait_status "version 1 is not greater" && [ "$(serving)" = $V ]; then ok "replay refused after restart"; else bad "replay after restart" "$(status)"; fi

# 12. --max-blob: a blob over the cap is refused before download
agent_stop; agent_start $NG "$ST" --max-blob 1000
pub "$FIX/model.onnx" --golden "$FIX/input_0.npy"
if wait_status "version $V quarantined: the blob is [0-9]* bytes, over the agent's --max-blob 1000"; then ok "--max-blob refused"; else bad "--max-blob" "$(status)"; fi

# 13. backend down mid-download, then up: the download resumes (a 206) and installs
agent_stop; agent_start $SLOW "$ST"
pub "$FIX/model.onnx" --golden "$FIX/input_0.npy"
sleep 2.5; ng_stop
if wait_status 'after [0-9]* of [0-9]* bytes' 5 && [ "$(serving)" = $((V - 2)) ]; then ok "backend down mid-download: reported, old version serving"
else bad "down mid-download" "$(status)"; fi
check_predict "predictions with the backend down"
ng_start
if wait_status "\"serving_version\": $V,.*confirmed" 20 && status | grep -q '"resumed_bytes": [1-9]' \
   && grep -Eq '" 206 |"status":206' "$T/ng/access.log"; then ok "download resumed with Range (206) and installed"
else bad "resume" "$(status)"; fi
agent_stop; agent_start $NG "$ST"

# 14. backend down, agent restarted: it starts offline and serves the confirmed model
ng_stop; agent_stop; agent_start $NG "$ST"
check_predict "offline start serves the confirmed model"
ng_start

# 15. a new model the agent dies with twice before confirming is reverted at the next start
good=$V
agent_stop; agent_start $NG "$ST" --confirm-s 60
pub "$FIX/model.onnx" --golden "$FIX/input_0.npy"
wait_status "\"serving_version\": $V,.*\"trial\"" >/dev/null
agent_stop KILL; agent_start $NG "$ST" --confirm-s 60
[ "$(serving)" = $V ] || bad "trial model serves after the first crash" "$(status)"
agent_stop KILL; agent_start $NG "$ST" --confirm-s 60
if [ "$(serving)" = $good ] && status | grep -q "\"version\": $V, [^}]*stopped twice"; then ok "reverted to v$good after two unconfirmed starts"
else bad "revert" "$(status)"; fi
check_predict "predictions after the revert"

# 16. a full disk: a state dir on a 128 KiB tmpfs; the bigger model does not fit
mkdir -p "$T/tiny"
agent_stop
if mount -t tmpfs -o size=128k tmpfs "$T/tiny" 2>/dev/null; then
  agent_start $NG "$T/tiny/state"
  pub "$FIX/model.onnx" --golden "$FIX/input_0.npy"
  wait_status "\"serving_version\": $V,.*confirmed" >/dev/null
  pub bench/models/mlp.onnx
  if wait_status 'no space left on the device' && [ "$(serving)" = $((V - 1)) ]; then ok "full disk: reported, old version serving"
  else bad "full disk" "$(status)"; fi
  check_predict "predictions on a full disk"
  agent_stop; umount "$T/tiny"
else skip "full disk (mount -t tmpfs not permitted here)"; fi

# 17. 20 successive updates under steady local load: no failed prediction
agent_start $NG "$ST" --confirm-s 0
pub "$FIX/model.onnx" --golden "$FIX/input_0.npy"
wait_status "\"serving_version\": $V,.*confirmed" >/dev/null
( while :; do curl -s -o /dev/null -w '%{http_code}\n' -XPOST "http://127.0.0.1:$AP/v2/models/gb/infer" \
    -H 'Content-Type: application/json' -d @"$T/req.json"; done ) > "$T/codes" 2>/dev/null & LPID=$!
n=0; upd_fail=0
while [ $n -lt 20 ]; do
  pub "$FIX/model.onnx" --golden "$FIX/input_0.npy"
  wait_status "\"serving_version\": $V,.*confirmed" "${UPDATE_WAIT:-45}" || upd_fail=$((upd_fail + 1))  # s per update; longer under QEMU
  n=$((n + 1))
done
kill $LPID; wait $LPID 2>/dev/null; LPID=""
total=$(wc -l < "$T/codes"); failed=$(grep -vc '^200$' "$T/codes")
if [ $upd_fail -eq 0 ] && [ "$total" -gt 100 ] && [ "$failed" -eq 0 ]; then ok "20 updates under load: $total predictions, 0 failed"
else bad "20 updates under load" "$upd_fail updates missed; $failed of $total predictions failed"; fi
check_predict "predictions after 20 updates"
# this agent installed at least the 21 versions above (and whatever the full-disk case left newer)
inst=$(curl -s "http://127.0.0.1:$AP/metrics" | sed -n 's/^mlship_agent_installs_total //p')
[ "${inst:-0}" -ge 21 ] && ok "/metrics counts the installs ($inst)" || bad "/metrics" "installs_total '$inst'"

# 18. --socket PATH: the same routes on a Unix socket (curl --unix-socket); a live socket is not
# taken over, a stale one (its agent killed -9) is replaced, a regular file is never removed,
# and SIGTERM removes the socket
agent_stop
SK=$T/agent.sock
sock_start() { # [options]: an agent on $SK, waited for
  $AGENT_RUN "$AM" agent --state "$ST" --backend "http://127.0.0.1:$NG$PFX" --name gb --pubkey "$T/key.pub" \
    --socket "$SK" --poll-s 1 --confirm-s 1 "$@" >>"$T/agent.log" 2>&1 & APID=$!
  i=0; until curl -sf --unix-socket "$SK" http://agent/v2/health/ready >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt ${AGENT_WAIT:-100} ] && break; sleep 0.05; done
}
sock_start
curl -s --unix-socket "$SK" -XPOST http://agent/v2/models/gb/infer -H 'Content-Type: application/json' \
  -d @"$T/req.json" > "$T/resp.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(r["outputs"][1]))' "$T/resp.json" > "$T/p.json" 2>/dev/null
if build/tcompare "$T/p.json" "$FIX/output_1.npy" >/dev/null 2>&1; then ok "--socket: /v2 infer over the Unix socket equals scikit-learn"
else bad "--socket infer" "$(head -c 300 "$T/resp.json")"; fi
[ "$(stat -c %a "$SK" 2>/dev/null)" = 660 ] && ok "--socket: the socket file is mode 0660" || bad "--socket mode" "$(stat -c %a "$SK" 2>&1)"
out=$($AGENT_RUN "$AM" agent --state "$T/st2" --backend "http://127.0.0.1:$NG$PFX" --name gb --pubkey "$T/key.pub" \
  --socket "$SK" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "address already in use" && curl -sf --unix-socket "$SK" http://agent/v2/health/live >/dev/null \
  && ok "--socket: a second agent on a live socket is refused, the first keeps answering" || bad "--socket live" "rc $rc: $out"
kill -9 "$APID"; wait "$APID" 2>/dev/null; APID=""
sock_start
curl -sf --unix-socket "$SK" http://agent/v2/health/ready >/dev/null && ok "--socket: a stale socket (agent killed -9) is replaced" \
  || bad "--socket stale" "$(tail -n 3 "$T/agent.log")"
agent_stop
[ ! -e "$SK" ] && ok "--socket: SIGTERM removes the socket file" || bad "--socket cleanup" "$(ls -l "$SK")"
echo keep > "$T/notasock"
out=$($AGENT_RUN "$AM" agent --state "$T/st2" --backend "http://127.0.0.1:$NG$PFX" --name gb --pubkey "$T/key.pub" \
  --socket "$T/notasock" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "not a socket" && [ "$(cat "$T/notasock")" = keep ] \
  && ok "--socket: a regular file at the path is refused and kept" || bad "--socket file" "rc $rc: $out"
out=$($AGENT_RUN "$AM" agent --state "$T/st2" --backend "http://127.0.0.1:$NG" --name gb --pubkey "$T/key.pub" --socket "$SK" \
  --listen 127.0.0.1:1 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "not both" && ok "--socket with --listen: usage error" || bad "--socket --listen" "rc $rc: $out"

ng_stop
[ $fail -ne 0 ] && { echo "--- agent log (tail)"; tail -n 30 "$T/agent.log"; }
echo "edge-agent: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
