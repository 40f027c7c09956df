#!/bin/sh
# mlship's runtime side by side with ONNX Runtime 1.30 (C API, bench/ort/ort_c_bench.c),
# same machine, same run, same .onnx file, same input rows.
#
#   bench/runtime_bench.sh [--ort-only | --aa]
#     --ort-only  the ORT side alone;  --aa  ORT in both columns (A/A: the ratios show this run's noise)
#   env: REPS (5)   repetitions per setting, the two systems alternating (order flips every rep)
#        SECS (2)   timed window per repetition, seconds
#        MODELS ("mlp cnn")   models from bench/models/ (made by bench/make_models.py)
#        MLSHIP (build/mlship)   ORT_DIR (build/bench/ort: npm's onnxruntime-node + the harness)
#
# Settings: batch 1 / 1 thread (median and p99 µs per call), batch 256 at 1 and 2 threads (rows/s).
# Before timing: ORT's harness checks its output on all 1024 rows against REF (torch's output), and
# mlship's `predict` output on X is checked against REF here (max abs err <= 1e-4 + 1e-4*|ref|).
# Prints a Markdown table (medians over REPS, ratio mlship/ORT); raw JSON lines go to build/bench/.
# Prerequisites are installed here: apt packages (scripts/deps.sh bench; bench-models only if
# bench/models/ lacks a file) and ONNX Runtime from npm (bench/ort/build.sh).
set -eu
cd "$(dirname "$0")/.."
REPO=$PWD
REPS=${REPS:-5}
SECS=${SECS:-2}
MODELS=${MODELS:-mlp cnn}
MLSHIP=${MLSHIP:-build/mlship}
export ORT_DIR=${ORT_DIR:-build/bench/ort}
PY=/usr/bin/python3
ORT_ONLY=0 AA=0
case "${1:-}" in
  --ort-only) ORT_ONLY=1 ;;
  --aa) AA=1 ;;
  "") ;;
  *) echo "usage: $0 [--ort-only | --aa]" >&2; exit 2 ;;
esac
CMDLINE="REPS=$REPS SECS=$SECS MODELS=\"$MODELS\" bench/runtime_bench.sh${1:+ $1}"

OUT=build/bench
mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RAW=$OUT/runtime-$STAMP.jsonl
: > "$RAW"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# --- references: packages, models, ORT library and harness -----------------------------------
sh scripts/deps.sh bench >&2
for m in $MODELS; do
  if [ ! -f bench/models/$m.onnx ] || [ ! -f bench/models/$m.X.npy ] || [ ! -f bench/models/$m.REF.npy ]; then
    echo "# making models (bench/make_models.py)" >&2
    sh scripts/deps.sh bench-models >&2
    $PY bench/make_models.py >&2
    break
  fi
done
ORT_BIN=$(sh bench/ort/build.sh)

if [ $ORT_ONLY = 0 ] && [ $AA = 0 ] && [ ! -x "$MLSHIP" ]; then
  echo "$MLSHIP not found: run make first (or pass --ort-only)" >&2; exit 1
fi

mlship_id() { [ -x "$MLSHIP" ] && echo "$("$MLSHIP" --version 2>/dev/null | head -n 1), sha256 $(sha256sum "$MLSHIP" | cut -c1-12), tree $(git describe --always --dirty 2>/dev/null || echo ?)" || echo "-"; }
MLSHIP_ID0=$(mlship_id)

