#!/bin/sh
# test_export.sh: `mlship export-c` end to end (docs/edge.md). For each model of the table: export
# it; compile the C with gcc and clang (-std=c99 -Wall -Wextra -Werror) and run it on the host on
# the fixture's rows (tests/edge/ex_drive.c); compare with the framework's own outputs (the
# fixture's reference, within 1e-5) and with `mlship predict` (within 1e-5); then build it for a
# Cortex-M4F (arm-none-eabi-gcc -Os -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16, newlib-nano,
# warnings are errors) and run it bare on QEMU's mps2-an386 (tests/cross/m4_start.c, m4.ld;
# semihosting), outputs compared with the host's. The M4 run also prints, for the benchmarks,
# the instructions of one inference (-icount shift=0: SysTick ticks x 40) and the code size
# beyond the weights; these are printed, not asserted. Then the refusals: an unsupported operator
# exits 3 naming it, a bad model file, name or directory exits 2, and a NaN input is refused by a
# model that defines none.
# Usage: sh tests/edge/test_export.sh [path/to/mlship]    Ends with "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
BLD=$(dirname "$M")
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
[ -x "$M" ] || { echo "FAIL no $M"; echo "0 passed, 1 failed"; exit 1; }

WARN="-std=c99 -Wall -Wextra -Werror"
M4="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
TOOL=$T/ex_tool
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O1 -Iinclude -Isrc -o "$TOOL" \
  tests/edge/ex_tool.c "$BLD/libmlship_codec.a" "$BLD/libmlship_base.a" "$BLD/libmlship.a" -lcjson -lm ||
  { echo "FAIL cannot build tests/edge/ex_tool.c"; echo "0 passed, 1 failed"; exit 1; }
HAVE_M4=1
for t in arm-none-eabi-gcc qemu-system-arm clang; do
  command -v $t >/dev/null || { bad "$t is missing (scripts/deps.sh test installs it)"; HAVE_M4=0; }
done

# name  model  inputs.npy  reference.npy  rows  multiply-adds (0: not a network)  predict flags
MODELS='
sine     tests/fixtures/edge/sine/model.onnx tests/fixtures/edge/sine/X.npy tests/fixtures/edge/sine/REF.npy 16 288 -
sinerelu tests/fixtures/edge/sine_relu/model.onnx tests/fixtures/edge/sine_relu/X.npy tests/fixtures/edge/sine_relu/REF.npy 16 288 -
mlp      bench/models/mlp.onnx bench/models/mlp.X.npy bench/models/mlp.REF.npy 8 84480 -
cnn      bench/models/cnn.onnx bench/models/cnn.X.npy bench/models/cnn.REF.npy 4 333056 -
cnn2c    tests/fixtures/edge/cnn/model.onnx tests/fixtures/edge/cnn/X.npy tests/fixtures/edge/cnn/REF.npy 8 192064 -
convmix  tests/fixtures/edge/convmix/model.onnx tests/fixtures/edge/convmix/X.npy tests/fixtures/edge/convmix/REF.npy 6 0 -
gbdt     tests/fixtures/edge/gbdt/model.json tests/fixtures/edge/gbdt/X.npy tests/fixtures/edge/gbdt/REF.npy 64 0 --missing=nan
logreg   tests/fixtures/ml/pipeline_scaler_logreg/model.onnx tests/fixtures/ml/pipeline_scaler_logreg/input_0.npy tests/fixtures/ml/pipeline_scaler_logreg/output_1.npy 40 0 -
logmulti tests/fixtures/ml/logreg_multinomial/model.onnx tests/fixtures/ml/logreg_multinomial/input_0.npy tests/fixtures/ml/logreg_multinomial/output_1.npy 40 0 -
imputer  tests/fixtures/ml/impute_normalize_linreg/model.onnx tests/fixtures/ml/impute_normalize_linreg/input_0.npy tests/fixtures/ml/impute_normalize_linreg/output_0.npy 40 0 --missing=nan
skgb     tests/fixtures/ml/sk_gb_clf_binary/model.onnx tests/fixtures/ml/sk_gb_clf_binary/input_0.npy tests/fixtures/ml/sk_gb_clf_binary/output_1.npy 32 0 -
xgbmulti tests/fixtures/ml/xgb_multi_json/model.json tests/fixtures/ml/xgb_multi_json/input_0.npy tests/fixtures/ml/xgb_multi_json/output_0.npy 32 0 --missing=nan
'

