#!/bin/sh
# examples/in-the-browser/check.sh: builds web/mlship.wasm if it is not there (make wasm; the
# stage edge-wasm builds it earlier in make test), runs the README's "Run it" block (Python's
# static server at the repository root, here the scratch copy with web/ linked in), then drives
# the served page in headless Chromium (check_page.mjs) against scikit-learn's outputs.
# No chromium, node or python3: skipped. playwright-core comes from build/edge-npm (the version
# tests/edge/package-lock.json pins; installed here with npm ci when edge-wasm has not).
# Usage: sh examples/in-the-browser/check.sh [path/to/mlship]
. "$(dirname "$0")/../lib.sh"
ex_setup in-the-browser "$@"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { skip "no $CHROMIUM (scripts/deps.sh test installs chromium)"; finish; }
for t in node python3; do command -v $t >/dev/null || { skip "$t is not installed"; finish; }; done
if [ -f "$ROOT/web/mlship.wasm" ] && [ "$ROOT/web/mlship.wasm" -nt "$ROOT/src/edge/wasm/mw_glue.c" ]; then ok "web/mlship.wasm is built (reused)"
elif make -C "$ROOT" --no-print-directory -s wasm >"$T/wasm.log" 2>&1; then ok "make wasm"
else bad "make wasm failed"; tail -n 5 "$T/wasm.log"; finish; fi
NPM=$ROOT/build/edge-npm
if ! cmp -s "$ROOT/tests/edge/package-lock.json" "$NPM/package-lock.json" || [ ! -d "$NPM/node_modules/playwright-core" ]; then
  mkdir -p "$NPM" && cp "$ROOT/tests/edge/package.json" "$ROOT/tests/edge/package-lock.json" "$NPM/" &&
    (cd "$NPM" && npm ci --no-audit --no-fund --loglevel=error) >"$T/npm.log" 2>&1 ||
    { bad "npm ci (playwright-core)"; tail -n 5 "$T/npm.log"; finish; }
fi
ln -s "$ROOT/web" "$T/work/web"
PORT=$(free_port)
if run_readme "s/8000/$PORT/g"; then ok "the README's command started the server"; else bad "the README's command failed"; show_failure; finish; fi
i=0; until curl -sf -o /dev/null "http://127.0.0.1:$PORT/examples/in-the-browser/"; do
  i=$((i + 1)); [ $i -gt 100 ] && { bad "nothing answers on port $PORT"; show_failure; finish; }; sleep 0.1; done
ctype=$(curl -s -o /dev/null -w '%{content_type}' "http://127.0.0.1:$PORT/web/mlship.wasm")
[ "$ctype" = application/wasm ] && ok "the README's server sends mlship.wasm as application/wasm" || bad "mlship.wasm served as '$ctype'"
out=$(timeout 120 node "$EX/check_page.mjs" "$NPM/node_modules" "http://127.0.0.1:$PORT/examples/in-the-browser/" 2>&1)
printf '%s\n' "$out" | sed '$d'
line=$(printf '%s\n' "$out" | tail -n 1)
p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p'); f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
if [ -z "$p" ]; then bad "check_page.mjs did not finish: $line"; else pass=$((pass + p)); fail=$((fail + f)); fi
finish
