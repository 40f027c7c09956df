#!/bin/sh
# test_batch.sh: end-to-end tests of `mlship batch` and `mlship lookup`: score generated CSV,
# JSON Lines and SQL inputs into SQLite (and PostgreSQL when MLSHIP_TEST_PG_URL is set, see
# scripts/services.sh), check values against `mlship predict`, bad rows and --max-rejects,
# kill -9 at random points and resume (the published result must equal an uninterrupted run),
# a reader polling during runs never sees a partial run, shards 1/3 2/3 3/3 publish once,
# rollback with `batch publish`, cron schedules, missing and non-finite values (the policy of
# src/predict/pd_check.h, against the fixtures' scikit-learn/XGBoost outputs on NaN rows);
# columns bound by name (reordered, renamed, --features, config.json, XGBoost feature_names)
# and duplicate keys, also across --resume.
# Usage: sh tests/batch/test_batch.sh [path/to/mlship]    Ends with "N passed, N failed[, N skipped]".
cd "$(dirname "$0")/../.." || exit 2
M=${1:-build/mlship}
case $M in /*) ;; *) M=$(pwd)/$M ;; esac
MODEL=$(pwd)/tests/fixtures/ml/sk_gb_clf_binary/model.onnx   # 8 features, label + probabilities
ZMODEL=$(pwd)/tests/fixtures/ml/logreg_binary/model.onnx     # a ZipMap output, if it has one
T=$(mktemp -d) || exit 2
[ -f build/services.env ] && [ -z "$MLSHIP_TEST_PG_URL" ] && . build/services.env
PY=/usr/bin/python3
pass=0; fail=0; skip=0
cleanup() { [ -n "$READER" ] && kill "$READER" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
skipped() { skip=$((skip + 1)); echo "SKIP $*"; }
show() { sed 's/^/    | /' "$1" | head -n 8; }
run() { # NAME WANT_EXIT cmd...
  _name=$1; _want=$2; shift 2
  "$@" >"$T/out" 2>"$T/err" </dev/null; _rc=$?
  if [ "$_rc" -eq "$_want" ]; then ok; else bad "$_name: exit $_rc, expected $_want"; show "$T/err"; show "$T/out"; fi
}
has() { if grep -qF -- "$3" "$T/$2"; then ok; else bad "$1: $2 lacks '$3'"; show "$T/$2"; fi; }
eq()  { if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi; }

if [ ! -x "$M" ]; then echo "FAIL cannot find $M"; echo "0 passed, 1 failed"; exit 1; fi

# gen N FILE [bad]: CSV with key id and features f0..f7 (deterministic); with "bad", three bad
# rows at known lines (a word, a short row, an empty key) and one quoted key with a comma.
gen() {
  awk -v n="$1" -v bad="$3" 'BEGIN { srand(7); printf "id"; for (i = 0; i < 8; i++) printf ",f%d", i; print "";
    for (r = 0; r < n; r++) {
      line = r + 2
      if (bad == "bad" && line == 10)  { print "c" r ",1,2,abc,4,5,6,7,8"; continue }
      if (bad == "bad" && line == 20)  { print "c" r ",1,2,3"; continue }
      if (bad == "bad" && line == 30)  { print ",1,2,3,4,5,6,7,8"; continue }
      if (bad == "bad" && line == 40)  { printf "\"q,%d\"", r } else printf "c%d", r
      for (i = 0; i < 8; i++) { v = rand() * 4 - 2; printf ",%.7g", v }
      print "" } }' > "$2"
}
# outputs FILE: "key<TAB>outputs" lines of a `lookup --all` stream, sorted (run ids dropped)
outputs() { sed -n 's/^{"key":"\([^"]*\)".*"outputs":\(.*\)}$/\1\t\2/p' "$1" | sort; }
count_runs() { sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' "$1" | sort -u | wc -l | tr -d ' '; }

DB=sqlite://$T/s.db

# ---- help and usage ----------------------------------------------------------------------
run "batch --help" 0 "$M" batch --help
has "batch --help" out "usage: mlship batch"
has "batch --help exit status" out "exit status"
run "lookup --help" 0 "$M" lookup --help
has "lookup --help" out "usage: mlship lookup"
run "help batch" 0 "$M" help batch
run "batch no args" 2 "$M" batch
run "batch missing key" 2 "$M" batch --model "$MODEL" --input x.csv
run "batch bad shard" 2 "$M" batch --model "$MODEL" --input x.csv --key id --shard 4/3
run "batch unknown option" 2 "$M" batch --bogus
run "lookup no model" 2 "$M" lookup k1
run "shard without --run" 2 "$M" batch --model "$MODEL" --input /dev/null --key id --shard 1/2 --store "$DB"
has "shard without --run message" err "--shard needs --run"

# ---- a first run: counts, rejects with line numbers, lookups ---------------------------------
gen 5000 "$T/a.csv" bad
run "batch csv" 0 "$M" batch --model "$MODEL" --name gb --input "$T/a.csv" --key id --store "$DB" --chunk 700 --json --threads 2
has "batch json rows_scored" out '"rows_scored":4997'
has "batch json rows_rejected" out '"rows_rejected":3'
has "batch json published" out '"status":"published"'
RUN1=$(sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' "$T/out")
run "rejects" 0 "$M" batch rejects --run "$RUN1" --store "$DB"
has "reject line 10" out '"line":10,"reason":"column '\''f2'\'': value '\''abc'\'' is not a number"'
has "reject line 20" out '"line":20,"reason":"expected 9 fields (the header'\''s), got 4"'
has "reject line 30" out '"line":30,"reason":"key column '\''id'\'' is empty"'
eq "three rejects" "$(wc -l < "$T/out" | tr -d ' ')" 3
run "lookup keys" 4 "$M" lookup --store "$DB" --model gb c0 c4998 "q,38" nope
has "lookup c0" out '{"key":"c0","model":"gb"'
has "lookup quoted key" out '{"key":"q,38"'
has "lookup unknown" out '{"key":"nope","found":false}'
has "lookup run id" out "\"run_id\":\"$RUN1\""
eq "lookup lines" "$(wc -l < "$T/out" | tr -d ' ')" 4
# a wrong store path or model name is an error, not "not found" for every key (issue 9 item 6)
run "lookup: missing store file" 2 "$M" lookup --store "sqlite://$T/typo.db" --model gb c0
has "lookup: missing store file message" err "model 'gb' has no published run in sqlite://$T/typo.db"
[ ! -e "$T/typo.db" ] && ok || bad "lookup created the store file it was given by mistake"
run "lookup: unknown model" 2 "$M" lookup --store "$DB" --model gbtypo c0
has "lookup: unknown model message" err "model 'gbtypo' has no published run in $DB"
eq "lookup: unknown model prints no rows" "$(wc -l < "$T/out" | tr -d ' ')" 0
run "lookup --all: unknown model" 2 "$M" lookup --store "$DB" --model gbtypo --all
run "batch runs: missing store file" 2 "$M" batch runs --name gb --store "sqlite://$T/typo.db"
[ ! -e "$T/typo.db" ] && ok || bad "batch runs created the store file"
run "lookup found all" 0 "$M" lookup --store "$DB" --model gb c0 c1
run "lookup --all" 0 "$M" lookup --store "$DB" --model gb --all
eq "lookup --all count" "$(wc -l < "$T/out" | tr -d ' ')" 4997
cp "$T/out" "$T/all1"

# ---- values equal `mlship predict` on the same rows ------------------------------------------
if [ -x "$PY" ]; then
  sed -n '3,9p' "$T/a.csv" > "$T/rows8"   # lines 3..9: good rows without missing values
  "$PY" - "$T/rows8" "$T/req.json" <<'EOF'
import json, sys
rows = [l.strip().split(",") for l in open(sys.argv[1])]
data = [float(v) if v else float("nan") for r in rows for v in r[1:]]
json.dump({"inputs": [{"name": "X", "shape": [len(rows), 8], "datatype": "FP32", "data": data}]}, open(sys.argv[2], "w"))
EOF
  "$M" predict "$MODEL" "$T/req.json" > "$T/pred.json" 2>"$T/err"
  "$M" lookup --store "$DB" --model gb $(cut -d, -f1 "$T/rows8") > "$T/look8"
  if "$PY" - "$T/pred.json" "$T/look8" <<'EOF'
import json, sys
pred = json.load(open(sys.argv[1]))
out = {o["name"]: o["data"] for o in pred["outputs"]}
look = [json.loads(l) for l in open(sys.argv[2])]
for i, l in enumerate(look):
    o = l["outputs"]
    assert o["label"] == out["label"][i], (i, o, out["label"][i])
    for k in range(2):
        a, b = o["probabilities"][k], out["probabilities"][2 * i + k]
        assert abs(a - b) <= 1e-7 * max(1, abs(b)), (i, a, b)
EOF
  then ok; else bad "batch outputs differ from mlship predict"; fi
else
  skipped "predict comparison (no /usr/bin/python3)"
fi

# ---- JSON Lines and SQL inputs give the same outputs ----------------------------------------
gen 3000 "$T/b.csv"
run "batch b.csv" 0 "$M" batch --model "$MODEL" --name gbb --input "$T/b.csv" --key id --store "$DB" --chunk 500
"$M" lookup --store "$DB" --model gbb --all > "$T/b_csv"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; next }
  { printf "{"; for (i = 1; i <= NF; i++) { if (i > 1) printf ","; if (i == 1) printf "\"%s\":\"%s\"", h[i], $i;
    else if ($i == "") printf "\"%s\":null", h[i]; else printf "\"%s\":%s", h[i], $i } print "}" }' "$T/b.csv" > "$T/b.jsonl"
run "batch jsonl" 0 "$M" batch --model "$MODEL" --name gbj --input "$T/b.jsonl" --key id --store "$DB" --chunk 500
"$M" lookup --store "$DB" --model gbj --all > "$T/b_jsonl"
if [ "$(outputs "$T/b_csv" | md5sum)" = "$(outputs "$T/b_jsonl" | md5sum)" ]; then ok; else bad "jsonl outputs differ from csv"; fi
sqlite3 "$T/s.db" "CREATE TABLE feats (id TEXT, f0 REAL, f1 REAL, f2 REAL, f3 REAL, f4 REAL, f5 REAL, f6 REAL, f7 REAL);" 2>"$T/err" &&
  sqlite3 -csv "$T/s.db" ".import --skip 1 $T/b.csv feats" 2>>"$T/err" &&
  sqlite3 "$T/s.db" "UPDATE feats SET f3 = NULL WHERE f3 = '';"
run "batch sql" 0 "$M" batch --model "$MODEL" --name gbs --input "sql:SELECT * FROM feats ORDER BY id" --key id --store "$DB" --chunk 500
"$M" lookup --store "$DB" --model gbs --all > "$T/b_sql"
# SQLite hands REAL columns back as %.15g-ish text, so compare labels and 6 digits
if [ "$(outputs "$T/b_csv" | cut -c1-40 | md5sum)" = "$(outputs "$T/b_sql" | cut -c1-40 | md5sum)" ] &&
   [ "$(wc -l < "$T/b_sql")" -eq 3000 ]; then ok; else bad "sql outputs differ from csv"; fi

# ---- a ZipMap model stores label -> probability objects -------------------------------------
if [ -f "$ZMODEL" ] && "$M" inspect "$ZMODEL" 2>/dev/null | grep -q '"label_map"\|ZipMap'; then
  ZF=$("$M" inspect "$ZMODEL" | sed -n 's/.*"name": "X".*"shape": \[null, \([0-9]*\)\].*/\1/p' | head -n 1)
  awk -v f="${ZF:-4}" 'BEGIN { srand(3); printf "id"; for (i = 0; i < f; i++) printf ",x%d", i; print "";
    for (r = 0; r < 50; r++) { printf "k%d", r; for (i = 0; i < f; i++) printf ",%.5f", rand(); print "" } }' > "$T/z.csv"
  run "batch zipmap" 0 "$M" batch --model "$ZMODEL" --name zm --input "$T/z.csv" --key id --store "$DB"
  run "lookup zipmap" 0 "$M" lookup --store "$DB" --model zm k1
  if grep -q '"outputs":{[^}]*{"[^"]*":' "$T/out"; then ok; else bad "zipmap output is not a label object"; show "$T/out"; fi
