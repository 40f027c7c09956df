#!/bin/sh
# run.sh: `mlship export-c` on a Cortex-M4F (QEMU mps2-an386, -icount shift=0) and on the host,
# per model, side by side with the onnx2c figures of ../shared/anchors/edge/README.md (the same
# model kinds at -Os, newlib-nano; the CNN is the same architecture, tests/fixtures/edge/cnn; the
# sine MLP is compared in its Relu form, tests/fixtures/edge/sine_relu: onnx2c's 2,000
# instructions leave no room for 32 tanhf calls; sine, with Tanh, is shown too).
# Prints one table (and writes it to bench/edge/out/results.txt):
#   instructions per inference: SysTick ticks x 40 over one call (-icount shift=0: one
#     instruction per ns, SysTick on the 25 MHz core clock; retired instructions, deterministic)
#   per MAC: instructions / the model's nominal multiply-adds
#   code: arm-none-eabi-size text of NAME.o minus the weights (`--report` weights_bytes)
#   RAM: static (the .bss of NAME.o: the arena, NAME_ARENA_BYTES, and a tree model's feature
#     keys) + the stack one call used (measured by painting, see tests/edge/ex_drive.c); heap 0
#     (the generated C calls no allocator)
#   flash: text + data of NAME.o (code and weights; the driver and libc are not counted)
#   host: NAME.c at gcc -O2 -march=native (so fmaf is one instruction), ns per call at batch 1,
#     against `mlship bench MODEL --batch 1` (the runtime, median us per call)
# GBDT: instructions per tree node visited, two ways: the whole inference / the split nodes
# on row 0's paths (counted by gbdt_visits.py, a plain walk independent of mlship), and the
# marginal cost, (I(200 trees) - I(100 trees)) / (splits(200) - splits(100)), which cancels
# the fixed cost (feature keys, base score, the double logistic in soft float).
# Usage: sh bench/edge/run.sh [path/to/mlship]   Needs gcc-arm-none-eabi, libnewlib-arm-none-eabi,
# qemu-system-arm (scripts/deps.sh test) and a built tree (make all).
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
BLD=$(dirname "$M")
OUT=bench/edge/out
T=$OUT/work
rm -rf "$T" && mkdir -p "$T" || exit 2
for t in arm-none-eabi-gcc qemu-system-arm python3; do
  command -v $t >/dev/null || { echo "run.sh: $t is missing (scripts/deps.sh test)" >&2; exit 2; }
done
WARN="-std=c99 -Wall -Wextra -Werror"
M4="-Os -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -ffunction-sections -fdata-sections"
TOOL=$T/ex_tool
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -Iinclude -Isrc -o "$TOOL" tests/edge/ex_tool.c \
  "$BLD/libmlship_codec.a" "$BLD/libmlship_base.a" "$BLD/libmlship.a" -lcjson -lm || exit 2

# name model X macs onnx2c(instr/MAC code RAM, or -)
MODELS='
sinerelu tests/fixtures/edge/sine_relu/model.onnx tests/fixtures/edge/sine_relu/X.npy 288 6.9/236/128
sine  tests/fixtures/edge/sine/model.onnx tests/fixtures/edge/sine/X.npy 288 -
mlp   bench/models/mlp.onnx bench/models/mlp.X.npy 84480 5.1/272/2048
cnn2c tests/fixtures/edge/cnn/model.onnx tests/fixtures/edge/cnn/X.npy 192064 13.2/812/43264
cnn   bench/models/cnn.onnx bench/models/cnn.X.npy 333056 -
gbdt  tests/fixtures/edge/gbdt/model.json tests/fixtures/edge/gbdt/X.npy 0 -
gbdt100 '"$T"'/gbdt100.json tests/fixtures/edge/gbdt/X.npy 0 -
logreg tests/fixtures/ml/pipeline_scaler_logreg/model.onnx tests/fixtures/ml/pipeline_scaler_logreg/input_0.npy 0 -
'
python3 bench/edge/gbdt_visits.py tests/fixtures/edge/gbdt/model.json tests/fixtures/edge/gbdt/X.npy \
  100 "$T/gbdt100.json" >"$T/visits100" || exit 1
python3 bench/edge/gbdt_visits.py tests/fixtures/edge/gbdt/model.json tests/fixtures/edge/gbdt/X.npy >"$T/visits200" || exit 1