# build and run one exported model with ex_drive: host (gcc or clang) or M4
drive() { # name cc-command out-file extra-flags...
  n=$1; cc=$2; out=$3; shift 3
  U=$(echo "$n" | tr a-z A-Z)
  $cc $WARN -I"$T/$n" -DEX_HEADER="\"$n.h\"" -DEX_PREDICT="${n}_predict" -DEX_IN="${U}_INPUT_SIZE" \
    -DEX_OUT="${U}_OUTPUT_SIZE" "$@" -o "$out" >"$T/$n/cc.log" 2>&1
}

echo "$MODELS" | while read -r n model x ref rows macs pflags; do
  [ -n "$n" ] || continue
  mkdir -p "$T/$n"
  if ! "$M" export-c "$model" --name "$n" -o "$T/$n" --report >"$T/$n/report.json" 2>"$T/$n/err"; then
    bad "$n: export-c $model: $(cat "$T/$n/err")"; continue
  fi
  ok "$n: export-c $model"
  "$TOOL" rows "$x" "$rows" >"$T/$n/ex_rows.h"
  for cc in gcc clang; do
    if drive "$n" "$cc -O2" "$T/$n/host_$cc" tests/edge/ex_drive.c "$T/$n/$n.c" -lm; then
      ok "$n: $cc $WARN builds it"
    else bad "$n: $cc does not build it"; sed 's/^/    | /' "$T/$n/cc.log" | head -n 10; fi
  done
  [ -x "$T/$n/host_gcc" ] || continue
  "$T/$n/host_gcc" >"$T/$n/host.txt"
  if r=$("$TOOL" compare "$T/$n/host.txt" "$ref" 1e-5); then ok "$n: host vs framework reference: $r"
  else bad "$n: host vs framework reference: $r"; fi
  pf=""; [ "$pflags" = - ] || pf=$pflags
  out_name=$(sed -n 's/.*"output_name": "\([^"]*\)".*/\1/p' "$T/$n/report.json")
  mkdir -p "$T/$n/pred"
  if "$M" predict "$model" "$x" $pf -o "$T/$n/pred" --output-format npy >/dev/null 2>"$T/$n/perr" </dev/null; then
    # the exported output is the first float output: the one predict writes last for a classifier
    pn=$(ls "$T/$n/pred" | sort | tail -n 1)
    if r=$("$TOOL" compare "$T/$n/host.txt" "$T/$n/pred/$pn" 1e-5); then ok "$n: host vs mlship predict: $r"
    else bad "$n: host vs mlship predict: $r"; fi
  else bad "$n: mlship predict failed: $(cat "$T/$n/perr")"; fi
  [ "$HAVE_M4" = 1 ] || continue
  if ! arm-none-eabi-gcc $WARN -Os $M4 -ffunction-sections -fdata-sections -c "$T/$n/$n.c" \
       -o "$T/$n/$n.m4.o" 2>"$T/$n/cc.log"; then
    bad "$n: arm-none-eabi-gcc does not build it"; sed 's/^/    | /' "$T/$n/cc.log" | head; continue
  fi
  ok "$n: arm-none-eabi-gcc $WARN -Os builds it"
  if ! drive "$n" "arm-none-eabi-gcc -Os $M4" "$T/$n/m4.elf" -DEX_M4 -Itests/unit \
       -ffunction-sections -fdata-sections -Wl,--gc-sections --specs=nano.specs --specs=rdimon.specs \
       -nostartfiles -T tests/cross/m4.ld tests/cross/m4_start.c tests/edge/ex_drive.c "$T/$n/$n.m4.o" -lm; then
    bad "$n: the M4 image does not link"; sed 's/^/    | /' "$T/$n/cc.log" | head; continue
  fi
  timeout 600 qemu-system-arm -M mps2-an386 -nographic -semihosting-config enable=on,target=native \
    -icount shift=0 -kernel "$T/$n/m4.elf" >"$T/$n/m4.txt" 2>&1 </dev/null
  rc=$?
  if [ $rc -ne 0 ]; then bad "$n: qemu mps2-an386 exited $rc"; tail -n 5 "$T/$n/m4.txt"; continue; fi
  if r=$("$TOOL" compare "$T/$n/m4.txt" "$T/$n/host.txt" 1e-5); then ok "$n: cortex-m4 vs host: $r"
  else bad "$n: cortex-m4 vs host: $r"; fi
  ticks=$(sed -n 's/^ticks //p' "$T/$n/m4.txt")
  wb=$(sed -n 's/.*"weights_bytes": \([0-9]*\).*/\1/p' "$T/$n/report.json")
  ab=$(sed -n 's/.*"arena_bytes": \([0-9]*\).*/\1/p' "$T/$n/report.json")
  text=$(arm-none-eabi-size "$T/$n/$n.m4.o" | awk 'NR == 2 {print $1}')
  echo "$n $ticks $macs $wb $text $ab" | awk '{ins = $2 * 40;
    printf "     %s on cortex-m4: %d instructions per inference%s; weights %d B, code beyond them %d B, arena %d B\n",
      $1, ins, ($3 > 0) ? sprintf(" (%.2f per multiply-add)", ins / $3) : "", $4, $5 - $4, $6}'
