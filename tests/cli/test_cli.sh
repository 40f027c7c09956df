#!/bin/sh
# test_cli.sh: end-to-end tests of the mlship binary: help, exit codes, predict/inspect/bench
# on the fixtures in tests/cli/fixtures (made by make_fixtures.py) and on ONNX's own node
# test models. Outputs are compared with tcompare (tests/cli/tcompare.c), no Python.
# Usage: sh tests/cli/test_cli.sh [path/to/mlship]    (default build/mlship)
# Ends with "N passed, N failed[, N skipped]".
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
B=$(dirname "$M")
F=tests/cli/fixtures
N=/usr/share/libonnx-testdata/data/node
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
pass=0; fail=0; skip=0

if [ ! -x "$M" ] || ! make -s BUILD="$B" "$B/tcompare" >"$T/make.log" 2>&1; then
  cat "$T/make.log"; echo "FAIL cannot find $M or build $B/tcompare"; echo "0 passed, 1 failed"; exit 1
fi
TC=$B/tcompare

ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
show() { sed 's/^/    | /' "$1" | head -n 8; }

# run NAME WANT_EXIT cmd... : stdin from /dev/null, output in $T/out and $T/err
# (sh has no locals: helper variables start with _ so they cannot clobber the caller's.)
run() {
  _name=$1; _want=$2; shift 2
  "$@" >"$T/out" 2>"$T/err" </dev/null; _rc=$?
  if [ "$_rc" -eq "$_want" ]; then ok; else bad "$_name: exit $_rc, expected $_want"; show "$T/err"; fi
}
# run_in NAME WANT_EXIT FILE cmd... : the same with stdin from FILE
run_in() {
  _name=$1; _want=$2; _in=$3; shift 3
  "$@" >"$T/out" 2>"$T/err" <"$_in"; _rc=$?
  if [ "$_rc" -eq "$_want" ]; then ok; else bad "$_name: exit $_rc, expected $_want"; show "$T/err"; fi
}
# has NAME out|err TEXT : the last run's stdout/stderr contains TEXT (fixed string)
has() {
  if grep -qF -- "$3" "$T/$2"; then ok; else bad "$1: $2 lacks '$3'"; show "$T/$2"; fi
}
# same NAME FILE TEXT : FILE is exactly TEXT (plus a final newline)
same() {
  printf '%s\n' "$3" >"$T/want"
  if cmp -s "$2" "$T/want"; then ok; else bad "$1: output differs"; echo "    want: $3"; echo "    got:  $(cat "$2")"; fi
}
# close NAME GOT WANT : tensors equal within tolerance
close() {
  if "$TC" "$2" "$3" >"$T/tc" 2>&1; then ok; else bad "$1: $2 vs $3"; show "$T/tc"; fi
}

# ---- help and version --------------------------------------------------------------------
run "mlship --help" 0 "$M" --help
has "mlship --help" out "exit status"
has "mlship --help lists exit 2" out "2  bad usage or bad input"
has "mlship --help lists exit 3" out "3  unsupported"
run "mlship -h" 0 "$M" -h
run "mlship --version" 0 "$M" --version
has "mlship --version" out "mlship 0."
for cmd in inspect predict bench; do
  run "$cmd --help" 0 "$M" $cmd --help
  has "$cmd --help" out "usage: mlship $cmd"
  has "$cmd --help exit codes" out "exit status"
  run "$cmd -h" 0 "$M" $cmd -h
  run "help $cmd" 0 "$M" help $cmd
done

