#!/bin/sh
# test_wasm.sh: stage edge-wasm of make test. Builds the WebAssembly package (make wasm), runs
# it in Node against the frameworks' outputs (test_wasm_node.mjs), then in headless Chromium
# through the demo page (test_wasm_browser.mjs; playwright-core from npm, pinned by
# tests/edge/package-lock.json, installed into build/edge-npm). No Chromium: the browser test
# counts as skipped. Last line "N passed, N failed[, N skipped]".
cd "$(dirname "$0")/../.." || exit 2
pass=0; fail=0; skip=0
add() { # the output of a test program: adds its "N passed, N failed" line
  line=$(printf '%s\n' "$1" | tail -n 1)
  p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
  f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
  if [ -z "$p" ]; then printf '%s\n' "$1" | tail -n 20; echo "FAIL $2 did not finish"; fail=$((fail + 1)); return; fi
  printf '%s\n' "$1" | grep -v '^ok'
  pass=$((pass + p)); fail=$((fail + f))
}

if make --no-print-directory -s wasm; then
  pass=$((pass + 1)); echo "ok   make wasm"
else
  echo "FAIL make wasm"; echo "$pass passed, $((fail + 1)) failed"; exit 1
fi
add "$(node tests/edge/test_wasm_node.mjs 2>&1)" test_wasm_node.mjs

NPM=build/edge-npm
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "skip browser test: no $CHROMIUM (scripts/deps.sh test installs chromium)"; skip=$((skip + 1))
else
  mkdir -p "$NPM"
  if ! cmp -s tests/edge/package-lock.json "$NPM/package-lock.json" || [ ! -d "$NPM/node_modules/playwright-core" ]; then
    cp tests/edge/package.json tests/edge/package-lock.json "$NPM/"
    (cd "$NPM" && npm ci --no-audit --no-fund --loglevel=error) || { echo "FAIL npm ci (playwright-core)"; fail=$((fail + 1)); }
  fi
  [ -d "$NPM/node_modules/playwright-core" ] &&
    add "$(timeout 300 node tests/edge/test_wasm_browser.mjs "$NPM/node_modules" 2>&1)" test_wasm_browser.mjs
fi
echo "edge-wasm: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
