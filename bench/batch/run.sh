#!/bin/sh
# Batch benchmark (issue 5 section 6), side by side in one run on the same model and CSV:
#   1. mlship batch: CSV -> score (2 threads) -> SQLite, end to end, with peak RSS
#   2. the pandas pipeline (read_csv, predict_proba, to_sql), with peak RSS
#   3. the model's own 2-thread scoring rate: mlship bench --threads 2 --batch 1024
#   4. mlship batch on a 10x smaller and a 3x larger CSV: peak RSS must not grow with the input
#   5. CSV number parsing: mc_parse_f32 / mc_scan_f32 / mc_csv_parse_f32_row vs strtof
#      (csv_parse_bench.c), also their exactness check (exit 1 on any mismatch)
# and the ceilings of this work on this machine, in the same rounds:
#   6. the same pipeline with a one-stump model (stump30.onnx: scoring costs next to nothing)
#      and with a one-stump model over f0 on data_keys.csv (stump1.onnx: no parsing either;
#      what is left is reading and storing the same label + probabilities rows)
#   7. parsing alone: data.csv split and parsed on 1 and 2 threads, nothing else
#      (csv_parse_bench --file)
#   8. the model's own rate on 1 thread, and the machine's SQLite insert ceiling
#      (bench/ceilings/sqlite_insert.c: 1M plain rows in one transaction)
#   9. with BEFORE=path/to/an/older/mlship, that binary too, in every round (before/after)
# REPS rounds, the systems alternating; prints one JSON line per measurement (with the load
# average when it started: other work on the machine slows every system) and the medians.
#   REPS=3 sh bench/batch/run.sh
# Installs its apt packages (scripts/deps.sh bench) and makes the model and data
# (bench/batch/make_data.py 1000000, into bench/batch/out, not committed) when missing.
# data_3x.csv (the 1M rows three times, keys prefixed k/a/b so they stay unique) is made here.
set -e
cd "$(dirname "$0")/../.."
REPS=${REPS:-3}
O=bench/batch/out
M=build/mlship
sh scripts/deps.sh bench
[ -f $O/data.csv ] && [ -f $O/gbdt.onnx ] || /usr/bin/python3 bench/batch/make_data.py 1000000
make -s all build/libmlship_codec.a build/libmlship_base.a
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc bench/batch/csv_parse_bench.c \
  build/libmlship_codec.a build/libmlship_base.a -lm -lpthread -o build/csv_parse_bench