# ---- usage errors: exit 2 ----------------------------------------------------------------
run "no command" 2 "$M"
run "unknown command" 2 "$M" frobnicate
has "unknown command message" err "unknown command 'frobnicate'"
run "unknown global option" 2 "$M" --bogus
run "inspect without model" 2 "$M" inspect
run "inspect unknown option" 2 "$M" inspect --bogus $F/dyn_add.onnx
run "inspect two models" 2 "$M" inspect $F/dyn_add.onnx $F/dyn_relu.onnx
run "predict without model" 2 "$M" predict
run "predict unknown option" 2 "$M" predict $F/dyn_relu.onnx $F/x_2x4.npy --bogus
has "predict unknown option message" err "unknown option '--bogus'"
run "predict -o without value" 2 "$M" predict $F/dyn_relu.onnx $F/x_2x4.npy -o
run "predict bad output format" 2 "$M" predict $F/dyn_relu.onnx $F/x_2x4.npy -o "$T/o" --output-format xml
run "predict npy without -o" 2 "$M" predict $F/dyn_relu.onnx $F/x_2x4.npy --output-format npy
run "predict stdin twice" 2 "$M" predict $F/dyn_add.onnx x=- y=-
run "bench without model" 2 "$M" bench
run "bench --batch 0" 2 "$M" bench $F/dyn_relu.onnx --batch 0
run "bench --threads x" 2 "$M" bench $F/dyn_relu.onnx --threads x
run "bench --seconds -1" 2 "$M" bench $F/dyn_relu.onnx --seconds -1
run "bench unknown option" 2 "$M" bench $F/dyn_relu.onnx --bogus

# ---- bad models and unsupported operators ------------------------------------------------
run "predict malformed model" 2 "$M" predict $F/not_a_model.onnx $F/x_2x4.npy
run "inspect malformed model" 2 "$M" inspect $F/not_a_model.onnx
run "bench malformed model" 2 "$M" bench $F/not_a_model.onnx
: >"$T/empty.onnx"
run "inspect empty file" 2 "$M" inspect "$T/empty.onnx"
run "predict missing model file" 2 "$M" predict "$T/nope.onnx"
has "missing model names it" err "nope.onnx"
run "predict unsupported op" 3 "$M" predict $F/unsupported_op.onnx
has "unsupported op names it" err "Frobnicate"
run "bench unsupported op" 3 "$M" bench $F/unsupported_op.onnx --seconds 0.01
run "inspect unsupported op" 0 "$M" inspect $F/unsupported_op.onnx
has "inspect shows unsupported" out '"op_type": "Frobnicate", "supported": false}'
has "inspect model not supported" out '"supported": false'

# ---- bad inputs: exit 2 ------------------------------------------------------------------
run "wrong shape" 2 "$M" predict $F/dyn_add.onnx $F/x_2x4.npy y=$F/x_2x5.npy
has "wrong shape message" err "input 'y' expects float32[N,4], got float32[2,5]"
run "wrong fixed shape" 2 "$M" predict $N/test_add_bcast/model.onnx \
  $N/test_add_bcast/test_data_set_0/input_1.pb $N/test_add_bcast/test_data_set_0/input_0.pb
