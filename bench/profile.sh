#!/bin/sh
# Where mlship spends its time on one benchmark setting: a sampling profile of
# `mlship bench`, printed as the top functions by self time.
#
#   bench/profile.sh MODEL [BATCH [THREADS [SECONDS [TOP]]]]     e.g. bench/profile.sh cnn 256
#     MODEL   a name in bench/models/ (cnn, mlp) or a path to an .onnx file
#     BATCH (1)  THREADS (1)  SECONDS (3)  TOP (25): rows of the report
#   env: MLSHIP (build/mlship), OUT (bench/.out: perf data and the report are kept there),
#        TOOL (perf; callgrind forces the fallback below)
#
# Uses `perf record -e cpu-clock` (a software clock: works in VMs without hardware counters;
# `apt-get install -y linux-perf` if perf is missing). Without perf it falls back to
# valgrind --tool=callgrind on a short run (exact instruction counts, ~50x slower), which is also
# the tool for comparing two versions of a kernel: counts repeat exactly run to run (valgrind
# has no AVX-512, so the runtime takes its AVX2 paths there).
# Percentages are shares of this run only: compare ratios within a run, not across runs.
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
MODEL=$1 BATCH=${2:-1} THREADS=${3:-1} SECS=${4:-3} TOP=${5:-25}
MLSHIP=${MLSHIP:-build/mlship}
OUT=${OUT:-bench/.out}
case "$MODEL" in
  *.onnx) ONNX=$MODEL; X=${MODEL%.onnx}.X.npy ;;
  *) ONNX=bench/models/$MODEL.onnx; X=bench/models/$MODEL.X.npy ;;
esac
[ -x "$MLSHIP" ] || { echo "$MLSHIP not found: run make first" >&2; exit 1; }
[ -f "$ONNX" ] || { echo "$ONNX not found (bench/make_models.py makes them)" >&2; exit 1; }
INPUT=""
[ -f "$X" ] && INPUT="--input $X"
mkdir -p "$OUT"
TAG=$(basename "$ONNX" .onnx)-b$BATCH-t$THREADS
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

TOOL=${TOOL:-perf}
if [ "$TOOL" = perf ] && command -v perf >/dev/null 2>&1; then
  DATA=$OUT/perf-$TAG.data
  # shellcheck disable=SC2086
  perf record -q -e cpu-clock -g -o "$DATA" \
    "$MLSHIP" bench "$ONNX" --batch "$BATCH" --threads "$THREADS" --seconds "$SECS" $INPUT |
    grep '^{' | tail -n 1
  perf report -i "$DATA" --no-children --sort symbol --stdio 2>/dev/null |
    grep -E "^ +[0-9.]+%" | sed "s/[[:space:]]*-[[:space:]]*-[[:space:]]*$//" | head -n "$TOP" |
    tee "$OUT/profile-$TAG.txt"
  echo "# full report: perf report -i $DATA  (one function: perf annotate -i $DATA FUNC)" >&2
else
  echo "# callgrind on a 0.3 s run (instructions, not time)" >&2
  CG=$OUT/callgrind-$TAG.out
  # shellcheck disable=SC2086
  valgrind --tool=callgrind --callgrind-out-file="$CG" \
    "$MLSHIP" bench "$ONNX" --batch "$BATCH" --threads "$THREADS" --seconds 0.3 $INPUT \
    >/dev/null 2>&1
  callgrind_annotate "$CG" 2>/dev/null | sed -n '1,/^-- Auto/p' | grep -E '^ *[0-9,]+ ' |
    head -n "$TOP" | tee "$OUT/profile-$TAG.txt"
fi
