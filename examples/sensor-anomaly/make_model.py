#!/usr/bin/python3
"""Makes the example's data and model: an anomaly score for pump sensor readings.

Synthetic (seeded) readings of healthy pumps (temperature C, vibration mm/s, current A,
pressure bar, correlated through the load) train scikit-learn's PCA (Debian python3-sklearn)
with 1 of 4 components (the load); the anomaly score of a reading is its squared reconstruction error,
in units of the healthy readings' standard deviations. The fitted numbers are written as ONNX
with onnx.helper (skl2onnx is not a Debian package):
  score = sum(((x - mean) / std - ((x - mean) / std) V V^T)^2)
Outputs:
  model.onnx            input "features" float32[N,4], output "score" float32[N,1]
  readings.jsonl        a test stream: 3 pumps x 60 readings, {"key", "ts", "features"};
                        pump-2 develops a fault half-way, pump-3 has one short spike
  reference.csv         scikit-learn's score for every reading (key, ts, score)
  expected_alerts.csv   the alerts a hysteresis rule gives on those scores (raised above
                        RAISE, cleared below CLEAR, per pump), computed here by hand
Run: /usr/bin/python3 make_model.py    (python3-sklearn, python3-numpy, python3-onnx)
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.decomposition import PCA

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(21)
RAISE, CLEAR = 4.0, 1.8   # the README's --alert 'score[0] > 4' --alert-clear 1.8


def healthy(n):
    load = rng.uniform(0.3, 1.0, n)
    return np.column_stack([40 + 25 * load + rng.normal(0, 1.0, n), 1.5 + 2.0 * load + rng.normal(0, 0.15, n),
                            8 + 10 * load + rng.normal(0, 0.4, n), 3 + 2 * load + rng.normal(0, 0.1, n)])


X = healthy(5000)
mean, std = X.mean(0), X.std(0)
pca = PCA(n_components=1).fit((X - mean) / std)
V = pca.components_.T                       # [4, 1]
P = np.eye(4) - V @ V.T                     # the residual projector: x - x V V^T = x P
# ONNX: z = (x - mean) * (1/std) (+ PCA's own mean, ~0 after standardizing); r = (z - m) P; score = r^2 . 1
m = pca.mean_
nodes = [helper.make_node("Sub", ["features", "mean"], ["c"]), helper.make_node("Mul", ["c", "inv_std"], ["z"]),
         helper.make_node("Sub", ["z", "pca_mean"], ["zc"]), helper.make_node("MatMul", ["zc", "P"], ["r"]),
         helper.make_node("Mul", ["r", "r"], ["r2"]), helper.make_node("MatMul", ["r2", "ones"], ["score"])]
f32 = lambda a: np.asarray(a, np.float32)
graph = helper.make_graph(nodes, "pump_anomaly",
                          [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
                          [numpy_helper.from_array(f32(mean), "mean"), numpy_helper.from_array(f32(1 / std), "inv_std"),
                           numpy_helper.from_array(f32(m), "pca_mean"), numpy_helper.from_array(f32(P), "P"),
                           numpy_helper.from_array(np.ones((4, 1), np.float32), "ones")])
model = helper.make_model(graph, producer_name="mlship-examples", opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "model.onnx"))

# the test stream: three pumps, one reading a second each, interleaved
T = 60
streams = {}
for p in ("pump-1", "pump-2", "pump-3"):
    streams[p] = healthy(T)
fault = np.clip((np.arange(T) - 25) / 8.0, 0, 1) * (np.arange(T) < 50)   # pump-2: 25..50, ramps up
streams["pump-2"][:, 1] += 0.9 * fault + rng.normal(0, 0.25, T) * fault  # vibration up without the load
streams["pump-2"][:, 2] -= 1.5 * fault                                   # and the current down
streams["pump-3"][40, 3] -= 1.2                                          # one pressure drop
events = []
for t in range(T):
    for p in ("pump-1", "pump-2", "pump-3"):
        events.append({"key": p, "ts": 1767225600 + t, "features": [round(float(v), 3) for v in streams[p][t]]})
with open(os.path.join(here, "readings.jsonl"), "w") as f:
    for e in events:
        f.write(json.dumps(e) + "\n")


def sk_score(x):
    """scikit-learn's own reconstruction error of standardized readings"""
    z = (x - mean) / std
    return ((z - pca.inverse_transform(pca.transform(z))) ** 2).sum(1)


Xe = np.array([e["features"] for e in events], np.float32).astype(np.float64)
S = sk_score(Xe)
with open(os.path.join(here, "reference.csv"), "w") as f:
    f.write("key,ts,score\n")
    for e, s in zip(events, S):
        f.write(f"{e['key']},{e['ts']},{s:.9g}\n")
# the hysteresis, by hand: per pump, raised when the score goes above RAISE while clear,
# cleared when it goes below CLEAR while raised
state, alerts = {}, []
for e, s in zip(events, S):
    up = state.get(e["key"], False)
    if not up and s > RAISE:
        state[e["key"]] = True
        alerts.append((e["key"], e["ts"], "raised"))
    elif up and s < CLEAR:
        state[e["key"]] = False
        alerts.append((e["key"], e["ts"], "cleared"))
with open(os.path.join(here, "expected_alerts.csv"), "w") as f:
    f.write("key,ts,alert\n")
    for a in alerts:
        f.write(",".join(map(str, a)) + "\n")
near = int(((S > CLEAR) & (S < RAISE)).sum())
print(f"wrote model.onnx, readings.jsonl ({len(events)} readings), reference.csv, expected_alerts.csv "
      f"({len(alerts)} alerts: {alerts}); {near} scores between the clear and raise levels")
