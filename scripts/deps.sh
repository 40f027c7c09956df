#!/bin/sh
# Installs the Debian packages a target needs, only when some are missing (idempotent).
# Usage: scripts/deps.sh build|test|bench
set -e
build="gcc make libc6-dev libcjson-dev libmicrohttpd-dev libsqlite3-dev libpq-dev libhiredis-dev"
test="$build clang libclang-rt-14-dev libonnx-testdata curl sqlite3 postgresql-15 redis-server pkgconf
      gcc-arm-none-eabi libnewlib-arm-none-eabi gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf
      qemu-user qemu-system-arm llvm-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 nodejs"
case "${1:-build}" in
  build) want=$build ;;
  test)  want=$test ;;
  bench) want="$build wrk curl nginx-light python3-flask python3-sklearn gunicorn" ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
