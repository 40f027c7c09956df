#!/bin/sh
# make_corpus.sh OUT_DIR: seed corpora for the fuzz drivers, derived from the ONNX test data
# (nothing binary is kept in the repository). Creates OUT_DIR/corpus_{model,tensor,npy,json,csvnum,predict,v2bin}.
#   corpus_model:  every model.onnx under the test data up to 64 KB, the ai.onnx.ml and
#                  XGBoost fixtures (tests/fixtures/ml/*/model.{onnx,json}) up to 64 KB, and
#                  small hand-written XGBoost model.json files, one per objective
#   corpus_tensor: the first input of every node test up to 16 KB
#   corpus_npy:    .npy files of each supported dtype and a few shapes (numpy when present,
#                  else a handful written by hand)
#   corpus_json:   inference requests covering each datatype and the nested "data" form
#   corpus_csvnum: number spellings and rows of them (pandas' repr, float32 edges, nan/inf)
set -eu
out=${1:-build/fuzz}
data=${MS_TESTDATA:-/usr/share/libonnx-testdata/data}
mkdir -p "$out/corpus_model" "$out/corpus_tensor" "$out/corpus_npy" "$out/corpus_json"
# corpus_manifest starts empty: its seeds are tests/fuzz/regress/manifest
mkdir -p "$out/corpus_manifest"

if [ -d "$data" ]; then
  find "$data" -name model.onnx -size -64k | while read -r f; do
    d=$(dirname "$f"); cp "$f" "$out/corpus_model/$(basename "$(dirname "$d")")_$(basename "$d").onnx"
  done
  find "$data/node" -path '*test_data_set_0/input_0.pb' -size -16k | while read -r f; do
    d=$(dirname "$(dirname "$f")"); cp "$f" "$out/corpus_tensor/$(basename "$d").pb"
  done
else
  echo "make_corpus.sh: $data is absent: model and tensor corpora start empty" >&2
fi
# tree ensembles and the other ai.onnx.ml models, ONNX-ML and XGBoost JSON
here=$(cd "$(dirname "$0")/../.." && pwd)
if [ -d "$here/tests/fixtures/ml" ]; then
  find "$here/tests/fixtures/ml" -name 'model.*' -size -64k | while read -r f; do
    cp "$f" "$out/corpus_model/ml_$(basename "$(dirname "$f")").${f##*.}"
  done
fi

# small XGBoost model.json seeds written by hand, one per objective the loader reads (the
# multi-class fixture is over 64 KB), so the fuzzer mutates the JSON loader's own structure
xgb() { # FILE OBJECTIVE NUM_CLASS BASE_SCORE TREE_INFO TREES
  printf '{"learner":{"gradient_booster":{"model":{"tree_info":[%s],"trees":[%s]},"name":"gbtree"},' "$5" "$6" >"$1"
  printf '"learner_model_param":{"base_score":"%s","num_class":"%s","num_feature":"3","num_target":"1"},' "$4" "$3" >>"$1"
  printf '"objective":{"name":"%s"}},"version":[1,7,4]}' "$2" >>"$1"
}
stump='{"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[%d,0,0],"split_conditions":[%s,%s,%s],"default_left":[%d,0,0],"split_type":[0,0,0]}'
deep='{"left_children":[1,3,-1,-1,-1],"right_children":[2,4,-1,-1,-1],"split_indices":[0,2,0,0,0],"split_conditions":[5E-1,-1.25E0,3E-1,-2E-1,1E-1],"default_left":[1,0,0,0,0]}'
c=$out/corpus_model
xgb "$c/xgb_binary.json" binary:logistic 0 5E-1 0,0 "$(printf "$stump" 0 0.5 -0.4 0.7 1),$deep"
xgb "$c/xgb_reglogistic.json" reg:logistic 0 2.5E-1 0 "$deep"
xgb "$c/xgb_reg.json" reg:squarederror 0 1.5E0 0,0 "$(printf "$stump" 1 -1E0 2E0 -3E0 0),$deep"
xgb "$c/xgb_multi.json" multi:softprob 3 5E-1 0,1,2 \
  "$(printf "$stump" 0 0 1 -1 1),$(printf "$stump" 1 0.25 -2 2 0),$(printf "$stump" 2 1E1 0.5 0.25 1)"

py=$(command -v /usr/bin/python3 || command -v python3 || true)
if [ -n "$py" ] && "$py" -c 'import numpy' 2>/dev/null; then
  "$py" - "$out/corpus_npy" <<'PY'