cc -O2 -std=c11 -o build/sqlite_insert bench/ceilings/sqlite_insert.c -lsqlite3
LOG=$O/results.jsonl; : > "$LOG"
rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
# user + system CPU seconds of a /usr/bin/time -v run: on a shared machine the wall-clock rate
# follows the others' load, the CPU a run spends much less so
cpu() { awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$1"; }
load() { cut -d' ' -f1 /proc/loadavg; }
[ -f $O/data_3x.csv ] || { cat $O/data.csv; tail -n +2 $O/data.csv | sed 's/^k/a/'
                           tail -n +2 $O/data.csv | sed 's/^k/b/'; } > $O/data_3x.csv

for r in $(seq "$REPS"); do
  rm -f $O/bench.db*
  L=$(load)
  /usr/bin/time -v $M batch --model $O/gbdt.onnx --name gbdt --input $O/data.csv --key id \
    --store sqlite://$O/bench.db --threads 2 --json --no-progress > $O/m.json 2> $O/m.time
  echo "{\"system\":\"mlship_batch\",\"rep\":$r,\"load\":$L,\"peak_rss_kb\":$(rss $O/m.time),\"cpu_s\":$(cpu $O/m.time),\"result\":$(cat $O/m.json)}" | tee -a "$LOG"
  if [ -n "${BEFORE:-}" ]; then
    rm -f $O/bench.db*
    L=$(load)
    /usr/bin/time -v $BEFORE batch --model $O/gbdt.onnx --name gbdt --input $O/data.csv --key id \
      --store sqlite://$O/bench.db --threads 2 --json --no-progress > $O/m.json 2> $O/m.time
    echo "{\"system\":\"mlship_batch_before\",\"rep\":$r,\"load\":$L,\"peak_rss_kb\":$(rss $O/m.time),\"cpu_s\":$(cpu $O/m.time),\"result\":$(cat $O/m.json)}" | tee -a "$LOG"
  fi
  rm -f $O/pandas.db
  L=$(load)
  /usr/bin/time -v /usr/bin/python3 bench/batch/pandas_pipeline.py $O/gbdt.pkl $O/data.csv $O/pandas.db \
    > $O/p.json 2> $O/p.time
  echo "{\"system\":\"pandas\",\"rep\":$r,\"load\":$L,\"peak_rss_kb\":$(rss $O/p.time),\"cpu_s\":$(cpu $O/p.time),\"result\":$(cat $O/p.json)}" | tee -a "$LOG"
  L=$(load)
  $M bench $O/gbdt.onnx --threads 2 --batch 1024 --seconds 5 > $O/b.json
  echo "{\"system\":\"mlship_bench\",\"rep\":$r,\"load\":$L,\"result\":$(cat $O/b.json)}" | tee -a "$LOG"
  # ceilings
  for cfg in "stump30 data" "stump1 data_keys"; do
    set -- $cfg
    rm -f $O/bench.db*
    L=$(load)
    $M batch --model $O/$1.onnx --name $1 --input $O/$2.csv --key id --store sqlite://$O/bench.db \
      --threads 2 --json --no-progress > $O/m.json
    echo "{\"system\":\"mlship_batch_$1\",\"rep\":$r,\"load\":$L,\"result\":$(cat $O/m.json)}" | tee -a "$LOG"
  done
  L=$(load)
  build/csv_parse_bench --file $O/data.csv 2 > $O/pf.json
  sed "s/^/{\"system\":\"parse_only\",\"rep\":$r,\"load\":$L,\"result\":/; s/\$/}/" $O/pf.json | tee -a "$LOG"
  L=$(load)
  $M bench $O/gbdt.onnx --threads 1 --batch 1024 --seconds 5 > $O/b.json
  echo "{\"system\":\"mlship_bench_t1\",\"rep\":$r,\"load\":$L,\"result\":$(cat $O/b.json)}" | tee -a "$LOG"
  L=$(load)
  build/sqlite_insert $O/anchor.db 1000000 100000 > $O/a.json
  echo "{\"system\":\"sqlite_insert\",\"rep\":$r,\"load\":$L,\"result\":$(cat $O/a.json)}" | tee -a "$LOG"
  rm -f $O/anchor.db*
done
for size in small 3x; do
  rm -f $O/size.db*
  L=$(load)
  /usr/bin/time -v $M batch --model $O/gbdt.onnx --name gbdt --input $O/data_$size.csv --key id \
    --store sqlite://$O/size.db --threads 2 --json --no-progress > $O/s.json 2> $O/s.time
  echo "{\"system\":\"mlship_batch_$size\",\"load\":$L,\"peak_rss_kb\":$(rss $O/s.time),\"result\":$(cat $O/s.json)}" | tee -a "$LOG"
done
rm -f $O/size.db*
build/csv_parse_bench 2000000 | tee $O/parse.txt

/usr/bin/python3 - "$LOG" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(sys_, f):
    v = [f(r) for r in rows if r["system"] == sys_]
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else float("nan")
mb = med("mlship_batch", lambda r: r["result"]["rows_per_s"])
mbb = med("mlship_batch_before", lambda r: r["result"]["rows_per_s"])
def parse(t):
    return med("parse_only", lambda r: r["result"]["rows_per_s"] if r["result"]["threads"] == t else None)
pd_ = med("pandas", lambda r: r["result"]["rows_per_s"])
be = med("mlship_bench", lambda r: r["result"]["rows_per_s"])
print(json.dumps({"median_rows_per_s": {"mlship_batch": mb, "pandas": pd_, "mlship_bench_t2_b1024": be},
                  "mlship_batch_before": mbb,
                  "cpu_s_median": {k: med(k, lambda r: r.get("cpu_s")) for k in ("mlship_batch", "mlship_batch_before", "pandas")},
                  "mlship_vs_pandas": round(mb / pd_, 2), "mlship_vs_own_scoring": round(mb / be, 2),
                  "peak_rss_mb": {"mlship_batch_100k": med("mlship_batch_small", lambda r: r["peak_rss_kb"]) / 1024,
                                  "mlship_batch_1M": med("mlship_batch", lambda r: r["peak_rss_kb"]) / 1024,
                                  "mlship_batch_3M": med("mlship_batch_3x", lambda r: r["peak_rss_kb"]) / 1024,
                                  "pandas_1M": med("pandas", lambda r: r["peak_rss_kb"]) / 1024},
                  "load_average": [r["load"] for r in rows if "load" in r]}))
# The ceilings: what end to end could reach if one stage were free, as a fraction of the
# model's own rate. Parsing and scoring share the same two cores, so together they take the
# sum of their per-row times; storing is one SQLite writer.
p2, st1 = parse(2), med("mlship_batch_stump1", lambda r: r["result"]["rows_per_s"])
both = 1 / (1 / p2 + 1 / be)
print(json.dumps({"ceilings_rows_per_s": {
    "parse_only_t1": parse(1), "parse_only_t2": p2,
    "parse_and_score_t2": round(both),
    "pipeline_free_scoring": med("mlship_batch_stump30", lambda r: r["result"]["rows_per_s"]),
    "pipeline_store_only": st1,
    "sqlite_insert_plain_rows": med("sqlite_insert", lambda r: r["result"]["insert_rows_per_s"]),
    "mlship_bench_t1_b1024": med("mlship_bench_t1", lambda r: r["result"]["rows_per_s"])},
  "as_fraction_of_own_rate": {"parse_only_t2": round(p2 / be, 2), "parse_and_score_t2": round(both / be, 2),
                              "pipeline_store_only": round(st1 / be, 2),
                              "mlship_batch": round(mb / be, 2)},
  "vs_sqlite_insert_ceiling": {"mlship_batch": round(mb / med("sqlite_insert", lambda r: r["result"]["insert_rows_per_s"]), 2),
                               "mlship_batch_before": round(mbb / med("sqlite_insert", lambda r: r["result"]["insert_rows_per_s"]), 2)}}))
PY
