#!/bin/sh
# test_readme.sh: every `curl` line of the README's real-time block, and every curl command
# scripts/run_example.sh (`make run`) prints, run against the served example, so neither can
# drift from what the server answers.
#
# Setup is the example's own: scripts/run_example.sh with SETUP_ONLY=1 (features into SQLite,
# the model repository, one published batch run) into a scratch database; then the README's
# own `mlship serve` line is started (mlship -> the binary under test, the store -> that
# database, --port 0). README lines get localhost:8080 replaced by the real address, the
# script's printed lines (PORT=0) 127.0.0.1:0.
#
# Each line must answer 200 with a body that makes sense for its route:
#   /v2/models/fraud/infer    the probabilities numpy computed for request.json
#                             (examples/fraud/expected.json), within 1e-5
#   /predict                  one probability, equal to the keys route's and the published
#                             batch prediction's for c_1 (the README row is c_1's row)
#   :predict {"keys": ..}     a number for every known key
#   /predictions/c_1          key c_1 and a probability
#   /v2/health/ready          {"ready":true};  /metrics  mlship_requests_total series
# Usage: sh tests/docs/test_readme.sh [path/to/mlship]    Ends with "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
case "$M" in /*) ;; *) M="$PWD/$M" ;; esac
T=$(mktemp -d) || exit 2
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

command -v curl >/dev/null || { bad "curl is not installed"; finish; }
[ -x "$M" ] || { bad "no $M"; finish; }

# ---- the README's block: from the line after "## Real-time serving"'s first ```sh to ``` ----
sed -n '/^## Real-time serving/,/^## /p' README.md |
  sed -n '/^```sh/,/^```/p' | sed '1d;$d' >"$T/block"
grep '^curl ' "$T/block" >"$T/readme_curls"
serve_line=$(grep '^mlship serve ' "$T/block" | head -n 1)
n_readme=$(wc -l <"$T/readme_curls")
[ "$n_readme" -ge 5 ] && ok || bad "README real-time block: $n_readme curl lines, expected at least 5"
[ -n "$serve_line" ] && ok || { bad "README real-time block has no 'mlship serve' line"; finish; }

# ---- the example's setup, as make run does it, into a scratch database ----------------------
DB=$T/example.db
if DB="$DB" PORT=0 SETUP_ONLY=1 BUILD="$(dirname "$M")" sh scripts/run_example.sh >"$T/setup.out" 2>&1; then ok
else bad "scripts/run_example.sh SETUP_ONLY=1 failed"; sed 's/^/    | /' "$T/setup.out" | tail -n 8; finish; fi
grep '^  curl ' "$T/setup.out" | sed 's/^  //' >"$T/script_curls"
n_script=$(wc -l <"$T/script_curls")
[ "$n_script" -ge 5 ] && ok || bad "run_example.sh printed $n_script curl lines, expected at least 5"

# ---- the README's serve line, on a free port ---------------------------------------------------
case "$serve_line" in
  *"--store sqlite://build/example.db"*) ok ;;
  *) bad "README serve line does not use the store make run fills (sqlite://build/example.db): $serve_line" ;;
esac
args=$(echo "$serve_line" | sed "s#^mlship serve ##; s#sqlite://build/example.db#sqlite://$DB#")
# shellcheck disable=SC2086  # the README's arguments, split as a shell would
"$M" serve $args --port 0 >"$T/serve.log" 2>&1 &
PID=$!
PORT=""
for _i in $(seq 1 100); do
  PORT=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$T/serve.log" | head -n 1)
  [ -n "$PORT" ] && break
  kill -0 $PID 2>/dev/null || break
  sleep 0.05
done
[ -n "$PORT" ] || { bad "the README's serve line did not start"; sed 's/^/    | /' "$T/serve.log"; finish; }
A=127.0.0.1:$PORT

# num BODY_FILE KEY: the first number after "KEY":[ (or "KEY": ) in a JSON body
num() { sed -n "s/.*\"$2\":\[\{0,1\}\([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1; }
# close A B: |A - B| <= 1e-6 * (1 + |B|), both numbers
close() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b;
  exit !(a != "" && b != "" && d <= 1e-6 * (1 + m)) }'; }

P_PREDICT=""; P_KEYS=""; P_LOOKUP=""
# check SOURCE LINE: run one curl line (headers to $T/hdr, body to $T/body), then its route's check
check() {
  src=$1 line=$2
  cmd=$(echo "$line" | sed "s#localhost:8080#$A#g; s#127\.0\.0\.1:0/#$A/#g; s#^curl #curl -D '$T/hdr' #")
  : >"$T/hdr"
  sh -c "$cmd" >"$T/body" 2>"$T/err"
  status=$(sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$T/hdr" | tr -d '\r')
  if [ "$status" = 200 ]; then ok; else
    bad "$src: HTTP ${status:-none}: $line"; awk '{ print "    | " $0 }' "$T/body" "$T/err" | head -n 5; return
  fi
  case "$line" in
  */v2/models/fraud/infer*)
    got=$(sed -n 's/.*"data":\[\([^]]*\)\].*/\1/p' "$T/body")
    want=$(sed -n 's/.*"probability": *\[\([^]]*\)\].*/\1/p' examples/fraud/expected.json)
    if awk -v g="$got" -v w="$want" 'BEGIN { n = split(g, a, ","); m = split(w, b, ",");
         if (n != m || n == 0) exit 1; for (i = 1; i <= n; i++) { d = a[i] - b[i];
         if (d < 0) d = -d; if (d > 1e-5) exit 1 } }'; then ok
    else bad "$src: infer answered [$got], numpy says [$want]"; fi ;;
  */predict\ *|*/predict)
    P_PREDICT=$(num "$T/body" prediction)
    awk -v p="$P_PREDICT" 'BEGIN { exit !(p != "" && p > 0 && p < 1) }' && ok ||
      bad "$src: /predict body is not one probability: $(cat "$T/body")" ;;
  *fraud:predict*)
    P_KEYS=$(num "$T/body" predictions)
    if grep -q '"predictions":\[[-0-9.eE+]*,[-0-9.eE+]*' "$T/body"; then ok
    else bad "$src: keys route did not score c_1 and c_2: $(cat "$T/body")"; fi ;;
  */predictions/c_1*)
    P_LOOKUP=$(num "$T/body" probability)
    grep -q '"key":"c_1"' "$T/body" && [ -n "$P_LOOKUP" ] && ok ||
      bad "$src: lookup of c_1: $(cat "$T/body")" ;;
  */v2/health/ready*)
    grep -qx '{"ready":true}' "$T/body" && ok || bad "$src: ready: $(cat "$T/body")" ;;
  */metrics*)
    grep -q '^mlship_requests_total{' "$T/body" && ok || bad "$src: /metrics has no mlship_requests_total" ;;
  *) bad "$src: no check for this line (add one to tests/docs/test_readme.sh): $line" ;;
  esac
}
# consistent NAME: the three paths to c_1's probability agree (inline row, store row, batch run)
consistent() {
  if close "$P_PREDICT" "$P_KEYS" && close "$P_PREDICT" "$P_LOOKUP"; then ok
  else bad "$1: c_1's probability differs: /predict '$P_PREDICT', keys '$P_KEYS', published '$P_LOOKUP'"; fi
}

while IFS= read -r l; do check README "$l"; done <"$T/readme_curls"
consistent README
P_PREDICT=""; P_KEYS=""; P_LOOKUP=""
while IFS= read -r l; do check run_example.sh "$l"; done <"$T/script_curls"
consistent run_example.sh
finish