import sys, numpy as np
out = sys.argv[1]
shapes = [(), (0,), (3,), (2, 3), (1, 2, 1, 2)]
for t in ['<f2', '<f4', '<f8', '<i2', '<i4', '<i8', '<u2', '<u4', '<u8', '|b1', '|i1', '|u1']:
    for k, s in enumerate(shapes):
        n = int(np.prod(s))
        a = (np.arange(n) % 2 == 1) if t == '|b1' else np.arange(n).astype(t)
        np.save('%s/%s_%d.npy' % (out, t[1:], k), a.reshape(s))
np.save(out + '/fortran.npy', np.asfortranarray(np.ones((2, 3), '<f4')))
np.save(out + '/bigendian.npy', np.ones(3, '>f4'))
PY
else
  printf '\223NUMPY\001\000v\000{'"'"'descr'"'"': '"'"'<f4'"'"', '"'"'fortran_order'"'"': False, '"'"'shape'"'"': (2,), }%60s\n' '' > "$out/corpus_npy/f4.npy"
  printf '\000\000\200\077\000\000\000\100' >> "$out/corpus_npy/f4.npy"
fi

j=$out/corpus_json
printf '%s' '{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]}' > "$j/fp32.json"
printf '%s' '{"id":"7","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1.5,-2],[3e-3,4]]}],"outputs":[{"name":"y"}]}' > "$j/nested.json"
printf '%s' '{"inputs":[{"name":"a","shape":[3],"datatype":"INT64","data":[1,-2,9007199254740991]},{"name":"b","shape":[2],"datatype":"BOOL","data":[true,false]}]}' > "$j/two.json"
printf '%s' '{"name":"t","datatype":"UINT8","shape":[1,3],"data":[0,1,255]}' > "$j/tensor.json"
printf '%s' '{"inputs":[{"name":"x","shape":[],"datatype":"FP64","data":[0.1]}],"parameters":{"k":1}}' > "$j/scalar.json"
for t in INT8 INT16 INT32 UINT16 UINT32 UINT64 FP16 BYTES; do
  printf '{"inputs":[{"name":"x","shape":[2],"datatype":"%s","data":[1,2]}]}' "$t" > "$j/$t.json"
done
# CSV numbers: the spellings pandas and repr(float) write, the edges of float32, the forms the
# fast path must hand to strtof, and rows of them
c=$out/corpus_csvnum; mkdir -p "$c"; k=0
for v in 0 -0 1 0.1 -2.5 3.4028235e+38 3.4028236e+38 1e-45 1.4e-45 7e-46 1e400 -1e400 \
         0.30000000000000004 123456789012345678901234567890 1.00000005960464477539 16777217 \
         1e+22 1e23 .5 5. +7 ' 42 ' nan NaN -inf Infinity 0x1p3 1e 1e+ - . '' 1,2,3 \
         '0.1,,2.5e3,-0' '1.7976931348623157e308,2' 'a,1' '9999999999999999,0.000001'; do
  printf '%s' "$v" > "$c/n$k"; k=$((k + 1))
done
printf '\000\000\200\077' > "$c/f_one"; printf '\001\000\000\000' > "$c/f_denorm"
printf '\377\377\177\177' > "$c/f_max"; printf '\000\000\000\200' > "$c/f_negzero"
# /predict bodies: a first byte picking the declared input (low 3 bits: width - 1; 0x08:
# width unknown; 0x10: float64), then the body. The forms the fast path takes, the ones it
# hands over (a bare row, nulls, other keys) and numbers at its edges.
p=$out/corpus_predict; mkdir -p "$p"; k=0
for v in '\002{"features": [1, 2.5, -3e-2]}' '\002[[1,2,3],[4,5,6]]' '\002{"features":[[1,2,3]]}' \
         '\002[1,2,3]' '\002[[1,null,3]]' '\002{"features":[1,2,3],"x":1}' '\000[[0.1],[-0],[1e-45]]' \
         '\000[[3.4028235e38]]' '\000[[3.4028236e38]]' '\000[[1.00000005960464477539]]' '\000[[+1]]' \
         '\000[[.5]]' '\000[[01]]' '\001 [ [ 1 , 2 ] ] ' '\010[[1,2],[3,4]]' '\022[[1,2,3]]' '\002{"features":[]}'; do
  printf "$v" > "$p/p$k"; k=$((k + 1))