done > "$T/log" 2>&1
cat "$T/log"
pass=$(grep -c '^ok' "$T/log"); fail=$(grep -c '^FAIL' "$T/log")

# ---- refusals ----
check_exit() { # label want-code grep-pattern command...
  label=$1; want=$2; pat=$3; shift 3
  "$@" >"$T/out" 2>&1; got=$?
  if [ $got -eq "$want" ] && grep -q -- "$pat" "$T/out"; then pass=$((pass + 1)); echo "ok   $label"
  else fail=$((fail + 1)); echo "FAIL $label: exit $got, want $want and '$pat' in:"; head -n 3 "$T/out"; fi
}
mkdir -p "$T/x"
check_exit "unsupported operator: exit 3 naming it" 3 "SVMClassifier" \
  "$M" export-c tests/fixtures/ml/svc_rbf_proba/model.onnx --name svc -o "$T/x"
check_exit "random-forest leaves with several weights: exit 3 saying so" 3 "several weights" \
  "$M" export-c tests/fixtures/ml/sk_rf_clf_strings/model.onnx --name rf -o "$T/x"
printf 'not a model at all' >"$T/x/bad.onnx"
check_exit "a bad model file: exit 2 with the file named" 2 "bad.onnx" \
  "$M" export-c "$T/x/bad.onnx" --name bad -o "$T/x"
head -c 300 bench/models/mlp.onnx >"$T/x/cut.onnx"
check_exit "a truncated model file: exit 2" 2 "cut.onnx" "$M" export-c "$T/x/cut.onnx" --name cut -o "$T/x"
check_exit "a missing model file: exit 2" 2 "nothere.onnx" "$M" export-c "$T/x/nothere.onnx" --name n -o "$T/x"
check_exit "a name that is no C identifier: exit 2" 2 "invalid" \
  "$M" export-c bench/models/mlp.onnx --name 9lives -o "$T/x"
check_exit "a missing output directory: exit 2" 2 "cannot write" \
  "$M" export-c bench/models/mlp.onnx --name m -o "$T/x/no/such/dir"
check_exit "an unknown --output: exit 2 listing the outputs" 2 "it has 'label', 'probabilities'" \
  "$M" export-c tests/fixtures/ml/pipeline_scaler_logreg/model.onnx --name l --output nope -o "$T/x"
check_exit "a non-float --output: exit 3" 3 "float32 outputs only" \
  "$M" export-c tests/fixtures/ml/pipeline_scaler_logreg/model.onnx --name l --output label -o "$T/x"
check_exit "--help" 0 "NAME_predict" "$M" export-c --help
check_exit "--kernels-only with --report: exit 2" 2 "takes no --output or --report" \
  "$M" export-c bench/models/mlp.onnx --kernels-only --report --name m -o "$T/x"
check_exit "--kernels-only: a missing output directory, exit 2" 2 "cannot write" \
  "$M" export-c bench/models/mlp.onnx --kernels-only --name m -o "$T/x/no/such/dir"
check_exit "no MODEL: exit 2" 2 "no MODEL" "$M" export-c --name a -o "$T/x"

# A NaN input: refused (nonzero) by a model that defines none, accepted by one that does.
"$M" export-c tests/fixtures/edge/sine/model.onnx --name s -o "$T/x" >/dev/null 2>&1
"$M" export-c tests/fixtures/edge/gbdt/model.json --name g -o "$T/x" >/dev/null 2>&1
cat >"$T/x/nan.c" <<'C'
#include <math.h>
#include <stdio.h>
#include "s.h"
#include "g.h"
int main(void)
{
    float x[G_INPUT_SIZE] = {0}, y[2] = {0}, one = 0.5f;
    x[3] = NAN;
    int a = s_predict(&(float){NAN}, y), b = s_predict(&one, y), c = g_predict(x, y);
    printf("sine(NaN) %d, sine(0.5) %d, gbdt(NaN) %d p=%g\n", a, b, c, y[0]);
    return !(a != 0 && b == 0 && c == 0 && y[0] > 0 && y[0] < 1);
}
C
check_exit "NaN: refused by a model that defines none, taken by one that does" 0 "sine(NaN) 1" \
  sh -c "gcc $WARN -O1 -I$T/x -o $T/x/nan $T/x/nan.c $T/x/s.c $T/x/g.c -lm && $T/x/nan"

echo "edge-export: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
