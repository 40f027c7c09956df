#!/bin/sh
# Installs the Debian packages a target needs, only when some are missing (idempotent).
# Usage: scripts/deps.sh build|test|wasm|bench|bench-models|examples-models
set -e
build="gcc make libc6-dev libcjson-dev libmicrohttpd-dev libsqlite3-dev libpq-dev libhiredis-dev
       libsodium-dev libcurl4-openssl-dev libssl-dev libnats-dev librdkafka-dev libmosquitto-dev"
test="$build clang libclang-rt-14-dev libonnx-testdata curl sqlite3 postgresql-15 redis-server pkgconf
      gcc-arm-none-eabi libnewlib-arm-none-eabi gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf
      qemu-user qemu-system-arm llvm-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 nodejs chromium
      libc6-dev:arm64 libcjson-dev:arm64 libmicrohttpd-dev:arm64 libsqlite3-dev:arm64
      libpq5:arm64 libhiredis-dev:arm64 libsodium-dev:arm64 libcurl4-openssl-dev:arm64 libssl-dev:arm64 nginx-light
      nats-server mosquitto mosquitto-clients jq python3"
# make wasm: clang for wasm32 with wasi-libc (web/mlship.wasm), Node for its tests
wasm="clang llvm-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 nodejs"
case "${1:-build}" in
  build) want=$build ;;
  # npm (playwright-core for the browser test) comes with Node; from apt only when it is absent
  test)  want=$test; command -v npm >/dev/null 2>&1 || want="$want npm" ;;
  wasm)  want=$wasm ;;
  # bench/: load and timing tools, the reference servers, the Python side of the comparisons
  # (bench/README.md); npm fetches ONNX Runtime (bench/ort/build.sh) and is taken from apt only
  # when no npm is on PATH. bench-models: torch, only to regenerate bench/models/ (committed).
  bench) want="$build wrk curl time nginx-light python3-flask gunicorn python3-numpy python3-onnx
               python3-sklearn python3-pandas python3-xgboost libopenblas0-pthread
               redis-server redis-tools python3-redis nats-server"
         command -v npm >/dev/null 2>&1 || want="$want npm" ;;
  bench-models) want="python3-torch python3-onnx python3-numpy libopenblas0-pthread" ;;
  # examples-models: only to regenerate examples/*/ models and references (committed)
  examples-models) want="python3-sklearn python3-xgboost python3-onnx python3-numpy" ;;
  *) echo "usage: $0 build|test|wasm|bench|bench-models|examples-models" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
# the whole CLI cross-built for ARM64 Linux links Debian's arm64 libraries (multiarch)
case "$missing" in *:arm64*)
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64 ;;
esac
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