else
  skipped "zipmap (no ZipMap fixture)"
fi

# ---- --max-rejects fails the run; it is never published ------------------------------------
run "max-rejects" 2 "$M" batch --model "$MODEL" --name gb --input "$T/a.csv" --key id --store "$DB" --max-rejects 2 --chunk 700
has "max-rejects message" err "more than --max-rejects 2"
"$M" lookup --store "$DB" --model gb --all > "$T/all2"
if [ "$(count_runs "$T/all2")" = 1 ] && grep -q "\"run_id\":\"$RUN1\"" "$T/all2"; then ok; else bad "failed run became visible"; fi
run "runs list" 0 "$M" batch runs --name gb --store "$DB"
has "runs list shows failed" out '"status":"failed"'
run "max-rejects 3 is fine" 0 "$M" batch --model "$MODEL" --name gb --input "$T/a.csv" --key id --store "$DB" --max-rejects 3 --chunk 700

# ---- stop part way: the old run serves; --resume finishes; --resume again says so ------------
gen 20000 "$T/c.csv"
run "reference run" 0 "$M" batch --model "$MODEL" --name ref --input "$T/c.csv" --key id --store "$DB" --chunk 1000
"$M" lookup --store "$DB" --model ref --all > "$T/ref_all"
run "first complete run" 0 "$M" batch --model "$MODEL" --name kk --input "$T/c.csv" --key id --store "$DB" --chunk 1000 --json
OLD=$(sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' "$T/out")
run "stopped run" 1 "$M" batch --model "$MODEL" --name kk --input "$T/c.csv" --key id --store "$DB" --chunk 1000 --stop-after 3
has "stopped run resumable" err "resumable"
"$M" lookup --store "$DB" --model kk --all > "$T/k1"
if [ "$(count_runs "$T/k1")" = 1 ] && grep -q "\"run_id\":\"$OLD\"" "$T/k1"; then ok; else bad "stopped run visible"; fi
run "resume with another chunk size keeps the run's" 0 "$M" batch --model "$MODEL" --name kk --input "$T/c.csv" --key id --store "$DB" --chunk 333 --resume --json
has "resume started at chunk 3" out '"resumed_at_chunk":3'
has "resume published" out '"status":"published"'
run "resume when complete" 0 "$M" batch --model "$MODEL" --name kk --input "$T/c.csv" --key id --store "$DB" --resume
has "resume when complete says so" out "already published"
gen 20001 "$T/c2.csv"
run "stop again" 1 "$M" batch --model "$MODEL" --name kk --input "$T/c.csv" --key id --store "$DB" --chunk 1000 --stop-after 2
# a new input under --resume (a timer's next day) fails the stale run and starts a new one
run "resume on a changed input" 0 "$M" batch --model "$MODEL" --name kk --input "$T/c2.csv" --key id --store "$DB" --resume --json
has "changed input message" err "different input"
has "changed input is a new run" out '"resumed_at_chunk":-1,'
has "changed input published" out '"rows_scored":20001'
run "resume when the input changed after completion" 0 "$M" batch --model "$MODEL" --name kk --input "$T/c.csv" --key id --store "$DB" --resume --json
has "new input after a complete run starts a new run" out '"rows_scored":20000'
run "the same input again is a no-op" 0 "$M" batch --model "$MODEL" --name kk --input "$T/c.csv" --key id --store "$DB" --resume
has "no-op says so" out "already published"
run "stop with --run" 1 "$M" batch --model "$MODEL" --name kk --input "$T/c.csv" --key id --store "$DB" --run fixed-1 --stop-after 1
run "--run resume on a changed input refuses" 2 "$M" batch --model "$MODEL" --name kk --input "$T/c2.csv" --key id --store "$DB" --run fixed-1 --resume
has "refusal message" err "different input"
run "--run resume on the same input" 0 "$M" batch --model "$MODEL" --name kk --input "$T/c.csv" --key id --store "$DB" --run fixed-1 --resume

# ---- kill -9 at random points, many times, with a reader polling ----------------------------
# A bigger input (60,000 rows, chunks of 500) so that kills land mid-run. A first complete run is
# published; then runs are started and killed at random moments (a new run when the previous
# one happened to finish, else --resume), and a last --resume finishes. The reader checks every
# snapshot it takes meanwhile: every probed key found, all from one run.
gen 60000 "$T/k.csv"
run "kill reference" 0 "$M" batch --model "$MODEL" --name kref --input "$T/k.csv" --key id --store "$DB" --chunk 500
"$M" lookup --store "$DB" --model kref --all > "$T/kref_all"
run "kill first run" 0 "$M" batch --model "$MODEL" --name kx --input "$T/k.csv" --key id --store "$DB" --chunk 500
# keys spread over every chunk of the input; each snapshot must find all of them in one run
awk 'BEGIN { for (r = 0; r < 60000; r += 97) print "c" r }' > "$T/rkeys"
( n=0; while [ ! -f "$T/stop_reader" ]; do
    "$M" lookup --store "$DB" --model kx - < "$T/rkeys" > "$T/snap" 2>/dev/null
    c=$(grep -c '"outputs"' "$T/snap"); r=$(count_runs "$T/snap")
    if [ "$c" != "$(wc -l < "$T/rkeys" | tr -d ' ')" ] || [ "$r" != 1 ]; then echo "partial: $c rows, $r runs" >> "$T/reader_bad"; fi
    n=$((n + 1)); echo $n > "$T/reader_n"
  done ) &
READER=$!
kills=0; i=0; resume=""
while [ $i -lt 15 ]; do
  "$M" batch --model "$MODEL" --name kx --input "$T/k.csv" --key id --store "$DB" --chunk 500 --threads 2 $resume --no-progress > "$T/kout" 2>&1 &
  pid=$!
  sleep "$(awk -v s="$i" 'BEGIN { srand(s * 7919 + 1); printf "%.3f", 0.01 + rand() * 0.25 }')"
  if kill -9 $pid 2>/dev/null; then kills=$((kills + 1)); resume=--resume; else resume=""; fi
  wait $pid 2>/dev/null
  i=$((i + 1))
done
run "final resume after kills" 0 "$M" batch --model "$MODEL" --name kx --input "$T/k.csv" --key id --store "$DB" --chunk 500 --resume --json
touch "$T/stop_reader"; wait "$READER" 2>/dev/null; READER=
echo "    ($kills kill -9s landed mid-run; the reader took $(cat "$T/reader_n" 2>/dev/null || echo 0) snapshots)"
if [ "$kills" -ge 5 ]; then ok; else bad "only $kills kills landed mid-run"; fi
if [ ! -f "$T/reader_bad" ]; then ok; else bad "reader saw a partial run: $(head -n 3 "$T/reader_bad")"; fi
if [ "$(cat "$T/reader_n" 2>/dev/null || echo 0)" -ge 5 ]; then ok; else bad "reader took too few snapshots"; fi
"$M" lookup --store "$DB" --model kx --all > "$T/k_all"
eq "one prediction per key after kills" "$(cut -d, -f1 "$T/k_all" | sort -u | wc -l | tr -d ' ')" 60000
if [ "$(outputs "$T/k_all" | md5sum)" = "$(outputs "$T/kref_all" | md5sum)" ]; then ok; else bad "resumed result differs from the uninterrupted run"; fi
eq "published run is one run" "$(count_runs "$T/k_all")" 1
"$M" batch runs --name kx --store "$DB" > "$T/kruns"
if grep -q '"status":"running"' "$T/kruns"; then bad "a killed run was left running after the final resume"; show "$T/kruns"; else ok; fi

# ---- rollback with batch publish --------------------------------------------------------
# (--keep 3 pruned the first runs of kk by now: roll back to the newest complete one)
OLD=$("$M" batch runs --name kk --store "$DB" | grep '"status":"complete"' | head -n 1 | sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p')
run "rollback" 0 "$M" batch publish --run "$OLD" --store "$DB"
"$M" lookup --store "$DB" --model kk c1 > "$T/rb"
has "rollback serves the old run" rb "\"run_id\":\"$OLD\""
run "publish unknown run" 2 "$M" batch publish --run nosuchrun --store "$DB"

# ---- --keep prunes older runs -----------------------------------------------------------
# --keep N keeps N finished runs besides the published one (the store's st_runs_prune)
run "keep 1" 0 "$M" batch --model "$MODEL" --name gbb --input "$T/b.csv" --key id --store "$DB" --keep 1
"$M" batch runs --name gbb --store "$DB" > "$T/runs"
eq "keep 1 leaves the published run and one more" "$(wc -l < "$T/runs" | tr -d ' ')" 2

# ---- shards 1/3 2/3 3/3, in parallel, publish once ---------------------------------------
shards() { # STORE_URL NAME
  for k in 1 2 3; do
    "$M" batch --model "$MODEL" --name "$2" --input "$T/c.csv" --key id --store "$1" --chunk 1000 \
      --shard $k/3 --run shardrun-$2 --json > "$T/sh$k" 2>"$T/sherr$k" &
  done
  wait
  st=0; for k in 1 2 3; do grep -q '"status":"published"' "$T/sh$k" && st=$((st + 1)); done
  eq "shards ($2): exactly one publishes" "$st" 1
  cm=0; for k in 1 2 3; do grep -q '"status":"complete"' "$T/sh$k" && cm=$((cm + 1)); done
  eq "shards ($2): two wait for the others" "$cm" 2
  "$M" lookup --store "$1" --model "$2" --all > "$T/sh_all"
  eq "shards ($2): every key once" "$(wc -l < "$T/sh_all" | tr -d ' ')" 20000
  if [ "$(outputs "$T/sh_all" | md5sum)" = "$(outputs "$T/ref_all" | md5sum)" ]; then ok; else bad "shards ($2): outputs differ"; fi
  sum=0; for k in 1 2 3; do s=$(sed -n 's/.*"rows_scored":\([0-9]*\).*/\1/p' "$T/sh$k"); sum=$((sum + s)); done
  eq "shards ($2): rows split" "$sum" 20000
}
shards "$DB" shd

# ---- progress bar and summary line ------------------------------------------------------
run "progress forced" 0 "$M" batch --model "$MODEL" --name gbb --input "$T/b.csv" --key id --store "$DB" --progress --chunk 200
has "progress bar" err "rows/s"
has "summary line" out "rows scored"

# ---- cron schedules ---------------------------------------------------------------------
# 2025-01-01T00:00:00Z = 1735689600 (a Wednesday)
run "cron daily" 0 "$M" batch next-runs "0 2 * * *" --from 1735689600 --utc --count 2
eq "cron daily" "$(tr '\n' ' ' < "$T/out")" "2025-01-01T02:00:00Z 1735696800 2025-01-02T02:00:00Z 1735783200 "
run "cron step" 0 "$M" batch next-runs "*/15 9-10 * * *" --from 1735689600 --utc --count 3
eq "cron step" "$(cut -d' ' -f1 "$T/out" | tr '\n' ' ')" "2025-01-01T09:00:00Z 2025-01-01T09:15:00Z 2025-01-01T09:30:00Z "
run "cron dom or dow" 0 "$M" batch next-runs "0 0 1 * mon" --from 1735689600 --utc --count 3
eq "cron dom or dow" "$(cut -d' ' -f1 "$T/out" | tr '\n' ' ')" "2025-01-06T00:00:00Z 2025-01-13T00:00:00Z 2025-01-20T00:00:00Z "
run "cron names" 0 "$M" batch next-runs "30 6 * feb sun" --from 1735689600 --utc --count 1
eq "cron names" "$(cut -d' ' -f1 "$T/out")" "2025-02-02T06:30:00Z"
run "cron @weekly" 0 "$M" batch next-runs "@weekly" --from 1735689600 --utc --count 1
eq "cron @weekly" "$(cut -d' ' -f1 "$T/out")" "2025-01-05T00:00:00Z"
run "cron leap day" 0 "$M" batch next-runs "0 0 29 2 *" --from 1735689600 --utc --count 1
eq "cron leap day" "$(cut -d' ' -f1 "$T/out")" "2028-02-29T00:00:00Z"
run "cron bad field" 2 "$M" batch next-runs "61 * * * *"
has "cron bad field message" err "minute field"
run "cron four fields" 2 "$M" batch next-runs "0 2 * *"
run "cron never" 2 "$M" batch next-runs "0 0 31 2 *"

# ==== missing and non-finite values (issue 9 item 2; policy: src/predict/pd_check.h) =# One policy: a missing value (empty cell, nan) is NaN only with --missing nan on a model that
# defines it; +-inf and 1e400 always reject the row; a non-finite output is never published.
# References are the frameworks' own outputs on their NaN rows (tests/fixtures/ml/*/output_*.npy).
NN=$(pwd)/examples/fraud/model.onnx
HGB=$(pwd)/tests/fixtures/ml/sk_hgb_clf_nan
XGB=$(pwd)/tests/fixtures/ml/xgb_binary_json
XREG=$(pwd)/tests/fixtures/ml/xgb_reg_json
NPYR="$PY $(pwd)/tests/batch/npy_rows.py"
# a network: lines 7..12 hold an empty cell, nan, NaN, inf, -inf, 1e400 in column f1
head -n 6 examples/fraud/features.csv > "$T/nn.csv"
awk -F, -v OFS=, 'BEGIN { split(",nan,NaN,inf,-inf,1e400", bad, ",") }
  NR >= 2 && NR <= 7 { $1 = "bad" (NR + 5); $3 = bad[NR - 1]; print }' examples/fraud/features.csv >> "$T/nn.csv"
run "missing: nn batch" 0 "$M" batch --model "$NN" --name nnm --input "$T/nn.csv" --key customer_id --store "$DB" --json
has "missing: nn scored" out '"rows_scored":5,"rows_rejected":6'
has "missing: nn by reason" out '"rejected_by_reason":{"missing":3,"not_finite":3,"output_not_finite":0,"other":0}'
NNRUN=$(sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' "$T/out")
run "missing: nn rejects" 0 "$M" batch rejects --run "$NNRUN" --store "$DB"
has "missing: empty cell line 7" out '"line":7,"reason":"column '\''f1'\'' is empty (this model does not define missing values)"'
has "missing: nan line 8" out '"line":8,"reason":"column '\''f1'\'': value '\''nan'\'' is NaN'
has "missing: NaN line 9" out '"line":9,"reason":"column '\''f1'\'': value '\''NaN'\'' is NaN'
has "missing: inf line 10" out '"line":10,"reason":"column '\''f1'\'': value '\''inf'\'' is not finite"'
has "missing: -inf line 11" out '"line":11,"reason":"column '\''f1'\'': value '\''-inf'\'' is not finite"'
has "missing: 1e400 line 12" out '"line":12,"reason":"column '\''f1'\'': value '\''1e400'\'' is out of range"'
"$M" lookup --store "$DB" --model nnm --all > "$T/nn_all"
eq "missing: nn published rows" "$(wc -l < "$T/nn_all" | tr -d ' ')" 5
if grep -q '"key":"bad\|null' "$T/nn_all"; then bad "missing: a rejected row or a null was published"; show "$T/nn_all"; else ok; fi
run "missing: nn summary line" 0 "$M" batch --model "$NN" --name nnm2 --input "$T/nn.csv" --key customer_id --store "$DB"
has "missing: summary counts" out "5 rows scored, 6 rejected (3 missing, 3 not finite)"
run "missing: --missing nan on a network" 2 "$M" batch --model "$NN" --name nnm3 --input "$T/nn.csv" --key customer_id --store "$DB" --missing nan
has "missing: network refusal names the model" err "model 'nnm3' does not define missing values"
run "missing: --missing bogus" 2 "$M" batch --model "$NN" --input "$T/nn.csv" --key customer_id --store "$DB" --missing zero
if [ -x "$PY" ]; then
  # scikit-learn HistGradientBoosting with NaN directions: refused by default, scored with
  # --missing nan exactly as scikit-learn scored the same rows
  $NPYR csv "$HGB/input_0.npy" "$T/hgb.csv"
  HNAN=$($NPYR nanrows "$HGB/input_0.npy")
  run "missing: hgb default" 0 "$M" batch --model "$HGB/model.onnx" --name hgbr --input "$T/hgb.csv" --key id --store "$DB" --json
  has "missing: hgb rows with NaN rejected" out "\"rows_scored\":$((200 - HNAN)),\"rows_rejected\":$HNAN"
  has "missing: hgb all for missing" out "\"rejected_by_reason\":{\"missing\":$HNAN,"
  "$M" lookup --store "$DB" --model hgbr --all > "$T/hgbr_all"
  eq "missing: hgb good rows equal sklearn" "$($NPYR compare "$T/hgbr_all" probabilities "$HGB/output_1.npy" 2>&1)" $((200 - HNAN))
  run "missing: hgb --missing nan" 0 "$M" batch --model "$HGB/model.onnx" --name hgbn --input "$T/hgb.csv" --key id --store "$DB" --json --missing nan
  has "missing: hgb all scored" out '"rows_scored":200,"rows_rejected":0'
  "$M" lookup --store "$DB" --model hgbn --all > "$T/hgbn_all"
  eq "missing: hgb NaN rows equal sklearn (probabilities)" "$($NPYR compare "$T/hgbn_all" probabilities "$HGB/output_1.npy" 2>&1)" 200
  eq "missing: hgb NaN rows equal sklearn (labels)" "$($NPYR compare "$T/hgbn_all" label "$HGB/output_0.npy" 2>&1)" 200
  # XGBoost model.json (default_left), a classifier and a regressor, with an inf row added:
  # inf is refused even with --missing nan
  for case in xgb_binary_json:xgbn:probabilities xgb_reg_json:xregn:predictions; do
    d=$(pwd)/tests/fixtures/ml/${case%%:*}; rest=${case#*:}; name=${rest%%:*}; out=${rest#*:}
    $NPYR csv "$d/input_0.npy" "$T/$name.csv"
    printf 'inf1,inf%s\n' "$(printf ',0%.0s' 1 2 3 4 5 6 7 8 9)" >> "$T/$name.csv"
    run "missing: $name --missing nan" 0 "$M" batch --model "$d/model.json" --name "$name" --input "$T/$name.csv" --key id --store "$DB" --json --missing nan
    has "missing: $name counts" out '"rows_scored":200,"rows_rejected":1,"rows_duplicate":0,"resumed_at_chunk":-1'
    has "missing: $name inf refused" out '"not_finite":1'
    "$M" lookup --store "$DB" --model "$name" --all > "$T/${name}_all"
    eq "missing: $name NaN rows equal xgboost ($out)" "$($NPYR compare "$T/${name}_all" "$out" "$d/output_0.npy" 2>&1)" 200
  done
else
  skipped "missing-value cases against the fixtures' references (no /usr/bin/python3)"
fi
# a model whose output overflows (tests/fixtures/make_overflow.c: y = x * 1e30 * 1e30)
printf 'id,a,b\nsmall,1e-30,-1e-30\nbig,1,2\nhalf,1e-30,1\n' > "$T/ovf.csv"
run "missing: overflow batch" 0 "$M" batch --model "$(pwd)/tests/fixtures/overflow/model.onnx" --name ovf --input "$T/ovf.csv" --key id --store "$DB" --json
has "missing: overflow counts" out '"rows_scored":1,"rows_rejected":2'
has "missing: overflow by reason" out '"output_not_finite":2'
OVRUN=$(sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' "$T/out")
run "missing: overflow rejects" 0 "$M" batch rejects --run "$OVRUN" --store "$DB"
has "missing: overflow reason line 3" out '"line":3,"reason":"output '\''y'\'' is not finite"'
has "missing: overflow reason line 4" out '"line":4,"reason":"output '\''y'\'' is not finite"'
run "missing: overflow lookup (exit 4: a key not found)" 4 "$M" lookup --store "$DB" --model ovf small big
has "missing: overflow finite row published" out '{"key":"small","model":"ovf"'
has "missing: overflow row not published" out '{"key":"big","found":false}'
# ---- binding columns by name, duplicate keys (issue 9 item 3) -------------------------------
# Reference: XGBoost's own predictions (tests/fixtures/batch/xgb_named/expected.csv, written by
# tests/fixtures/make_named.py) for rows.csv; model.json names its features, model_unnamed.json
# is the same booster without names.
XF=$(pwd)/tests/fixtures/batch/xgb_named
# probs_match STORE MODEL: the published run holds XGBoost's probability for each of the 60 rows
probs_match() {
  "$M" lookup --store "$1" --model "$2" --all > "$T/pm"
  awk -F, 'NR == FNR { if (FNR > 1) want[$1] = $2; next }
    { k = $0; sub(/^\{"key":"/, "", k); sub(/".*/, "", k); p = $0; sub(/.*"probabilities":\[/, "", p); sub(/\].*/, "", p)
      n++; d = p - want[k]; if (d < 0) d = -d; if (!(k in want) || d > 1e-6) miss++ }
    END { exit !(n == 60 && miss == 0) }' "$XF/expected.csv" "$T/pm"
}
# the same rows with the columns shuffled, the key in the middle and an extra column
awk -F, -v OFS=, '{ e = NR == 1 ? "note" : "n" NR; print $7, $1, $6, e, $4, $3, $5, $2 }' "$XF/rows.csv" > "$T/re.csv"
run "named model, file order" 0 "$M" batch --model "$XF/model.json" --name xn --input "$XF/rows.csv" --key id --store "$DB" --json
has "named model binds by name" out '"bound_by":"name"'
if probs_match "$DB" xn; then ok; else bad "named model: predictions differ from XGBoost's"; fi
run "named model, reordered columns" 0 "$M" batch --model "$XF/model.json" --name xr --input "$T/re.csv" --key id --store "$DB" --json
has "reordered: bound by the model's feature_names" out "the model's feature_names"
if probs_match "$DB" xr; then ok; else bad "reordered columns: predictions differ from XGBoost's"; fi
# the reorder matters: taken by position the same file scores differently (the old behaviour)
awk -F, -v OFS=, '{ print $1, $7, $6, $5, $4, $3, $2 }' "$XF/rows.csv" > "$T/rev.csv"
run "unnamed model, reversed columns, by position" 0 "$M" batch --model "$XF/model_unnamed.json" --name xp --input "$T/rev.csv" --key id --store "$DB"
if probs_match "$DB" xp; then bad "a wrong column order gave XGBoost's predictions: the check cannot fail"; else ok; fi
run "unnamed model, file order" 0 "$M" batch --model "$XF/model_unnamed.json" --name xu --input "$XF/rows.csv" --key id --store "$DB"
has "positional fallback is said" out "bound by position: columns 2..7 of rows.csv as the 6 features"
if probs_match "$DB" xu; then ok; else bad "positional binding in file order differs from XGBoost's"; fi
run "positional with the key in the middle" 2 "$M" batch --model "$XF/model_unnamed.json" --name xu2 --input "$T/re.csv" --key id --store "$DB"
has "positional count mismatch names --features" err "--features"
run "--features on a reordered file" 0 "$M" batch --model "$XF/model_unnamed.json" --name xf --input "$T/re.csv" --key id --store "$DB" --features amount,age,score,tenure,visits,ratio --json
has "--features binds by name" out '"bound_by":"name"'
if probs_match "$DB" xf; then ok; else bad "--features: predictions differ from XGBoost's"; fi
# config.json next to the model, in a repository's <name>/config.json, and --config FILE
mkdir -p "$T/cm" "$T/repo/xc/3"
cp "$XF/model_unnamed.json" "$T/cm/model.json"; cp "$XF/model_unnamed.json" "$T/repo/xc/3/model.json"
echo '{"features":{"table":"t","key":"id","columns":["amount","age","score","tenure","visits","ratio"]}}' > "$T/cm/config.json"
cp "$T/cm/config.json" "$T/repo/xc/config.json"
run "config.json next to the model" 0 "$M" batch --model "$T/cm/model.json" --name xcfg --input "$T/re.csv" --key id --store "$DB" --json
has "config.json named in the binding" out "features.columns of $T/cm/config.json"
if probs_match "$DB" xcfg; then ok; else bad "config.json columns: predictions differ from XGBoost's"; fi
run "repository config.json" 0 "$M" batch --model "$T/repo/xc/3/model.json" --input "$T/re.csv" --key id --store "$DB"
if probs_match "$DB" xc; then ok; else bad "repository config.json: predictions differ from XGBoost's"; fi
echo '{"features":{"columns":["ratio","visits","tenure","score","age","amount"]}}' > "$T/wrong.json"
run "--config FILE" 0 "$M" batch --model "$XF/model_unnamed.json" --name xcf --input "$T/re.csv" --key id --store "$DB" --config "$T/cm/config.json"
if probs_match "$DB" xcf; then ok; else bad "--config: predictions differ from XGBoost's"; fi
run "--config with the wrong order is honoured" 0 "$M" batch --model "$XF/model_unnamed.json" --name xcw --input "$T/re.csv" --key id --store "$DB" --config "$T/wrong.json"
if probs_match "$DB" xcw; then bad "--config columns were ignored"; else ok; fi
run "--features wins over --config" 0 "$M" batch --model "$XF/model_unnamed.json" --name xfw --input "$T/re.csv" --key id --store "$DB" --config "$T/wrong.json" --features amount,age,score,tenure,visits,ratio
if probs_match "$DB" xfw; then ok; else bad "--features did not override config.json"; fi
run "--config missing file" 2 "$M" batch --model "$XF/model_unnamed.json" --name xcm --input "$T/re.csv" --key id --store "$DB" --config "$T/nope.json"
echo '{"features":{"columns":"amount"}}' > "$T/badcfg.json"
run "--config bad columns" 2 "$M" batch --model "$XF/model_unnamed.json" --name xcm --input "$T/re.csv" --key id --store "$DB" --config "$T/badcfg.json"
has "--config bad columns message" err "features.columns"
# a renamed or missing column is refused before scoring, naming it and what the source has
sed '1s/amount/amt/; 1s/visits/visit_count/' "$XF/rows.csv" > "$T/ren.csv"
run "renamed columns" 2 "$M" batch --model "$XF/model.json" --name xren --input "$T/ren.csv" --key id --store "$DB"
has "renamed: names both missing columns" err "no columns 'amount', 'visits'"
has "renamed: lists the source's columns" err "it has: id, amt, age, score, tenure, visit_count, ratio"
"$M" batch runs --name xren --store "$DB" > "$T/xren_runs"
eq "renamed: no run was started" "$(wc -l < "$T/xren_runs" | tr -d ' ')" 0
run "--features naming a missing column" 2 "$M" batch --model "$XF/model_unnamed.json" --name xm --input "$XF/rows.csv" --key id --store "$DB" --features amount,age,score,tenure,visits,colour
has "--features missing column named" err "no column 'colour' (named by --features)"
run "--features with the wrong count" 2 "$M" batch --model "$XF/model.json" --name xm --input "$XF/rows.csv" --key id --store "$DB" --features amount,age
# JSON Lines keys and SQL columns in another order bind by name too
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; next }
  { printf "{"; for (i = 1; i <= NF; i++) { if (i > 1) printf ","; if (h[i] == "id" || h[i] == "note") printf "\"%s\":\"%s\"", h[i], $i; else printf "\"%s\":%s", h[i], $i } print "}" }' "$T/re.csv" > "$T/re.jsonl"
run "jsonl reordered keys" 0 "$M" batch --model "$XF/model.json" --name xj --input "$T/re.jsonl" --key id --store "$DB"
if probs_match "$DB" xj; then ok; else bad "jsonl reordered: predictions differ from XGBoost's"; fi
sqlite3 "$T/s.db" ".import --csv $T/re.csv named_feats" 2>"$T/err"
run "sql reordered columns" 0 "$M" batch --model "$XF/model.json" --name xs --input "sql:SELECT * FROM named_feats ORDER BY id" --key id --store "$DB"
if probs_match "$DB" xs; then ok; else bad "sql reordered: predictions differ from XGBoost's"; fi
run "sql lacking a column" 2 "$M" batch --model "$XF/model.json" --name xs2 --input "sql:SELECT id, age FROM named_feats" --key id --store "$DB"
has "sql lacking a column: named" err "'amount'"

# a model with several 1-D inputs takes each from the column of its name, in any order;
# the reference is a + 2b, computed here (values exact in float32)
TWO=$(pwd)/tests/fixtures/batch/two_inputs/model.onnx
awk 'BEGIN { print "b,id,extra,a"; for (i = 0; i < 50; i++) printf "%.2f,t%d,z,%.2f\n", i * 0.25 - 3, i, 7 - i * 0.5 }' > "$T/two.csv"
run "several inputs by name" 0 "$M" batch --model "$TWO" --name two --input "$T/two.csv" --key id --store "$DB"
"$M" lookup --store "$DB" --model two --all > "$T/two_all"
if awk -F, 'NR == FNR { if (FNR > 1) want[$2] = $4 + 2 * $1; next }
  { k = $0; sub(/^\{"key":"/, "", k); sub(/".*/, "", k); v = $0; sub(/.*"outputs":\{"s":/, "", v); sub(/\}.*/, "", v)
    n++; if (!(k in want) || v + 0 != want[k]) miss++ }
  END { exit !(n == 50 && miss == 0) }' "$T/two.csv" "$T/two_all"; then ok; else bad "several inputs: s != a + 2b"; show "$T/two_all"; fi
cut -d, -f2,3 "$T/two.csv" > "$T/two_none.csv"
run "several inputs, both missing" 2 "$M" batch --model "$TWO" --name two2 --input "$T/two_none.csv" --key id --store "$DB"
has "several inputs: names every missing input" err "no columns 'a', 'b' (named by the model's input names); it has: id, extra"

# duplicate keys: the first row with a key is scored, later ones are rejected with its line.
# dups.csv: lines 2..21 r0..r19, 22 r1 again, 23..62 r20..r59, 63 r3 again, 64 r25 again; the
# repeated rows carry other values, so a wrong choice of row changes the prediction.
awk -F, -v OFS=, 'NR == FNR { if ($1 == "r1" || $1 == "r3" || $1 == "r25") { $2 = $2 + 1; $3 = -$3; dup[$1] = $0 } next }
  { print } $1 == "r19" { print dup["r1"] } END { print dup["r3"]; print dup["r25"] }' "$XF/rows.csv" "$XF/rows.csv" > "$T/dups.csv"
dup_checks() { # STORE NAME: what every duplicate run must end with
  if probs_match "$1" "$2"; then ok; else bad "duplicates ($2): the first occurrences were not the ones scored"; fi
}
run "duplicate keys" 0 "$M" batch --model "$XF/model.json" --name xd --input "$T/dups.csv" --key id --store "$DB" --chunk 10 --json
has "duplicates counted" out '"rows_scored":60,"rows_rejected":3,"rows_duplicate":3'
dup_checks "$DB" xd
DRUN=$(sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' "$T/out")
run "duplicate rejects" 0 "$M" batch rejects --run "$DRUN" --store "$DB"
has "duplicate within a chunk" out '"line":22,"reason":"duplicate key, first at line 3"'
has "duplicate across chunks" out '"line":63,"reason":"duplicate key, first at line 5"'
has "duplicate across chunks 2" out '"line":64,"reason":"duplicate key, first at line 28"'
run "duplicates in the summary line" 0 "$M" batch --model "$XF/model.json" --name xd --input "$T/dups.csv" --key id --store "$DB"
has "summary counts duplicates" out "3 rejected (3 duplicate keys)"
# resume across the crash point: chunks 0..2 (lines 2..31, with the duplicate at 22) commit,
# then the run stops as after a kill -9; the resumed run still catches r3 and r25
dup_resume() { # STORE NAME
  run "duplicates: stopped run ($2)" 1 "$M" batch --model "$XF/model.json" --name "$2" --input "$T/dups.csv" --key id --store "$1" --chunk 10 --stop-after 3
  run "duplicates: resume ($2)" 0 "$M" batch --model "$XF/model.json" --name "$2" --input "$T/dups.csv" --key id --store "$1" --chunk 10 --resume --json
  has "duplicates: resumed at chunk 3 ($2)" out '"resumed_at_chunk":3'
  has "duplicates: counted across the resume ($2)" out '"rows_scored":60,"rows_rejected":3,"rows_duplicate":3'
  dup_checks "$1" "$2"
  _run=$(sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' "$T/out")
  "$M" batch rejects --run "$_run" --store "$1" > "$T/drej"
  has "duplicates: before the crash ($2)" drej '"line":22,"reason":"duplicate key, first at line 3"'
  has "duplicates: after the resume ($2)" drej '"line":63,"reason":"duplicate key, already scored in this run before it was resumed"'
  has "duplicates: after the resume 2 ($2)" drej '"line":64,"reason":"duplicate key, already scored in this run before it was resumed"'
}
dup_resume "$DB" xdr
# shards: a duplicate hashes to its first row's shard, so every shard catches its own
for k in 1 2 3; do
  "$M" batch --model "$XF/model.json" --name xdsh --input "$T/dups.csv" --key id --store "$DB" --chunk 10 \
    --shard $k/3 --run dupshard --json > "$T/dsh$k" 2>"$T/dsherr$k" &
done
wait
sum=0; for k in 1 2 3; do s=$(sed -n 's/.*"rows_duplicate":\([0-9]*\).*/\1/p' "$T/dsh$k"); sum=$((sum + ${s:-0})); done
eq "duplicates over shards" "$sum" 3
dup_checks "$DB" xdsh
run "batch --help" 0 "$M" batch --help
has "batch --help: binding by name" out "bound to the model's features by NAME"
has "batch --help: positional fallback" out "taken by position"
has "batch --help: duplicates" out "duplicate key, first at line N"
has "batch --help: --config" out "--config FILE"

# ---- bad input files and junk bytes (issue 9 item 6) ----------------------------------------
run "missing input CSV" 2 "$M" batch --model "$MODEL" --input "$T/nope.csv" --key id --store "$DB"
has "missing input CSV message" err "cannot open '$T/nope.csv'"
run "missing JSON Lines input" 2 "$M" batch --model "$MODEL" --input "$T/nope.jsonl" --key id --store "$DB"
mkdir -p "$T/adir"
run "input is a directory" 2 "$M" batch --model "$MODEL" --input "$T/adir" --key id --store "$DB"
# a cell and a header name with control and non-ASCII bytes: quoted as \xNN, cut with "..."
{ printf 'id,amount,age,score,tenure,visits,ratio,n\033ote\n'
  printf 'j1,\033[2J\376%s,1,1,1,1,1,x\n' "$(printf '%080d' 7)"; } > "$T/junk.csv"
run "junk cell" 0 "$M" batch --model "$XF/model.json" --name junk --input "$T/junk.csv" --key id --store "$DB" --json
JRUN=$(sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' "$T/out")
run "junk rejects" 0 "$M" batch rejects --run "$JRUN" --store "$DB"
has "junk cell escaped" out "value '\\\\x1b[2J\\\\xfe00000"
has "junk cell cut" out "0000...' is not a number"
if LC_ALL=C grep -q "$(printf '\033')" "$T/out"; then bad "junk cell: a raw escape byte in the reject"; else ok; fi
run "junk header name" 2 "$M" batch --model "$XF/model_unnamed.json" --name junk2 --input "$T/junk.csv" --key id --store "$DB" --features amount,age,score,tenure,visits,colour
has "junk header name escaped" err "n\\x1bote"
if LC_ALL=C grep -q "$(printf '\033')" "$T/err"; then bad "junk header: a raw escape byte in the message"; else ok; fi

# ---- PostgreSQL ---------------------------------------------------------------------------
if [ -n "$MLSHIP_TEST_PG_URL" ]; then
  PG=$MLSHIP_TEST_PG_URL
  psql "$PG" -q -c "DROP TABLE IF EXISTS mlship_predictions, mlship_runs, mlship_rejects, mlship_published" >/dev/null 2>&1
  run "pg batch" 0 "$M" batch --model "$MODEL" --name pgk --input "$T/c.csv" --key id --store "$PG" --chunk 1000 --json
  has "pg published" out '"status":"published"'
  "$M" lookup --store "$PG" --model pgk --all > "$T/pg_all"
  if [ "$(outputs "$T/pg_all" | md5sum)" = "$(outputs "$T/ref_all" | md5sum)" ]; then ok; else bad "pg outputs differ from sqlite"; fi
  run "pg lookup" 0 "$M" lookup --store "$PG" --model pgk c5 c6
  has "pg lookup" out '{"key":"c5","model":"pgk"'
  run "pg rejects" 0 "$M" batch --model "$MODEL" --name pgr --input "$T/a.csv" --key id --store "$PG" --chunk 700 --json
  has "pg rejects count" out '"rows_rejected":3'
  i=0; kills=0; resume=""
  while [ $i -lt 8 ]; do
    "$M" batch --model "$MODEL" --name pgk --input "$T/c.csv" --key id --store "$PG" --chunk 500 $resume --no-progress > /dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v s="$i" 'BEGIN { srand(s * 31 + 5); printf "%.3f", 0.01 + rand() * 0.2 }')"
    if kill -9 $pid 2>/dev/null; then kills=$((kills + 1)); resume=--resume; else resume=""; fi
    wait $pid 2>/dev/null
    i=$((i + 1))
  done
  run "pg resume after kills" 0 "$M" batch --model "$MODEL" --name pgk --input "$T/c.csv" --key id --store "$PG" --chunk 500 --resume
  "$M" lookup --store "$PG" --model pgk --all > "$T/pg_all2"
  if [ "$(outputs "$T/pg_all2" | md5sum)" = "$(outputs "$T/ref_all" | md5sum)" ]; then ok; else bad "pg resumed result differs"; fi
  echo "    (pg: $kills kill -9s landed)"
  shards "$PG" pgshd
  psql "$PG" -q -c "CREATE TABLE IF NOT EXISTS feats (id text, f0 float8, f1 float8, f2 float8, f3 float8, f4 float8, f5 float8, f6 float8, f7 float8); TRUNCATE feats" >/dev/null 2>&1
  psql "$PG" -q -c "\\copy feats FROM '$T/b.csv' CSV HEADER" >/dev/null 2>&1
  dup_resume "$PG" pgdr
  run "pg sql input" 0 "$M" batch --model "$MODEL" --name pgs --input "sql:SELECT * FROM feats ORDER BY id" --key id --store "$PG"
  "$M" lookup --store "$PG" --model pgs --all > "$T/pg_sql"
  eq "pg sql rows" "$(wc -l < "$T/pg_sql" | tr -d ' ')" 3000
else
  skipped "PostgreSQL cases (MLSHIP_TEST_PG_URL unset; run scripts/services.sh start)"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
