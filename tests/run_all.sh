#!/bin/sh
# Every test, in order: builds (gcc and clang, warnings are errors), unit tests, unit tests
# again under ASan+UBSan, ONNX conformance, CLI end-to-end, the README's C example against
# `make install`, fuzz-corpus replay, and the runtime
# cross-built for Cortex-M4, AArch64, armhf and WebAssembly with its unit tests run there
# (qemu, Node), the WebAssembly package (web/) in Node and headless Chromium, and every
# examples/*/check.sh (each use case's README commands, against the frameworks' outputs).
# Each stage prints "N passed, N failed"; the last line adds them up for CI.
cd "$(dirname "$0")/.." || exit 2
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
pass=0; fail=0; skip=0; log=build/test-logs; mkdir -p "$log"

count() { # stage-name log-file exit-code
  # a stage's own summary: "N passed, N failed[, N skipped]", perhaps after "word: "
  line=$(sed -n 's/^\([a-z-]*: \)\{0,1\}\([0-9]* passed, [0-9]* failed.*\)/\2/p' "$2" | tail -n 1)
  p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p'); p=${p:-0}
  f=$(echo "$line" | sed -n 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/p'); f=${f:-0}
  s=$(echo "$line" | sed -n 's/.*, \([0-9]*\) skipped.*/\1/p'); s=${s:-0}
  if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # a stage that failed without counting
  if [ -z "$line" ] && [ "$3" -eq 0 ]; then p=1; fi   # a build step: one check
  echo "== $1: $p passed, $f failed${s:+, $s skipped}"
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}

# A stage that hangs (a server that stopped answering, a lock never released) fails after
# STAGE_TIMEOUT seconds with what it printed, instead of running into CI's own limit.
STAGE_TIMEOUT=${STAGE_TIMEOUT:-900}
stage() { # name command...
  name=$1; shift
  echo "== $name"
  t0=$(date +%s)
  timeout -k 10 "$STAGE_TIMEOUT" "$@" > "$log/$name.log" 2>&1; rc=$?
  echo "   ($name took $(( $(date +%s) - t0 )) s)"
  [ $rc -eq 124 ] && echo "FAIL $name: still running after $STAGE_TIMEOUT s; stopped" | tee -a "$log/$name.log"
  grep -E '^(FAIL|CRASH|REGRESSION)|error:|runtime error' "$log/$name.log" | head -n 40
  [ $rc -ne 0 ] && tail -n 20 "$log/$name.log"
  count "$name" "$log/$name.log" $rc
}

# PostgreSQL and Redis for the store, serve and batch tests: started here (throwaway, on
# loopback, free ports) unless the caller already points MLSHIP_TEST_PG_URL at servers.
if [ -z "${MLSHIP_TEST_PG_URL:-}" ]; then
  export MLSHIP_SERVICES_ENV=build/test-services.env
  trap 'sh scripts/services.sh stop >/dev/null 2>&1' EXIT
  stage services sh scripts/services.sh start
  [ -f "$MLSHIP_SERVICES_ENV" ] && . "./$MLSHIP_SERVICES_ENV"
fi

stage layers      sh scripts/check_layers.sh
stage build-gcc   make -j"$JOBS" all build/conformance
stage build-clang make -j"$JOBS" BUILD=build/clang CC=clang all
stage unit        make -j"$JOBS" unit
stage unit-asan   make -j"$JOBS" unit-asan
stage conformance make conformance
[ -f tests/cli/test_cli.sh ] && stage cli sh tests/cli/test_cli.sh build/mlship
[ -f tests/cli/test_advise.sh ] && stage advise sh tests/cli/test_advise.sh build/mlship
[ -f tests/docs/test_readme_c.sh ] && stage docs-readme-c sh tests/docs/test_readme_c.sh build/mlship
[ -f tests/store/test_features_cli.sh ] && stage store-cli sh tests/store/test_features_cli.sh build/mlship
[ -f tests/serve/test_serve.sh ] && stage serve sh tests/serve/test_serve.sh build/mlship
[ -f tests/serve/test_serve_batch.sh ] && stage serve-batch sh tests/serve/test_serve_batch.sh build/mlship
[ -f tests/serve/test_serve_stream.sh ] && stage serve-stream sh tests/serve/test_serve_stream.sh build/mlship
[ -f tests/docs/test_readme.sh ] && stage docs-readme sh tests/docs/test_readme.sh build/mlship
[ -f tests/docs/check_docs.sh ] && stage docs-drift sh tests/docs/check_docs.sh build/mlship
[ -f tests/docs/test_openapi.sh ] && stage docs-openapi sh tests/docs/test_openapi.sh build/mlship
[ -f bench/check.sh ] && stage bench-check sh bench/check.sh
[ -f tests/batch/test_batch.sh ] && stage batch sh tests/batch/test_batch.sh build/mlship
[ -f tests/matrix/test_matrix.sh ] && stage matrix sh tests/matrix/test_matrix.sh build/mlship
[ -f tests/stream/test_stream.sh ] && stage stream sh tests/stream/test_stream.sh build/mlship
[ -f tests/faults/test_engine_faults.sh ] && stage engine-faults sh tests/faults/test_engine_faults.sh build/mlship
[ -f tests/stream/test_partitions.sh ] && stage stream-partitions sh tests/stream/test_partitions.sh build/mlship
[ -f tests/stream/test_mqtt.sh ] && stage stream-mqtt sh tests/stream/test_mqtt.sh build/mlship
[ -f tests/edge/test_agent.sh ] && stage edge-agent sh tests/edge/test_agent.sh build/mlship
[ -f tests/edge/test_agent.sh ] && stage edge-agent-serve env EDGE_BACKEND=serve sh tests/edge/test_agent.sh build/mlship
[ -f tests/edge/test_agent_features.sh ] && stage edge-agent-features sh tests/edge/test_agent_features.sh build/mlship
[ -f tests/fuzz/fuzz.mk ] && stage fuzz-replay make fuzz-check
[ -f tests/edge/test_export.sh ] && stage edge-export sh tests/edge/test_export.sh build/mlship
[ -f tests/edge/test_kernels.sh ] && stage edge-kernels sh tests/edge/test_kernels.sh build/mlship
stage cross       sh tests/cross/run.sh
stage cross-arm64 sh tests/cross/test_arm64_cli.sh build/mlship
# the agent cross-built above runs the fault matrix under qemu-aarch64 (publisher and backend native)
[ -x build/arm64/mlship ] && stage edge-agent-arm64 env AGENT_WAIT=400 UPDATE_WAIT=90 AGENT_RUN="qemu-aarch64 -L /" \
  sh tests/edge/test_agent.sh build/mlship build/arm64/mlship
stage edge-wasm   sh tests/edge/test_wasm.sh
# every examples/*/check.sh (the README's commands run as written), after the stages that build
# what they reuse: build/mlship, web/mlship.wasm (edge-wasm), build/edge-npm (playwright-core)
[ -f tests/examples/run.sh ] && stage examples sh tests/examples/run.sh build/mlship

echo "total: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
