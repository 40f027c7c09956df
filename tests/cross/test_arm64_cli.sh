#!/bin/sh
# test_arm64_cli.sh: the whole `mlship` binary (every command, every store and queue backend)
# cross-built for ARM64 Linux (Raspberry Pi class) with Debian's aarch64-linux-gnu-gcc against
# Debian's arm64 libraries (multiarch: libcjson, libmicrohttpd, libsqlite3, libhiredis and
# libpq5, whose -dev package is not multiarch: the host's headers serve; scripts/deps.sh test
# installs them), and run under qemu-aarch64 (issue 13 section 4):
#   - every command the x86-64 build lists answers --help;
#   - `mlship predict` on an ONNX network, an ONNX-ML classifier and regressor and an XGBoost
#     model.json equals the x86-64 build's output (within 1e-5: the x86 build's AVX kernels and
#     the portable C ones round differently) and the framework's own reference rows;
#   - `mlship serve --model` answers a V2 infer request with the reference numbers.
# Usage: sh tests/cross/test_arm64_cli.sh [build/mlship]    ends "N passed, N failed, N skipped"
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
BLD=$(dirname "$M")
A=build/arm64
T=$(mktemp -d) || exit 2
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0; skip=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null ||
   [ ! -f /usr/lib/aarch64-linux-gnu/libcjson.so ]; then
  echo "FAIL the arm64 toolchain or libraries are missing (sh scripts/deps.sh test)"
  echo "0 passed, 1 failed"; exit 1
fi
if make -j2 BUILD=$A CC=aarch64-linux-gnu-gcc PQ_LIB=-l:libpq.so.5 WITH_NATS=0 WITH_KAFKA=0 WITH_MQTT=0 all >"$T/build.log" 2>&1; then
  ok "mlship cross-built for aarch64 ($(file -b $A/mlship | cut -d, -f1-2))"
else
  bad "the aarch64 build failed"; tail -n 20 "$T/build.log"; echo "$pass passed, $fail failed"; exit 1
fi
make -s BUILD="$BLD" "$BLD/mxtool" >"$T/mx.log" 2>&1 || { bad "cannot build mxtool"; echo "$pass passed, $fail failed"; exit 1; }
MX=$BLD/mxtool
Q="qemu-aarch64 -L /"

# every command the x86-64 binary lists in its --help
CMDS=$("$M" --help | sed -n '/^commands:/,/^$/s/^  \([a-z-][a-z-]*\) .*/\1/p')
[ -n "$CMDS" ] || bad "no commands in mlship --help"
for c in $CMDS; do
  if $Q $A/mlship $c --help >"$T/help.out" 2>&1 && grep -qi usage "$T/help.out"; then ok "arm64: mlship $c --help"
  else bad "arm64: mlship $c --help: $(head -c 200 "$T/help.out")"; fi
done

# id model input output reference (fixture-relative unless it has a '/')
MODELS='
mlp              bench/models/mlp.onnx bench/models/mlp.X.npy output bench/models/mlp.REF.npy
sk_gb_clf_binary model.onnx input_0.npy probabilities output_1.npy
linreg           model.onnx input_0.npy variable output_0.npy
xgb_binary_json  model.json input_0.npy probabilities output_0.npy
'
while read -r id model in out ref; do
  [ -z "$id" ] && continue
  d=tests/fixtures/ml/$id
  case $model in */*) ;; *) model=$d/$model ;; esac
  case $in in */*) ;; *) in=$d/$in ;; esac
  case $ref in */*) ;; *) ref=$d/$ref ;; esac
  rows=$($MX rows "$in" 5) && $MX take "$in" "$rows" "$T/x.npy" || { bad "$id: cannot cut rows"; continue; }
  rm -rf "$T/o86" "$T/oarm"
  "$M" predict "$model" "$T/x.npy" -o "$T/o86" --output-format npy >/dev/null 2>"$T/e86" &&
    $Q $A/mlship predict "$model" "$T/x.npy" -o "$T/oarm" --output-format npy >/dev/null 2>"$T/earm" ||
    { bad "$id: predict failed: $(cat "$T/e86" "$T/earm" | head -c 300)"; continue; }
  same=1
  for f in "$T"/o86/*.npy; do
    make -s BUILD="$BLD" "$BLD/tcompare" >/dev/null 2>&1
    "$BLD/tcompare" --rtol 1e-5 --atol 1e-6 "$T/oarm/$(basename "$f")" "$f" >"$T/tc.out" 2>&1 ||
      { same=0; bad "$id: arm64 $(basename "$f") differs from x86-64: $(cat "$T/tc.out")"; }
  done
  [ $same = 1 ] && ok "$id: arm64 predict equals the x86-64 output ($(ls "$T/o86" | wc -l) outputs)"
  $Q $A/mlship predict "$model" "$T/x.npy" >"$T/p.json" 2>"$T/earm" &&
    $MX check --rtol 1e-5 "$ref" "$rows" "$T/p.json" "outputs.name=$out.data" >"$T/ck.out" 2>&1 &&
    ok "$id: arm64 predict equals the framework's reference" ||
    bad "$id: arm64 predict vs reference: $(cat "$T/ck.out" "$T/earm" | head -c 300)"
done <<EOF
$MODELS
EOF

# serve under qemu: one V2 request on the MLP, checked against torch's reference
d=bench/models
rows=$($MX rows $d/mlp.X.npy 3)
$MX emit v2json $d/mlp.X.npy "$rows" input >"$T/v2.json" 2>"$T/emit.err" || bad "cannot write the request: $(cat "$T/emit.err")"
$Q $A/mlship serve --model $d/mlp.onnx --port 0 --poll-ms 0 </dev/null >"$T/serve.log" 2>&1 &
PID=$!; U=""
for _i in $(seq 1 300); do
  p=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$T/serve.log" | head -n 1)
  [ -n "$p" ] && U=http://127.0.0.1:$p && break
  kill -0 "$PID" 2>/dev/null || break; sleep 0.1
done
if [ -z "$U" ]; then bad "arm64 serve did not start: $(tail -n 5 "$T/serve.log")"
else
  code=$(curl -s -o "$T/v2.out" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/v2.json" "$U/v2/models/default/infer")
  [ "$code" = 200 ] && $MX check --rtol 1e-4 $d/mlp.REF.npy "$rows" "$T/v2.out" "outputs.name=output.data" >"$T/ck.out" 2>&1 &&
    ok "arm64 serve answers a V2 infer request with torch's numbers" ||
    bad "arm64 serve V2: HTTP $code $(head -c 300 "$T/v2.out") $(cat "$T/ck.out")"
fi
kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=""

echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
