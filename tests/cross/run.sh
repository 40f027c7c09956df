#!/bin/sh
# Cross builds of the runtime (libmlship core), the ground the edge targets stand on:
#   cortex-m4  arm-none-eabi-gcc + newlib: src/runtime without ms_file.c (mmap) and ms_xgboost.c
#              (cJSON), -DMS_NO_XGBOOST, warnings are errors; tests/cross/smoke.c linked with
#              nosys.specs (a C library and no OS), so a symbol the runtime takes from POSIX,
#              threads or files fails the link. Prints the code size. Linked, not run: running
#              on a Cortex-M under qemu-system-arm is edge work still to come.
#   aarch64    aarch64-linux-gnu-gcc: the same runtime sources and the unit tests that need only
#              the runtime, run under qemu-aarch64: the portable C kernels (no AVX) against the
#              same checks as on x86. -DMS_NO_XGBOOST there too (Debian ships no arm64 cJSON
#              without multiarch), so test_trees checks that model.json is refused by name.
# Usage: sh tests/cross/run.sh [BUILD_DIR]   (default build/cross). Last line "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 2
B=${1:-build/cross}
WARN="-Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers"
FLAGS="-std=c11 -DMS_NO_XGBOOST $WARN -Iinclude -Isrc -Isrc/runtime"
SRC=$(ls src/runtime/*.c src/runtime/ops/*.c | grep -v -e ms_file.c -e ms_xgboost.c)
UNIT="test_elementwise test_fusion test_gemm test_ml test_pool_norm test_reduce test_session
      test_shape test_trees"
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

# objects of $SRC for one target into $B/$1, archived as $B/$1/libmlship_core.a
build_lib() { # target cc flags...
  t=$1; cc=$2; shift 2
  mkdir -p "$B/$t" && rm -f "$B/$t"/*.o "$B/$t/libmlship_core.a"
  for f in $SRC; do
    $cc $FLAGS "$@" -c "$f" -o "$B/$t/$(basename "$f" .c).o" || return 1
  done
  ${cc%gcc}ar rcs "$B/$t/libmlship_core.a" "$B/$t"/*.o
}

# ---- Cortex-M4 ----
M4="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
if ! command -v arm-none-eabi-gcc >/dev/null; then
  bad "cortex-m4: arm-none-eabi-gcc missing (scripts/deps.sh test installs gcc-arm-none-eabi)"
elif build_lib cortex-m4 arm-none-eabi-gcc $M4 -Os -ffunction-sections -fdata-sections; then
  ok "cortex-m4: the runtime builds (arm-none-eabi-gcc -Os, warnings are errors)"
  if arm-none-eabi-gcc $FLAGS $M4 -Os -Itests/unit -ffunction-sections -fdata-sections \
       -Wl,--gc-sections --specs=nosys.specs tests/cross/smoke.c "$B/cortex-m4/libmlship_core.a" \
       -lm -o "$B/cortex-m4/smoke.elf" 2> "$B/cortex-m4/link.log"; then
    ok "cortex-m4: smoke program links against newlib with no OS"
    arm-none-eabi-size "$B/cortex-m4/smoke.elf" | tail -n 1 |
      awk '{printf "     smoke.elf: %d bytes of code and constants, %d of data\n", $1, $2 + $3}'
  else
    grep -v warning "$B/cortex-m4/link.log" | head -n 20
    bad "cortex-m4: smoke program does not link with nosys.specs"
  fi
else
  bad "cortex-m4: the runtime does not build"
fi

# ---- AArch64 Linux, run under qemu ----
A=aarch64-linux-gnu-gcc
if ! command -v $A >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  bad "aarch64: $A or qemu-aarch64 missing (scripts/deps.sh test installs them)"
elif build_lib aarch64 $A -O2; then
  ok "aarch64: the runtime builds"
  run() { # name binary
    out=$(QEMU_LD_PREFIX=/usr/aarch64-linux-gnu timeout 600 qemu-aarch64 "$2" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | tail -n 1)
    case "$line" in
      *" passed, 0 failed") [ $rc -eq 0 ] && { ok "aarch64: $1: $line"; return; } ;;
    esac
    printf '%s\n' "$out" | grep -v '^ok' | tail -n 20
    bad "aarch64: $1 (exit $rc): $line"
  }
  if $A $FLAGS -O2 -Itests/unit tests/cross/smoke.c "$B/aarch64/libmlship_core.a" -lm \
       -o "$B/aarch64/smoke"; then run smoke "$B/aarch64/smoke"
  else bad "aarch64: smoke does not build"; fi
  for t in $UNIT; do
    if $A $FLAGS -O2 -Itests/unit "tests/unit/$t.c" "$B/aarch64/libmlship_core.a" -lm -lpthread \
         -o "$B/aarch64/$t"; then run "$t" "$B/aarch64/$t"
    else bad "aarch64: $t does not build"; fi
  done
else
  bad "aarch64: the runtime does not build"
fi

echo "cross: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
