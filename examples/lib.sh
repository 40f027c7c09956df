# examples/lib.sh: sourced by every examples/*/check.sh. A check runs its README's commands as
# written (the ```sh block under the README heading "## Run it"), so the README and the check
# cannot drift: `mlship` on those lines is the binary under test (a symlink first on PATH), the
# example's files are a scratch copy of its folder, and a few site-specific words are replaced
# (the port 8080 by a free one, the database URLs by the test services'). Then the check asserts
# on what the commands printed against the framework's own outputs, committed next to the model.
#
# In a check:   . "$(dirname "$0")/../lib.sh"   then   ex_setup NAME "$@"
# Globals after ex_setup: ROOT (repository), EX (the example's folder), M (mlship), T (scratch
# dir, removed at exit), W (the scratch copy of the example, the commands' working directory;
# ../../tests in it is the repository's tests/).
# Counting: ok / bad / skip MESSAGE, finish (prints "N passed, N failed, N skipped").

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
pass=0; fail=0; skip=0
ok()   { pass=$((pass + 1)); echo "ok   $*"; }
bad()  { fail=$((fail + 1)); echo "FAIL $*"; }
skip() { skip=$((skip + 1)); echo "skip $*"; }
finish() {
  echo "$pass passed, $fail failed, $skip skipped"
  [ "$fail" -eq 0 ]; exit $?
}

EX_PGIDS=""
ex_cleanup() {
  for g in $EX_PGIDS; do kill -TERM "-$g" 2>/dev/null; done
  for g in $EX_PGIDS; do
    i=0; while kill -0 "-$g" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "-$g" 2>/dev/null
  done
  [ -n "${T:-}" ] && rm -rf "$T"
}

ex_setup() { # NAME [path/to/mlship]
  EX=$ROOT/examples/$1
  M=${2:-$ROOT/build/mlship}
  case "$M" in /*) ;; *) M="$PWD/$M" ;; esac
  T=$(mktemp -d) || exit 2
  trap ex_cleanup EXIT
  trap 'exit 1' INT TERM
  mkdir -p "$T/bin" "$T/work"
  [ -x "$M" ] || { bad "no mlship binary at $M (make all)"; finish; }
  ln -s "$M" "$T/bin/mlship"
  PATH=$T/bin:$PATH; export PATH
  # the copy sits where it does in the repository (../../tests is the repository's tests/, for
  # a README that builds with tests/cross/m4.ld): $T/work/examples/NAME
  mkdir -p "$T/work/examples"; ln -s "$ROOT/tests" "$T/work/tests"
  W=$T/work/examples/$1
  cp -R "$EX" "$W"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# readme_block [HEADING]: the commands of the first ```sh block after "## HEADING" (default
# "Run it") of the example's README, a backslash-continued command joined into one line.
readme_block() {
  sed -n "/^## ${1:-Run it}\$/,/^## /p" "$EX/README.md" | sed -n '/^```sh/,/^```/p' | sed '1d;$d' |
    awk '{ if (sub(/\\$/, "")) { buf = buf $0; next } print buf $0; buf = "" }'
}

# run_readme SEDSCRIPT [HEADING]: runs the block as one sh -e script in $W, every command
# preceded on stdout by a line ">>> COMMAND" (after a newline: a JSON answer often has none) (see section), with SEDSCRIPT applied to
# the block first (site-specific substitutions, e.g. s/8080/$PORT/g). The script runs in a
# process group of its own, so whatever it left running in the background is stopped at exit
# (by that group's id). Output: $T/out (stdout), $T/err; returns the script's status.
run_readme() {
  readme_block "${2:-Run it}" | sed "$1" >"$T/block"
  [ -s "$T/block" ] || { echo "no \`\`\`sh block under '## ${2:-Run it}' in $EX/README.md" >"$T/err"; return 2; }
  awk '{ q = $0; gsub(/'\''/, "'\''\\'\'''\''", q); print "printf '\''\\n>>> %s\\n'\'' '\''" q "'\''"; print }' "$T/block" >"$T/block.sh"
  (cd "$W" && exec setsid timeout 180 sh -e "$T/block.sh" >"$T/out" 2>"$T/err") &
  EX_PGIDS="$EX_PGIDS $!"
  wait $!
}

# section PATTERN [N]: what the Nth (default first) command matching PATTERN (an awk regular
# expression on the command) printed
section() {
  awk -v pat="$1" -v want="${2:-1}" 'index($0, ">>> ") == 1 { if (on) exit; if (substr($0, 5) ~ pat && ++n == want) on = 1; next }
                   on && $0 != "" { print }' "$T/out"
}

# show_failure: the end of the script's output and errors, indented
show_failure() { tail -n 15 "$T/out" "$T/err" | sed 's/^/    | /'; }

# close_all GOT WANT TOL: files of one number a line, same count, |g - w| <= TOL * (1 + |w|)
close_all() {
  awk -v tol="$3" 'NR == FNR { w[FNR] = $1; n = FNR; next }
    { m = FNR; d = $1 - w[FNR]; if (d < 0) d = -d; a = w[FNR] < 0 ? -w[FNR] : w[FNR];
      if ($1 == "" || d > tol * (1 + a)) { bad++; if (bad == 1) printf "line %d: %s vs %s; ", FNR, $1, w[FNR] }
      if (d / (1 + a) > worst) worst = d / (1 + a) }
    END { if (m != n) { printf "%d values, want %d", m, n; exit 1 }
          printf "%d values, max |diff|/(1+|ref|) %.3g", n, worst; exit bad > 0 }' "$2" "$1"
}
