#!/bin/sh
# test_readme.sh: the README's C example, exactly as written, against an installed mlship.
# `make install PREFIX=$tmp` (and once with DESTDIR), then the C block and the `cc ...` line of
# README.md's "Using the runtime from C" section are taken verbatim, compiled with
# PKG_CONFIG_PATH pointing at the install, and run on the example model with the two rows of
# examples/fraud/request.json; the answers must match numpy's (examples/fraud/expected.json,
# written by examples/fraud/make_model.py).
# Usage: sh tests/docs/test_readme_c.sh [path/to/mlship]    (default build/mlship; its directory is
# the build tree installed). Ends with "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
B=$(dirname "$M")
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
show() { sed 's/^/    | /' "$1" | head -n 12; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

command -v pkg-config >/dev/null || { bad "pkg-config is not installed (scripts/deps.sh test)"; finish; }

# ---- make install ---------------------------------------------------------------------------
P=$T/prefix
if make -s BUILD="$B" PREFIX="$P" install >"$T/install.log" 2>&1; then ok; else bad "make install PREFIX=$P"; show "$T/install.log"; finish; fi
for f in bin/mlship lib/libmlship.a include/mlship.h lib/pkgconfig/mlship.pc; do
  [ -f "$P/$f" ] && ok || bad "make install: no $P/$f"
done
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
libs=$(pkg-config --libs mlship 2>"$T/pc.err") && ok || { bad "pkg-config --libs mlship"; show "$T/pc.err"; }
# a static archive: plain --libs must name what it needs, after it
case " $libs " in *" -L$P/lib "*"-lmlship "*"-lcjson "*) ok ;; *) bad "pkg-config --libs mlship: '$libs' lacks -L$P/lib -lmlship ... -lcjson" ;; esac
case " $libs " in *" -lm "*) ok ;; *) bad "pkg-config --libs mlship: '$libs' lacks -lm" ;; esac
case " $(pkg-config --cflags mlship) " in *" -I$P/include "*) ok ;; *) bad "pkg-config --cflags mlship lacks -I$P/include" ;; esac
want=$(sed -n 's/.*define MS_VERSION_STRING "\(.*\)"/\1/p' include/mlship.h)
[ -n "$want" ] && [ "$(pkg-config --modversion mlship)" = "$want" ] && ok || bad "mlship.pc version is not $want"
# DESTDIR stages the files but the .pc names the final PREFIX
if make -s BUILD="$B" DESTDIR="$T/stage" PREFIX=/opt/mlship install >"$T/install2.log" 2>&1 &&
   grep -qx 'prefix=/opt/mlship' "$T/stage/opt/mlship/lib/pkgconfig/mlship.pc"; then ok
else bad "make install DESTDIR=... PREFIX=/opt/mlship: staged mlship.pc should say prefix=/opt/mlship"; show "$T/install2.log"; fi

# ---- the README's example, verbatim ---------------------------------------------------------
A=$T/app; mkdir -p "$A"
sec() { sed -n '/^## Using the runtime from C/,/^## /p' README.md; }
sec | sed -n '/^```c$/,/^```$/p' | sed '1d;$d' >"$A/app.c"
cmd=$(sec | grep -m 1 '^cc ')
grep -q 'int main' "$A/app.c" && ok || { bad "README: no complete C program in 'Using the runtime from C'"; show "$A/app.c"; }
[ -n "$cmd" ] && ok || bad "README: no 'cc ...' compile line in 'Using the runtime from C'"
if (cd "$A" && sh -c "$cmd") >"$T/cc.log" 2>&1 && [ -x "$A/app" ]; then ok
else bad "README's compile line failed: $cmd"; show "$T/cc.log"; finish; fi

# the program reads model.onnx in its directory and 30 numbers on stdin
(cd "$A" && ./app </dev/null >"$T/out" 2>"$T/err"); rc=$?
[ $rc -ne 0 ] && ok || bad "README app with no input: exit 0"
(cd "$A" && printf '%s\n' $(seq 1 30) | ./app >"$T/out" 2>"$T/err"); rc=$?
[ $rc -eq 1 ] && grep -q "model.onnx" "$T/err" && ok || { bad "README app without model.onnx: exit $rc, expected 1 naming the file"; show "$T/err"; }
cp examples/fraud/model.onnx "$A/model.onnx"
(cd "$A" && printf '1 2 3\n' | ./app >"$T/out" 2>"$T/err"); rc=$?
[ $rc -eq 2 ] && ok || bad "README app on 3 numbers: exit $rc, expected 2"
sed 's/.*"data": *\[\([^]]*\)\].*/\1/' examples/fraud/request.json | tr ',' '\n' | tr -d ' ' >"$T/data"
sed 's/.*\[\(.*\)\].*/\1/' examples/fraud/expected.json | tr ',' '\n' | tr -d ' ' >"$T/want"
[ "$(grep -c . "$T/data")" -eq 60 ] && [ "$(grep -c . "$T/want")" -eq 2 ] && ok || bad "examples/fraud: expected 2 rows of 30 and 2 probabilities"
for row in 1 2; do
  sed -n "$(( (row - 1) * 30 + 1 )),$(( row * 30 ))p" "$T/data" >"$T/row"
  got=$(cd "$A" && ./app <"$T/row" 2>"$T/err"); rc=$?
  want=$(sed -n "${row}p" "$T/want")
  if [ $rc -eq 0 ] && awk -v g="$got" -v w="$want" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= 1e-5) }'; then ok
  else bad "README app on request.json row $row: printed '$got' (exit $rc), numpy says $want"; show "$T/err"; fi
done
finish
