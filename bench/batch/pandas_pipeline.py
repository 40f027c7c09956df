#!/usr/bin/python3
"""The pipeline a data scientist writes (issue 5 section 6): pandas read_csv, scikit-learn
predict_proba, DataFrame.to_sql into SQLite. Prints one JSON line with rows/s.

    /usr/bin/python3 bench/batch/pandas_pipeline.py MODEL.pkl DATA.csv OUT.db
"""
import json
import pickle
import sqlite3
import sys
import time

import numpy as np
import pandas as pd

model_path, csv, db = sys.argv[1:4]
with open(model_path, "rb") as f:
    m = pickle.load(f)
t0 = time.time()
df = pd.read_csv(csv)
X = df[[c for c in df.columns if c != "id"]].to_numpy(np.float32)
t1 = time.time()
p = m.predict_proba(X)
t2 = time.time()
out = pd.DataFrame({"key": df["id"], "label": m.classes_[p.argmax(axis=1)], "p0": p[:, 0], "p1": p[:, 1]})
con = sqlite3.connect(db)
out.to_sql("predictions", con, if_exists="replace", index=False)
con.commit()
con.close()
t3 = time.time()
n = len(df)
print(json.dumps({"rows": n, "seconds": round(t3 - t0, 3), "rows_per_s": round(n / (t3 - t0), 1),
                  "read_s": round(t1 - t0, 3), "predict_s": round(t2 - t1, 3),
                  "write_s": round(t3 - t2, 3)}))
