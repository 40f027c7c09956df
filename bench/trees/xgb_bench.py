#!/usr/bin/python3
"""XGBoost's side of the tree benchmark: Booster.inplace_predict on the same model.json.
Usage: xgb_bench.py MODEL.json X.npy REF.npy THREADS BATCH SECONDS -> one JSON line."""
import json
import sys
import time

import numpy as np
import xgboost as xgb

model, xf, reff, threads, batch, seconds = sys.argv[1:7]
threads, batch, seconds = int(threads), int(batch), float(seconds)
bst = xgb.Booster(model_file=model)
bst.set_param({"nthread": threads})
X = np.load(xf)
ref = np.load(reff)
chk = bst.inplace_predict(X[:1024])
err = float(np.abs(chk - ref[:1024, 1]).max())
xb = np.ascontiguousarray(X[:batch])
bst.inplace_predict(xb)
lat = []
t0 = time.perf_counter()
while time.perf_counter() - t0 < seconds or len(lat) < 5:
    a = time.perf_counter()
    bst.inplace_predict(xb)
    lat.append((time.perf_counter() - a) * 1e6)
total = time.perf_counter() - t0
lat.sort()
print(json.dumps({"engine": "xgboost", "threads": threads, "batch": batch, "calls": len(lat),
                  "rows_per_s": round(len(lat) * batch / total),
                  "median_us_per_call": round(lat[len(lat) // 2], 2),
                  "p99_us_per_call": round(lat[int(len(lat) * 0.99)], 2), "max_abs_err": err}))
