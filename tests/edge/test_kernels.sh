#!/bin/sh
# test_kernels.sh: the runtime library on a Cortex-M4F with a per-model kernel table (docs/edge.md,
# `mlship export-c MODEL --kernels-only`). Builds libmlship_core.a for the M4 (make core,
# arm-none-eabi-gcc -Os, sections per function), then per model: writes NAME_kernels.c, links
# tests/edge/kt_drive.c (the model's ONNX bytes as a const array, run by ms_model_load and a
# session) once with that table and once with the library's full one, both with --gc-sections;
# asserts the table names fewer families and the image with it is smaller; runs it on QEMU's
# mps2-an386 and compares its outputs with the same driver on the host (build/libmlship.a) and
# with the framework's reference. Then a swapped blob: the CNN's image code with the sine
# MLP's blob (its families are a subset) runs and matches; a blob needing a family the table
# leaves out (a tree ensemble) is refused at load, naming the operator.
# Usage: sh tests/edge/test_kernels.sh [path/to/mlship]    Ends with "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
BLD=$(dirname "$M")
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
finish() { echo "edge-kernels: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }
[ -x "$M" ] || { bad "no $M"; finish; }
for t in arm-none-eabi-gcc qemu-system-arm; do
  command -v $t >/dev/null || { bad "$t is missing (scripts/deps.sh test installs it)"; finish; }
done
M4="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
CORE=$BLD/edge-m4
if make --no-print-directory -s core BUILD="$CORE" CC=arm-none-eabi-gcc AR=arm-none-eabi-ar \
     CORE_CFLAGS="$M4 -Os -ffunction-sections -fdata-sections" >"$T/core.log" 2>&1; then
  ok "libmlship_core.a builds for the Cortex-M4F"
else bad "make core for the M4 failed"; tail -n 5 "$T/core.log"; finish; fi
TOOL=$T/ex_tool
cc -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -Iinclude -Isrc -o "$TOOL" tests/edge/ex_tool.c \
  "$BLD/libmlship_codec.a" "$BLD/libmlship_base.a" "$BLD/libmlship.a" -lcjson -lm || { bad "ex_tool"; finish; }

blob() { # model.onnx -> kt_blob.h on stdout
  echo "static const unsigned char kt_blob[] __attribute__((aligned(8))) = {"
  od -An -v -tu1 "$1" | awk '{for (i = 1; i <= NF; i++) printf "%s,", $i; printf "\n"}'
  echo "};"
}
FLAGS="-std=c11 -Wall -Wextra -Werror -Iinclude -Isrc/runtime"
m4_link() { # dir out.elf extra-objects...
  d=$1; o=$2; shift 2
  arm-none-eabi-gcc $FLAGS $M4 -Os -ffunction-sections -fdata-sections -I"$d" -Wl,--gc-sections \
    --specs=nano.specs --specs=rdimon.specs -nostartfiles -T tests/cross/m4.ld tests/cross/m4_start.c \
    tests/edge/kt_drive.c "$@" "$CORE/libmlship_core.a" -lm -o "$o" 2>"$d/link.log"
}
m4_run() { timeout 600 qemu-system-arm -M mps2-an386 -nographic -semihosting-config enable=on,target=native \
  -kernel "$1" 2>&1 </dev/null; }
text() { arm-none-eabi-size "$1" | awk 'NR == 2 {print $1}'; }

# name model X REF rows
MODELS='
cnn2c tests/fixtures/edge/cnn/model.onnx tests/fixtures/edge/cnn/X.npy tests/fixtures/edge/cnn/REF.npy 4
sine  tests/fixtures/edge/sine/model.onnx tests/fixtures/edge/sine/X.npy tests/fixtures/edge/sine/REF.npy 8
'
echo "$MODELS" | while read -r n model x ref rows; do
  [ -n "$n" ] || continue
  d=$T/$n; mkdir -p "$d"
  if out=$("$M" export-c "$model" --kernels-only --name "$n" -o "$d" 2>&1); then ok "$n: $out"
  else bad "$n: export-c --kernels-only: $out"; continue; fi
  blob "$model" >"$d/kt_blob.h"
  "$TOOL" rows "$x" "$rows" >"$d/ex_rows.h"
  arm-none-eabi-gcc $FLAGS $M4 -Os -ffunction-sections -fdata-sections -c "$d/${n}_kernels.c" -o "$d/k.o" ||
    { bad "$n: the kernel table does not build"; continue; }
  if m4_link "$d" "$d/table.elf" "$d/k.o" && m4_link "$d" "$d/full.elf"; then
    ok "$n: links for the M4 with its table and with the full one (--gc-sections)"
  else bad "$n: does not link"; head -n 5 "$d/link.log"; continue; fi
  # text of the images without the model blob (the same in both)
  sz=$(wc -c <"$model"); a=$(($(text "$d/table.elf") - sz)); b=$(($(text "$d/full.elf") - sz))
  fam=$(grep -o 'ms_ops_[a-z_]*, ' "$d/${n}_kernels.c" | wc -l)
  if [ "$a" -lt "$b" ] && [ "$fam" -lt 10 ]; then
    ok "$n: $fam of 10 kernel families; image code (runtime, newlib, driver; not the blob) $a B with its table, $b B with all ($((b - a)) B less)"
  else bad "$n: table image $a B is not smaller than the full one's $b B ($fam families)"; fi
  m4_run "$d/table.elf" >"$d/m4.txt"
  cc $FLAGS -D_POSIX_C_SOURCE=200809L -O2 -I"$d" tests/edge/kt_drive.c "$BLD/libmlship.a" -lcjson -lm -lpthread \
    -o "$d/host" && "$d/host" >"$d/host.txt"
  if r=$("$TOOL" compare "$d/m4.txt" "$d/host.txt" 1e-5); then ok "$n: cortex-m4 (its table) vs host runtime: $r"
  else bad "$n: cortex-m4 vs host: $r"; head -n 3 "$d/m4.txt"; fi
  if r=$("$TOOL" compare "$d/m4.txt" "$ref" 1e-5); then ok "$n: cortex-m4 vs framework reference: $r"
  else bad "$n: cortex-m4 vs reference: $r"; fi
done > "$T/log" 2>&1
cat "$T/log"
pass=$(grep -c '^ok' "$T/log"); fail=$(grep -c '^FAIL' "$T/log")

# swapped blobs, the CNN's kernel table kept: the sine MLP needs a subset of its families and
# runs; a tree ensemble needs ml_trees, which the table leaves out, and is refused at load
d=$T/swap; mkdir -p "$d"
"$M" export-c tests/fixtures/edge/cnn/model.onnx --kernels-only --name cnn -o "$d" >/dev/null
arm-none-eabi-gcc $FLAGS $M4 -Os -ffunction-sections -fdata-sections -c "$d/cnn_kernels.c" -o "$d/k.o"
blob tests/fixtures/edge/sine/model.onnx >"$d/kt_blob.h"
"$TOOL" rows tests/fixtures/edge/sine/X.npy 8 >"$d/ex_rows.h"
if m4_link "$d" "$d/sine.elf" "$d/k.o" && m4_run "$d/sine.elf" >"$d/m4.txt" &&
   r=$("$TOOL" compare "$d/m4.txt" tests/fixtures/edge/sine/REF.npy 1e-5); then
  pass=$((pass + 1)); echo "ok   the CNN's table runs the sine MLP's blob: $r"
else fail=$((fail + 1)); echo "FAIL the CNN's table with the sine blob: $(head -n 2 "$d/m4.txt")"; fi
blob tests/fixtures/ml/sk_gb_clf_binary/model.onnx >"$d/kt_blob.h"
"$TOOL" rows tests/fixtures/ml/sk_gb_clf_binary/input_0.npy 1 >"$d/ex_rows.h"
out=
m4_link "$d" "$d/gb.elf" "$d/k.o" && out=$(m4_run "$d/gb.elf")
if [ $? -ne 0 ] && echo "$out" | grep -q "load: operator TreeEnsembleClassifier.*is not supported"; then
  pass=$((pass + 1)); echo "ok   a blob needing a family the table leaves out is refused: $(echo "$out" | head -n 1 | cut -c1-110)"
else fail=$((fail + 1)); echo "FAIL a tree blob with the CNN's table: $(echo "$out" | head -n 2)"; fi
finish