# --- correctness before timing ----------------------------------------------------------------
UNSUPPORTED=""
for m in $MODELS; do
  M=bench/models/$m
  # the harness checks all rows of X against REF first and exits 1 on a mismatch (set -e stops here)
  line=$("$ORT_BIN" $M.onnx $M.X.npy $M.REF.npy output 1 1 0.1 1)
  echo "{\"system\":\"ort\",\"model\":\"$m\",\"check\":$line}" >> "$RAW"
  echo "# ort    $m check: $(echo "$line" | sed 's/.*"max_abs_err":\([^,]*\).*/max_abs_err:\1/')" >&2
  if [ $ORT_ONLY = 0 ] && [ $AA = 0 ]; then
    D=$OUT/predict-$m
    rm -rf "$D"; mkdir -p "$D"
    rc=0; "$MLSHIP" predict $M.onnx $M.X.npy -o "$D" --output-format npy >&2 || rc=$?
    if [ $rc = 3 ]; then  # a model mlship does not support yet: ORT side only, marked in the table
      echo "{\"system\":\"mlship\",\"model\":\"$m\",\"unsupported\":true}" >> "$RAW"
      UNSUPPORTED="$UNSUPPORTED $m"; echo "# mlship $m: unsupported (exit 3), ORT side only" >&2; continue
    elif [ $rc != 0 ]; then echo "mlship predict failed on $m (exit $rc)" >&2; exit 1; fi
    err=$($PY - "$D" $M.REF.npy <<'EOF'
import glob, os, sys
import numpy as np
d, ref = sys.argv[1], np.load(sys.argv[2])
files = sorted(glob.glob(os.path.join(d, "*.npy")))
f = os.path.join(d, "output_0.npy")  # predict -o writes DIR/output_<i>.npy per graph output
if not os.path.exists(f):
    sys.exit("mlship predict wrote %s, expected output_0.npy" % [os.path.basename(x) for x in files])
y = np.load(f)
if y.shape != ref.shape:
    sys.exit("%s: shape %s, REF %s" % (f, y.shape, ref.shape))
err = np.abs(y.astype(np.float64) - ref)
bad = err > 1e-4 + 1e-4 * np.abs(ref)
print("%.3e" % err.max())
if bad.any():
    sys.exit("%s: %d values off REF, max abs err %.3e" % (f, bad.sum(), err.max()))
EOF
) || { echo "mlship output on $m does not match REF: not timing" >&2; exit 1; }
    echo "{\"system\":\"mlship\",\"model\":\"$m\",\"check\":{\"max_abs_err\":$err}}" >> "$RAW"
    echo "# mlship $m check: max_abs_err:$err" >&2
  fi
done

# --- timing: the two systems alternate, order flips every repetition ---------------------------
run_ort() {  # model batch threads
  "$ORT_BIN" bench/models/$1.onnx bench/models/$1.X.npy bench/models/$1.REF.npy output $3 $2 $SECS 1 | tail -n 1
}
run_mlship() {  # model batch threads
  if [ $AA = 1 ]; then run_ort "$@"; return; fi
  "$MLSHIP" bench bench/models/$1.onnx --batch $2 --threads $3 --seconds $SECS --input bench/models/$1.X.npy | grep '^{' | tail -n 1
}
record() {  # system model batch threads rep
  line=$(run_$1 $2 $3 $4)
  [ -n "$line" ] || { echo "$1 gave no JSON line for $2 batch $3 threads $4" >&2; exit 1; }
  echo "{\"system\":\"$1\",\"model\":\"$2\",\"batch\":$3,\"threads\":$4,\"rep\":$5,\"result\":$line}" >> "$RAW"
}
for m in $MODELS; do
  for bt in "1 1" "256 1" "256 2"; do
    set -- $bt
    r=1
    while [ $r -le $REPS ]; do
      echo "# $m batch $1 threads $2 rep $r/$REPS" >&2
      if [ $ORT_ONLY = 1 ] || case " $UNSUPPORTED " in *" $m "*) true ;; *) false ;; esac; then
        record ort $m $1 $2 $r
      elif [ $((r % 2)) = 1 ]; then record ort $m $1 $2 $r; record mlship $m $1 $2 $r
      else record mlship $m $1 $2 $r; record ort $m $1 $2 $r; fi
      r=$((r + 1))
    done
  done
done

