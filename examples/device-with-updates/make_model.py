#!/usr/bin/python3
"""Makes the example's data and two model versions: heating minutes a thermostat needs.

Synthetic (seeded) thermostat logs: how many minutes of heating took a room from its
temperature to the target, given the outside temperature and the hour. Version 1 is trained on
the first month's logs (XGBoost, Debian python3-xgboost, 20 trees); version 2 on three months,
with more trees: the update the devices receive.
Outputs:
  model_v1.json, model_v2.json   the two XGBoost models (features outside, inside, target, hour)
  golden.npy                     8 rows the device must score as the publisher did before it
                                 installs an update (mlship edge publish --golden)
  row.json                       the request the README's client sends
  reference.json                 XGBoost's own prediction for row.json with each version
Run: /usr/bin/python3 make_model.py    (python3-numpy, python3-xgboost)
"""
import json
import os

import numpy as np
import xgboost as xgb

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(3)
FEATURES = ["outside_temp", "inside_temp", "target_temp", "hour"]


def logs(n):
    out = rng.normal(5, 6, n)
    inside = rng.uniform(12, 21, n)
    target = rng.choice([19.0, 20.0, 21.0, 22.0], n)
    hour = rng.integers(0, 24, n).astype(float)
    minutes = np.maximum(target - inside, 0) * (6 + 0.35 * (10 - out)) * (1 + 0.1 * (hour < 6)) + rng.normal(0, 2, n)
    return np.column_stack([out, inside, target, hour]).astype(np.float32), np.maximum(minutes, 0).astype(np.float32)


def train(X, y, rounds):
    b = xgb.train({"max_depth": 3, "eta": 0.3, "objective": "reg:squarederror", "seed": 1},
                  xgb.DMatrix(X, label=y, feature_names=FEATURES), num_boost_round=rounds)
    return b


X1, y1 = logs(1500)
X2, y2 = logs(3000)
v1 = train(X1, y1, 20)
v2 = train(np.concatenate([X1, X2]), np.concatenate([y1, y2]), 30)
v1.save_model(os.path.join(here, "model_v1.json"))
v2.save_model(os.path.join(here, "model_v2.json"))

G, _ = logs(8)
np.save(os.path.join(here, "golden.npy"), G)
row = np.array([[-2.5, 16.0, 21.0, 6.0]], np.float32)
with open(os.path.join(here, "row.json"), "w") as f:
    json.dump({"features": [float(v) for v in row[0]]}, f)
    f.write("\n")
ref = {name: float(b.predict(xgb.DMatrix(row, feature_names=FEATURES))[0]) for name, b in (("v1", v1), ("v2", v2))}
with open(os.path.join(here, "reference.json"), "w") as f:
    json.dump(ref, f)
    f.write("\n")
print("wrote model_v1.json, model_v2.json, golden.npy, row.json, reference.json:", ref)
