#!/bin/sh
# examples/gesture-on-a-microcontroller/check.sh: runs the README's "Run it" block (export-c, the
# firmware built with arm-none-eabi-gcc for a Cortex-M4F, run bare on QEMU's mps2-an386) and
# compares every probability the M4 printed with scikit-learn's predict_proba (reference.csv,
# from make_model.py), and each window's gesture with scikit-learn's predict.
# No arm-none-eabi-gcc or qemu-system-arm: skipped (scripts/deps.sh test installs them).
# Usage: sh examples/gesture-on-a-microcontroller/check.sh [path/to/mlship]
. "$(dirname "$0")/../lib.sh"
ex_setup gesture-on-a-microcontroller "$@"
for t in arm-none-eabi-gcc arm-none-eabi-size qemu-system-arm; do
  command -v $t >/dev/null || { skip "$t is not installed (scripts/deps.sh test)"; finish; }
done
if run_readme ""; then ok "the README's commands ran (export-c, the M4 build, QEMU)"; else bad "the README's commands failed"; show_failure; finish; fi

case "$(section 'export-c')" in *'"weights_bytes": 1104'*'"heap_bytes": 0'*) ok "export-c: 1104 bytes of weights, no heap, as the README says" ;;
  *) bad "export-c --report: $(section 'export-c' | tr '\n' ' ')" ;; esac
section 'qemu-system-arm' >"$T/m4"
[ "$(grep -c '^window ' "$T/m4")" -eq 8 ] && ok "the M4 classified the 8 windows" || bad "the M4 printed: $(head -n 3 "$T/m4")"
awk '/^window / { for (i = 4; i <= NF; i++) print $i }' "$T/m4" >"$T/got"
tail -n +2 "$EX/reference.csv" | cut -d, -f2- | tr ',' '\n' >"$T/want"
if r=$(close_all "$T/got" "$T/want" 1e-5); then ok "the M4's probabilities are scikit-learn's predict_proba ($r)"; else bad "M4 vs scikit-learn: $r"; fi
awk '/^window / { print $3 }' "$T/m4" >"$T/glab"
tail -n +2 "$EX/reference.csv" | awk -F, '{ b = 2; for (i = 3; i <= 5; i++) if ($i > $b) b = i; split("idle shake tap circle", n, " "); print n[b - 1] }' >"$T/wlab"
cmp -s "$T/glab" "$T/wlab" && ok "each window's gesture is scikit-learn's predict ($(tr '\n' ' ' <"$T/glab"))" ||
  bad "gestures: M4 $(tr '\n' ' ' <"$T/glab"), scikit-learn $(tr '\n' ' ' <"$T/wlab")"
# the README's sample lines are what the M4 prints
sed -n '/^## Run it/,/^## /p' "$EX/README.md" | grep '^window ' >"$T/shown"
head -n "$(wc -l <"$T/shown")" "$T/m4" | cmp -s - "$T/shown" && ok "the README shows the M4's first lines as printed" || bad "the README's sample output differs from the M4's"
finish
