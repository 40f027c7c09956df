#!/bin/sh
# build.sh: the ONNX Runtime reference, fetched and built inside the repository's build tree.
#   1. `npm install --ignore-scripts onnxruntime-node@1.30.0` into build/bench/ort (its
#      postinstall would download more and is not needed: the CPU library
#      libonnxruntime.so.1 is in the tarball, under bin/napi-v6/linux/x64/)
#   2. gcc bench/ort/ort_c_bench.c against that library -> build/bench/ort/ort_c_bench
#      (rpath set, so it runs from anywhere)
# Prints the harness's path on stdout; progress on stderr. Idempotent: does only what is missing
# or out of date. Needs npm (Debian's `npm`, installed by scripts/deps.sh bench) and gcc.
#   sh bench/ort/build.sh          ORT_DIR=DIR puts the npm folder and the binary elsewhere
set -e
cd "$(dirname "$0")/../.."
ORT_DIR=${ORT_DIR:-build/bench/ort}
ORT_VERSION=1.30.0
LIB=$ORT_DIR/node_modules/onnxruntime-node/bin/napi-v6/linux/x64
if [ ! -f "$LIB/libonnxruntime.so.1" ]; then
  command -v npm >/dev/null || { echo "build.sh: npm not found (sh scripts/deps.sh bench)" >&2; exit 1; }
  echo "# installing onnxruntime-node@$ORT_VERSION into $ORT_DIR" >&2
  mkdir -p "$ORT_DIR"
  (cd "$ORT_DIR" && npm install --ignore-scripts --no-audit --no-fund --no-save \
     "onnxruntime-node@$ORT_VERSION" >&2)
fi
[ -f "$LIB/libonnxruntime.so.1" ] || { echo "build.sh: no $LIB/libonnxruntime.so.1 after npm install" >&2; exit 1; }
LIB=$(cd "$LIB" && pwd)
BIN=$ORT_DIR/ort_c_bench
if [ ! -x "$BIN" ] || [ bench/ort/ort_c_bench.c -nt "$BIN" ]; then
  echo "# building $BIN" >&2
  gcc -std=c11 -O2 -Wall -Wextra -Werror -o "$BIN" bench/ort/ort_c_bench.c \
    -L"$LIB" -l:libonnxruntime.so.1 -Wl,-rpath,"$LIB" -lm
fi
echo "$BIN"