# --- table --------------------------------------------------------------------------------------
MLSHIP_ID1=$(mlship_id)
if [ $ORT_ONLY = 0 ] && [ $AA = 0 ] && [ "$MLSHIP_ID0" != "$MLSHIP_ID1" ]; then
  echo "WARNING: $MLSHIP changed during the run ($MLSHIP_ID0 -> $MLSHIP_ID1): the figures mix builds, rerun" >&2
  MLSHIP_ID0="$MLSHIP_ID0 -> $MLSHIP_ID1 (CHANGED DURING THE RUN)"
fi
[ $ORT_ONLY = 0 ] && [ $AA = 0 ] || MLSHIP_ID0=""
$PY - "$RAW" "$CMDLINE" "$ORT_BIN" "$MLSHIP" "$SECS" "$REPS" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)" "$AA" "$MLSHIP_ID0" <<'EOF'
import json, platform, statistics, subprocess, sys, time
raw, cmdline, ort_bin, mlship, secs, reps, load0, load1, aa, mlship_id = sys.argv[1:11]
rows = [json.loads(l) for l in open(raw)]
checks = {(r["system"], r["model"]): r["check"]["max_abs_err"] for r in rows if "check" in r}
unsupported = {r["model"] for r in rows if r.get("unsupported")}
runs = [r for r in rows if "result" in r]
engine = next((r["result"].get("engine") for r in runs if r["system"] == "ort"), "onnxruntime")
models = list(dict.fromkeys(r["model"] for r in runs))
def med(system, model, batch, threads, key):
    v = [r["result"][key] for r in runs if (r["system"], r["model"], r["batch"], r["threads"]) == (system, model, batch, threads)]
    return (statistics.median(v), len(v)) if v else (None, 0)
def fmt(x, key, m=None):
    if x is None: return "unsupported yet" if m in unsupported else "not measured"
    return "{:,.0f}".format(x) if key == "rows_per_s" else "{:.1f}".format(x)
settings = [(1, 1, "median_us_per_call", "µs/call, median (lower is better)"),
            (1, 1, "p99_us_per_call", "µs/call, p99 (lower is better)"),
            (256, 1, "rows_per_s", "rows/s (higher is better)"),
            (256, 2, "rows_per_s", "rows/s (higher is better)")]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
ncpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
print("### Runtime: mlship vs %s, %s UTC" % (engine, time.strftime("%Y-%m-%d %H:%M", time.gmtime())))
if aa == "1":
    print()
    print("**A/A run: the mlship column is ORT again; the ratios are this run's noise, not mlship.**")
print()
print("Machine: %s CPUs (%s), shared. Each figure: median of %d repetitions of a %s s window, the "
      "two systems alternating in the same run. Ratio = mlship / ORT. Load average before / after "
      "the run: %s / %s (other work on the machine shows here, and hits the 2-thread rows most)." % (ncpu, cpu, int(reps), secs, load0, load1))
print()
if mlship_id:
    print("mlship build: %s (`%s`)." % (mlship_id, mlship))
    print()
print("| model | batch | threads | metric | mlship | ORT 1.30 (C API) | mlship/ORT |")
print("|---|---:|---:|---|---:|---:|---:|")
for m in models:
    for b, t, key, label in settings:
        a, _ = med("mlship", m, b, t, key)
        o, _ = med("ort", m, b, t, key)
        ratio = "%.2f" % (a / o) if a is not None and o else "-"
        print("| %s | %d | %d | %s | %s | %s | %s |" % (m, b, t, label, fmt(a, key, m), fmt(o, key), ratio))
print()
print("Output check on the 1024 rows of X against torch's output (max abs err): " + ", ".join(
    "%s %s %.1e" % (m, s, checks[(s, m)]) for m in models for s in ("mlship", "ort") if (s, m) in checks) + ".")
print()
print("Reproduce: `%s` (raw JSON lines: `%s`). Per repetition it runs" % (cmdline, raw))
if aa != "1":
    print("`%s bench MODEL --batch B --threads T --seconds %s --input X.npy` and" % (mlship, secs))
print("`%s MODEL X.npy REF.npy output T B %s 1` (0.3 s warm-up, then one timed window)." % (ort_bin, secs))
EOF