has "wrong fixed shape message" err "input 'x' expects float32[3,4,5], got float32[5]"
run "wrong dtype" 2 "$M" predict $F/dyn_relu.onnx $F/x_2x4_i64.npy
has "wrong dtype message" err "expects float32[N,4], got int64[2,4]"
run "missing input" 2 "$M" predict $F/dyn_add.onnx $F/x_2x4.npy
has "missing input message" err "missing input 'y'"
run "too many inputs" 2 "$M" predict $F/dyn_relu.onnx $F/x_2x4.npy $F/x_2x4.npy
run "input twice" 2 "$M" predict $F/dyn_relu.onnx x=$F/x_2x4.npy x=$F/x_2x4.npy
has "input twice message" err "given twice"
run "missing input file" 2 "$M" predict $F/dyn_relu.onnx "$T/nope.npy"
# a bad input file is bad input (exit 2) in every command, as a missing model is (issue 9 item 6)
mkdir -p "$T/adir"
run "predict input is a directory" 2 "$M" predict $F/dyn_relu.onnx "$T/adir"
run "inspect missing model" 2 "$M" inspect "$T/nope.onnx"
run "inspect model is a directory" 2 "$M" inspect "$T/adir"
run "bench missing model" 2 "$M" bench "$T/nope.onnx" --seconds 0.05
run "batch missing input CSV" 2 "$M" batch --model $F/dyn_relu.onnx --input "$T/nope.csv" --key id --store "sqlite://$T/b.db"
has "batch missing input names it" err "cannot open '$T/nope.csv'"
run "batch missing JSON Lines input" 2 "$M" batch --model $F/dyn_relu.onnx --input "$T/nope.jsonl" --key id --store "sqlite://$T/b.db"
run "batch input is a directory" 2 "$M" batch --model $F/dyn_relu.onnx --input "$T/adir" --key id --store "sqlite://$T/b.db"
has "batch directory message" err "is a directory"
run "batch missing --config" 2 "$M" batch --model $F/dyn_relu.onnx --input "$T/nope.csv" --key id --store "sqlite://$T/b.db" --config "$T/nope.json"
run "features load missing CSV" 2 "$M" features load --store "sqlite://$T/f.db" --table t --key id "$T/nope.csv"
run "features load directory" 2 "$M" features load --store "sqlite://$T/f.db" --table t --key id "$T/adir"
run "misspelt input name" 2 "$M" predict $F/dyn_relu.onnx X=$F/x_2x4.npy
has "misspelt input name message" err "the model has no input 'X' (its inputs: 'x')"
run "nan rejected" 2 "$M" predict $F/dyn_relu.onnx $F/x_2x4_nan.npy
has "nan message" err "NaN"
has "nan message hint" err "--allow-nonfinite"
run "nan allowed" 0 "$M" predict $F/dyn_add.onnx $F/x_2x4_nan.npy $F/x_2x4.npy --allow-nonfinite
has "nan written as null" out '"data":[2,-4,6,-8,-1,0.5,null,14]'
printf '\223NUMPY\001\000\020\000{"descr": 1}   \n' >"$T/bad.npy"
run "malformed npy" 2 "$M" predict $F/dyn_relu.onnx "$T/bad.npy"
has "malformed npy names file" err "bad.npy"
head -c 100 $F/x_2x4.npy >"$T/trunc.npy"
run "truncated npy" 2 "$M" predict $F/dyn_relu.onnx "$T/trunc.npy"
printf '{"inputs": [' >"$T/bad.json"
run "malformed json" 2 "$M" predict $F/dyn_relu.onnx "$T/bad.json"
cat >"$T/nan.json" <<'J'
{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,"NaN",3,4]}]}
J
run "json NaN string" 2 "$M" predict $F/dyn_relu.onnx "$T/nan.json"
has "json NaN message" err "not a number"
cat >"$T/bind.json" <<'J'
{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","data":[1,2,3,4,5,6,7,8]},
           {"name":"y","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}
J
run "symbolic dim binding" 2 "$M" predict $F/dyn_add.onnx "$T/bind.json"
has "symbolic dim message" err "dimension 'N' is 2 in input 'x' but 1 in input 'y'"
cat >"$T/count.json" <<'J'
{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3]}]}
J
run "json wrong count" 2 "$M" predict $F/dyn_relu.onnx "$T/count.json"
cat >"$T/unknown.json" <<'J'
{"inputs":[{"name":"q","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}
J
run "json unknown input" 2 "$M" predict $F/dyn_relu.onnx "$T/unknown.json"
has "json unknown input message" err "no input 'q'"
cat >"$T/badout.json" <<'J'
{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],"outputs":[{"name":"nope"}]}
J
run "json unknown output" 2 "$M" predict $F/dyn_relu.onnx "$T/badout.json"
run "empty stdin" 2 "$M" predict $F/dyn_relu.onnx

# ---- predict: results ----------------------------------------------------------------------
cat >"$T/req.json" <<'J'
{"id": "r1", "inputs": [
  {"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [[1, 2, 3, 4]]},
  {"name": "y", "shape": [1, 4], "datatype": "FP32", "data": [0.5, 0.25, -3, 0.125]}],
 "outputs": [{"name": "z"}]}
J
want='{"model_name":"dyn_add","id":"r1","outputs":[{"name":"z","datatype":"FP32","shape":[1,4],"data":[1.5,2.25,0,4.125]}]}'
run "json request file" 0 "$M" predict $F/dyn_add.onnx "$T/req.json"
same "json request file output" "$T/out" "$want"
run_in "json request on stdin" 0 "$T/req.json" "$M" predict $F/dyn_add.onnx
same "json request on stdin output" "$T/out" "$want"
run_in "json request on stdin (-)" 0 "$T/req.json" "$M" predict $F/dyn_add.onnx -
same "json request on stdin (-) output" "$T/out" "$want"

run "npy in, stdout json" 0 "$M" predict $F/dyn_relu.onnx $F/x_2x4.npy
same "npy in, stdout json output" "$T/out" \
  '{"model_name":"dyn_relu","outputs":[{"name":"y","datatype":"FP32","shape":[2,4],"data":[1,0,3,0,0,0.25,0,7]}]}'
for fmt in npy pb json; do
  run "npy in, $fmt out" 0 "$M" predict $F/dyn_relu.onnx x=$F/x_2x4.npy -o "$T/relu_$fmt" --output-format $fmt
  close "relu $fmt output" "$T/relu_$fmt/output_0.$fmt" $F/relu_2x4.npy
done
# A JSON output file is itself a valid input (OIP tensor object form).
run "json output file as input" 0 "$M" predict $F/dyn_relu.onnx "$T/relu_json/output_0.json" -o "$T/relu2" --output-format npy
close "relu of relu" "$T/relu2/output_0.npy" $F/relu_2x4.npy
# A written .pb is a valid input too.
run "pb output file as input" 0 "$M" predict $F/dyn_relu.onnx "$T/relu_pb/output_0.pb" -o "$T/relu3" --output-format pb
close "relu of relu (pb)" "$T/relu3/output_0.pb" $F/relu_2x4.npy

run "inspect symbolic dims" 0 "$M" inspect $F/dyn_add.onnx
has "inspect symbolic dim" out '"shape": ["N", 4]'
has "inspect op" out '"op_type": "Add", "supported": true'
has "inspect producer" out '"producer": "mlship-fixtures"'
has "inspect ir_version" out '"ir_version": 8'

# ---- ONNX node tests through the CLI -------------------------------------------------------
# Inputs by position (.pb), outputs as pb, npy and json, each compared with output_<i>.pb.
for t in test_add_bcast test_relu test_matmul_2d test_split_equal_parts_1d test_softmax_axis_1 \
         test_transpose_default test_concat_2d_axis_0; do
  d=$N/$t
  [ -d "$d" ] || { skip=$((skip + 1)); continue; }
  "$M" inspect "$d/model.onnx" >"$T/insp" 2>&1
  if ! grep -q '^  "supported": true' "$T/insp"; then skip=$((skip + 1)); continue; fi
  ins=$(ls "$d"/test_data_set_0/input_*.pb | sort -V)
  for fmt in pb npy json; do
    run "$t predict ($fmt)" 0 "$M" predict "$d/model.onnx" $ins -o "$T/$t.$fmt" --output-format $fmt
    for ref in "$d"/test_data_set_0/output_*.pb; do
      i=$(basename "$ref" .pb); i=${i#output_}
      close "$t output $i ($fmt)" "$T/$t.$fmt/output_$i.$fmt" "$ref"
    done
  done
  run "$t inspect" 0 "$M" inspect "$d/model.onnx"
done

# ---- bench -------------------------------------------------------------------------------
run "bench default" 0 "$M" bench $F/dyn_relu.onnx --seconds 0.1 --warmup 2
for k in median_us_per_call p99_us_per_call mean_us_per_call '"calls":' rows_per_s '"batch":1,' '"threads":1,'; do
  has "bench output $k" out "$k"
done
run "bench threads" 0 "$M" bench $F/dyn_add.onnx --batch 8 --threads 2 --seconds 0.1
has "bench threads output" out '"batch":8,"threads":2,'
run "bench threads capped by batch" 0 "$M" bench $F/dyn_relu.onnx --batch 2 --threads 4 --seconds 0.05
has "bench threads capped output" out '"threads":2,'
run "bench --input" 0 "$M" bench $F/dyn_relu.onnx --input $F/x_2x4.npy --batch 5 --threads 2 --seconds 0.05
run "bench --input NAME=FILE" 0 "$M" bench $F/dyn_relu.onnx --input x=$F/x_2x4.npy --seconds 0.05
run "bench --input wrong shape" 2 "$M" bench $F/dyn_relu.onnx --input $F/x_2x5.npy --seconds 0.05
run "bench --batch on fixed shape" 2 "$M" bench $N/test_add_bcast/model.onnx --batch 4 --seconds 0.05
run "bench fixed shape" 0 "$M" bench $N/test_add_bcast/model.onnx --seconds 0.05

# ==== missing and non-finite values (issue 9 item 2; policy: src/predict/pd_check.h) ========
# NaN is a missing value only with --missing nan on a model that defines it; Inf never; a
# non-finite output is refused (exit 2) unless --allow-nonfinite skips the policy.
# References: scikit-learn's and XGBoost's own outputs on the fixtures' NaN rows.
ML=tests/fixtures/ml
run "missing: hgb NaN rows refused by default" 2 "$M" predict $ML/sk_hgb_clf_nan/model.onnx $ML/sk_hgb_clf_nan/input_0.npy
has "missing: refusal names row and feature" err "input 'X': row 1, feature 1 is NaN, a missing value"
has "missing: refusal hint" err "missing = nan"
run "missing: hgb --missing nan" 0 "$M" predict $ML/sk_hgb_clf_nan/model.onnx $ML/sk_hgb_clf_nan/input_0.npy --missing nan -o "$T/hgb" --output-format npy
run "missing: hgb probabilities equal sklearn" 0 $TC --rtol 1e-5 --atol 1e-6 "$T/hgb/output_1.npy" $ML/sk_hgb_clf_nan/output_1.npy
run "missing: hgb labels equal sklearn" 0 $TC "$T/hgb/output_0.npy" $ML/sk_hgb_clf_nan/output_0.npy
run "missing: xgb regressor --missing nan" 0 "$M" predict $ML/xgb_reg_json/model.json $ML/xgb_reg_json/input_0.npy --missing nan -o "$T/xreg" --output-format npy
run "missing: xgb regressor equals xgboost" 0 $TC --rtol 1e-5 --atol 1e-6 "$T/xreg/output_0.npy" $ML/xgb_reg_json/output_0.npy
run "missing: --missing nan on a network" 2 "$M" predict examples/fraud/model.onnx $F/x_2x4.npy --missing nan
has "missing: network refusal" err "model 'fraud' does not define missing values"
run "missing: --missing bogus" 2 "$M" predict $ML/sk_hgb_clf_nan/model.onnx $ML/sk_hgb_clf_nan/input_0.npy --missing zero
cat >"$T/null.json" <<'J'
{"inputs":[{"name":"input","shape":[1,10],"datatype":"FP32","data":[0.5,null,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]}]}
J
run "missing: json null refused by default" 2 "$M" predict $ML/xgb_binary_json/model.json "$T/null.json"
has "missing: json null message" err "row 0, feature 1 is NaN"
run "missing: json null with --missing nan" 0 "$M" predict $ML/xgb_binary_json/model.json "$T/null.json" --missing nan
# the overflow model (tests/fixtures/make_overflow.c): y = x * 1e30 * 1e30 is inf for x = 1
printf '{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1e-30,-1e-30,1,2]}]}' >"$T/ovf.json"
run "missing: non-finite output refused" 2 "$M" predict tests/fixtures/overflow/model.onnx "$T/ovf.json"
has "missing: non-finite output message" err "row 1: output 'y' is not finite"
run "missing: --allow-nonfinite skips the policy" 0 "$M" predict tests/fixtures/overflow/model.onnx "$T/ovf.json" --allow-nonfinite
# float32: fl(fl(fl(1e-30) * fl(1e30)) * fl(1e30)) = 1.0000000150474662e30, the float nearest
# 1e30 (worked in Python's struct), so its shortest round-trip spelling is 1e30
has "missing: raw output with null" out '"data":[1e30,-1e30,null,null]'

if [ "$skip" -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"
else echo "$pass passed, $fail failed"; fi
[ "$fail" -eq 0 ]
