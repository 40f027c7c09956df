#!/usr/bin/python3
"""Makes the example's data and model: tomorrow's sales per store, a GBDT regressor.

Synthetic (seeded) daily sales of 40 stores over two years: a store's size sets its level,
weekends and promotions lift it, holidays cut it, warm days help a little, with noise. Each
training row is one store-day: the features known the evening before, the target that day's
sales. XGBoost (Debian python3-xgboost) trains 30 trees of depth 4 on them.
Outputs:
  model.json      the XGBoost model (its feature names are the CSV columns mlship binds)
  tomorrow.csv    the night's input: one row per store (store_id, then the features)
  reference.csv   XGBoost's own prediction for each row of tomorrow.csv (check.sh compares)
Run: /usr/bin/python3 make_model.py    (python3-numpy, python3-xgboost)
"""
import os

import numpy as np
import xgboost as xgb

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(2024)
FEATURES = ["store_size", "day_of_week", "promo", "holiday", "temperature",
            "sales_lag_1", "sales_lag_7", "sales_mean_28"]
N_STORES, DAYS = 40, 730


def simulate():
    size = rng.uniform(0.5, 3.0, N_STORES)
    days = np.arange(DAYS + 1)
    dow = days % 7
    holiday = (rng.random(DAYS + 1) < 0.03).astype(float)
    temp = 12 + 10 * np.sin(2 * np.pi * days / 365) + rng.normal(0, 3, DAYS + 1)
    promo = (rng.random((N_STORES, DAYS + 1)) < 0.15).astype(float)
    level = 1000 * size[:, None] * (1 + 0.35 * (dow >= 5)) * (1 + 0.25 * promo) * (1 - 0.5 * holiday)
    sales = level * (1 + 0.01 * (temp - 12)) * rng.lognormal(0, 0.08, (N_STORES, DAYS + 1))
    return size, dow, holiday, temp, promo, sales


def rows(size, dow, holiday, temp, promo, sales, d):
    """the features of every store for day d, known the evening of day d - 1"""
    return np.column_stack([size, np.full(N_STORES, dow[d]), promo[:, d], np.full(N_STORES, holiday[d]),
                            np.full(N_STORES, round(temp[d], 1)), sales[:, d - 1], sales[:, d - 7],
                            sales[:, d - 28:d].mean(1)]).astype(np.float32)


sim = simulate()
X = np.concatenate([rows(*sim, d) for d in range(28, DAYS)])
y = np.concatenate([sim[5][:, d] for d in range(28, DAYS)]).astype(np.float32)
dtrain = xgb.DMatrix(X, label=y, feature_names=FEATURES)
booster = xgb.train({"max_depth": 4, "eta": 0.3, "objective": "reg:squarederror", "seed": 1},
                    dtrain, num_boost_round=30)
booster.save_model(os.path.join(here, "model.json"))

# tomorrow: the last simulated day, the features rounded as a CSV export would write them
Xt = rows(*sim, DAYS)
ids = [f"s_{i + 1:02d}" for i in range(N_STORES)]
with open(os.path.join(here, "tomorrow.csv"), "w") as f:
    f.write("store_id," + ",".join(FEATURES) + "\n")
    for k, r in zip(ids, Xt):
        f.write(k + "," + ",".join(f"{float(v):.6g}" for v in r) + "\n")
# XGBoost's predictions on the file's values exactly as the file has them (read back as float32)
Xr = np.loadtxt(os.path.join(here, "tomorrow.csv"), delimiter=",", skiprows=1,
                usecols=range(1, len(FEATURES) + 1), dtype=np.float32)
pred = booster.predict(xgb.DMatrix(Xr, feature_names=FEATURES))
with open(os.path.join(here, "reference.csv"), "w") as f:
    f.write("store_id,sales\n")
    for k, v in zip(ids, pred):
        f.write(f"{k},{float(v):.9g}\n")
err = np.abs(booster.predict(dtrain) - y).mean() / y.mean()
print(f"wrote model.json (train mean abs error {100 * err:.1f} % of mean sales), tomorrow.csv, reference.csv")