flags() { # name -> the driver's -D flags
  U=$(echo "$1" | tr a-z A-Z)
  echo "-I$T/$1 -DEX_HEADER='\"$1.h\"' -DEX_PREDICT=$1_predict -DEX_IN=${U}_INPUT_SIZE -DEX_OUT=${U}_OUTPUT_SIZE"
}

printf '%-8s %12s %8s %8s %8s %8s %8s %9s %9s %10s %10s  %s\n' model instructions per_MAC weights code \
  static stack RAM flash host_ns runtime_ns "onnx2c (instr/MAC code RAM)" | tee "$OUT/results.txt"
echo "$MODELS" | while read -r n model x macs ref; do
  [ -n "$n" ] || continue
  mkdir -p "$T/$n"
  "$M" export-c "$model" --name "$n" -o "$T/$n" --report >"$T/$n/report.json" || { echo "$n: export failed"; continue; }
  "$TOOL" rows "$x" 1 >"$T/$n/ex_rows.h"
  F=$(flags "$n")
  arm-none-eabi-gcc $WARN $M4 -c "$T/$n/$n.c" -o "$T/$n/$n.o" || continue
  eval arm-none-eabi-gcc $WARN $M4 -DEX_M4 $F -Wl,--gc-sections --specs=nano.specs --specs=rdimon.specs \
    -nostartfiles -T tests/cross/m4.ld tests/cross/m4_start.c tests/edge/ex_drive.c "$T/$n/$n.o" -lm \
    -o "$T/$n/m4.elf" || continue
  timeout 600 qemu-system-arm -M mps2-an386 -nographic -semihosting-config enable=on,target=native \
    -icount shift=0 -kernel "$T/$n/m4.elf" >"$T/$n/m4.txt" 2>&1 </dev/null || { echo "$n: qemu failed"; continue; }
  eval gcc -O2 -march=native -std=c99 -D_POSIX_C_SOURCE=199309L $F bench/edge/host_bench.c "$T/$n/$n.c" -lm -o "$T/$n/host" &&
    "$T/$n/host" >"$T/$n/host.txt"
  rt=-
  case $model in "$T"/*) ;; *)
    rt=$("$M" bench "$model" --batch 1 --seconds 2 --input "$x" 2>/dev/null |
         sed -n 's/.*"median_us_per_call": *\([0-9.e+-]*\).*/\1/p' | awk '{printf "%.0f", $1 * 1000}') ;;
  esac
  ticks=$(sed -n 's/^ticks //p' "$T/$n/m4.txt"); stack=$(sed -n 's/^stack //p' "$T/$n/m4.txt")
  wb=$(sed -n 's/.*"weights_bytes": \([0-9]*\).*/\1/p' "$T/$n/report.json")
  set -- $(arm-none-eabi-size "$T/$n/$n.o" | awk 'NR == 2 {print $1, $2, $3}')
  hn=$(sed -n 's/^ns_per_call //p' "$T/$n/host.txt")
  echo "$n $ticks $macs $wb $1 $2 $3 $stack ${hn:--} ${rt:--} $ref" | awk '{ins = $2 * 40;
    printf "%-8s %12d %8s %8d %8d %8d %8d %9d %9d %10s %10s  %s\n", $1, ins,
      ($3 > 0) ? sprintf("%.2f", ins / $3) : "-", $4, $5 - $4, $7, $8, $7 + $8, $5 + $6, $10 == "-" ? "-" : $9, $10, $11}'
  echo "$ticks" >"$T/$n/ticks"
done | tee -a "$OUT/results.txt"

# GBDT per node visited
i200=$(($(cat "$T/gbdt/ticks") * 40)); i100=$(($(cat "$T/gbdt100/ticks") * 40))
s200=$(awk '{print $4}' "$T/visits200"); s100=$(awk '{print $4}' "$T/visits100")
v200=$(awk '{print $2}' "$T/visits200"); v100=$(awk '{print $2}' "$T/visits100")
echo "gbdt row 0: $s200 split nodes on its paths ($v200 nodes with the leaves); 100 trees: $s100 splits" | tee -a "$OUT/results.txt"
awk -v a="$i200" -v b="$i100" -v s="$s200" -v t="$s100" -v v="$v200" -v w="$v100" 'BEGIN {
  printf "gbdt instructions per node visited, whole inference: %.2f per split, %.2f per node with the leaves\n", a / s, a / v
  printf "gbdt instructions per node visited, marginal (200 vs 100 trees): %.2f per split, %.2f per node with the leaves\n",
    (a - b) / (s - t), (a - b) / (v - w) }' | tee -a "$OUT/results.txt"
