#!/bin/sh
# Tree-ensemble benchmark, side by side in one run: mlship (build/tree_bench) vs ONNX Runtime
# 1.30 C API (bench/ort/ort_c_bench.c) on the same model.onnx vs XGBoost inplace_predict on
# the same model.json; batch 1 and batch 10,000, 1 and 2 threads.
#   sh bench/trees/run.sh [SECONDS]      (default 3 s per row)
# Installs what it needs: apt packages (scripts/deps.sh bench: python3-xgboost, ...) and ONNX
# Runtime (bench/ort/build.sh, from npm into build/bench/ort). Models come from
# bench/trees/make_models.py (into bench/trees/out/, not committed).
set -e
S=${1:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
sh scripts/deps.sh bench
make -s build/libmlship.a build/libmlship_codec.a build/libmlship_base.a
cc -O2 -std=c11 -Iinclude -Isrc -Isrc/runtime -o build/tree_bench bench/trees/tree_bench.c \
   build/libmlship_codec.a build/libmlship_base.a build/libmlship.a -lcjson -lm -lpthread
[ -f bench/trees/out/gbdt100/X.npy ] || /usr/bin/python3 bench/trees/make_models.py
ORT=$(sh bench/ort/build.sh)
for M in gbdt500 gbdt100; do
  D=bench/trees/out/$M
  for T in 1 2; do
    for B in 1 10000; do
      build/tree_bench $D/model.json $D/X.npy $D/REF.npy $T $B $S | sed "s/^{/{\"model\":\"$M\",\"file\":\"json\",/"
      build/tree_bench $D/model.onnx $D/X.npy $D/REF.npy $T $B $S | sed "s/^{/{\"model\":\"$M\",\"file\":\"onnx\",/"
      $ORT $D/model.onnx $D/X.npy $D/REF.npy probabilities $T $B $S 1 | sed "s/^{/{\"model\":\"$M\",/"
      /usr/bin/python3 bench/trees/xgb_bench.py $D/model.json $D/X.npy $D/REF.npy $T $B $S | sed "s/^{/{\"model\":\"$M\",/"
    done
  done
done