done
# V2 bodies: byte 0 (bit 0: send Inference-Header-Content-Length; bit 1: malformed), bytes 1-2
# its value (little-endian), then JSON and binary tensor bytes.
v=$out/corpus_v2bin; mkdir -p "$v"
v2() { # FILE FLAGS JSON [BINARY_OCTAL]
  n=$(printf '%s' "$3" | wc -c)
  printf "\\$(printf '%03o' "$2")\\$(printf '%03o' $((n % 256)))\\$(printf '%03o' $((n / 256)))" > "$1"
  printf '%s' "$3" >> "$1"
  [ -n "${4:-}" ] && printf "$4" >> "$1"
  return 0
}
v2 "$v/bin" 1 '{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","parameters":{"binary_data_size":12}}]}' \
  '\000\000\200\077\000\000\000\100\000\000\100\100'
v2 "$v/binout" 1 '{"id":"a","inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","parameters":{"binary_data_size":12}}],"outputs":[{"name":"y","parameters":{"binary_data":true}}],"parameters":{"binary_data_output":false}}' \
  '\000\000\200\077\000\000\000\100\000\000\100\100'
v2 "$v/mixed" 1 '{"inputs":[{"name":"x","shape":[2],"datatype":"INT64","parameters":{"binary_data_size":16}},{"name":"w","shape":[1],"datatype":"FP64","data":[0.5]}]}' \
  '\001\000\000\000\000\000\000\000\377\377\377\377\377\377\377\377'
v2 "$v/json" 0 '{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}],"outputs":[{"name":"z"}]}'
v2 "$v/short" 1 '{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","parameters":{"binary_data_size":12}}]}' '\000\000'
v2 "$v/badhl" 3 '{"inputs":[]}'
v2 "$v/nohl" 0 '{"inputs":[{"name":"x","shape":[0],"datatype":"UINT8","parameters":{"binary_data_size":0}}]}'
# Stream events: byte 0 bit 0 set: the "json" form (the rest is the one field's value); clear:
# fields as name\0value\0... The forms the parser takes and the poison a queue may carry.
ev=$out/corpus_event; mkdir -p "$ev"; k=0
for s in '\000id\000e1\000key\000c_17\000features\000[0.1, 2.5, 3]' '\000key\000k\000features\0000.1,,2.5e3,nan' \
         '\000features\000{"a": [1, 2], "b": 3.5}' '\000key\000k\000model\000fraud\000ts\000t1' \
         '\000features\000[1,,2]' '\000features\000[[1]]' '\000features\000[+1, .5, 01, 0x1p3, NaN, 1e400]' \
         '\000key\000a\nb' '\000key\000a\000key\000b' '\000junk\000\001\002\377' '\000features\000' \
         '\001{"id": "e2", "key": "c", "features": [1.5, null], "ts": 17}' '\001{"key": "k", "features": "1,2"}' \
         '\001{"key": "k", "features": {"x": [1]}, "extra": [{"a": [true, false]}]}' '\001{"key": 1, "model": 2}' \
         '\001[1, 2]' '\001{"key": "a\u0000b", "features": null}' '\001{"key": "k"} trailing'; do
  printf "$s" > "$ev/e$k"; k=$((k + 1))
done
# Sensor readings: byte 0 the options (bits 0-1 --key-from-topic, bit 2 --key-field dev), then
# TOPIC\nPAYLOAD: the three payload forms and the refusals.
rd=$out/corpus_reading; mkdir -p "$rd"; k=0
for s in '\002sensors/dev7/reading\n{"features": [1.5, 2, 3]}' '\002s/d/r\n{"ts": 17.5, "values": [1, null]}' \
         '\000s/d/r\n1.5,2,,3' '\004t\n{"dev": "p3", "id": "e1", "model": "m", "features": "1,2"}' '\004t\n1,2' \
         '\003a/b\n[1]' '\000t\n{"features": [1], "values": [2]}' '\000t\n{"x": {"features": [1]}}' '\000t\n' \
         '\000t\n{"features": [1]} {}' '\004t\n{"dev": true, "features": [1]}' '\000t\n\001\002\377{'; do
  printf "$s" > "$rd/r$k"; k=$((k + 1))
done
echo "corpus in $out: $(ls "$out/corpus_model" | wc -l) models, $(ls "$out/corpus_tensor" | wc -l) tensors, $(ls "$out/corpus_npy" | wc -l) npy, $(ls "$j" | wc -l) json, $(ls "$c" | wc -l) csvnum, $(ls "$p" | wc -l) predict, $(ls "$v" | wc -l) v2bin, $(ls "$ev" | wc -l) event, $(ls "$rd" | wc -l) reading"
