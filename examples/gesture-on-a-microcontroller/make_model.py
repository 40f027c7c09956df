#!/usr/bin/python3
"""Makes the example's data and model: four wrist gestures from one second of accelerometer.

Synthetic (seeded) 3-axis accelerometer windows of 50 samples (50 Hz) for four gestures: idle
(gravity and tremor), shake (fast oscillation on x), tap (one short spike on z), circle (slow
x/y rotation). Each window becomes 12 features, per axis: mean, standard deviation, min, max.
scikit-learn (Debian python3-sklearn) trains an MLPClassifier (12 -> 16 ReLU -> 4 softmax); its
weights are written as ONNX with onnx.helper (Gemm, Relu, Gemm, Softmax).
Outputs:
  model.onnx          input "features" float32[1,12], output "probabilities" float32[1,4]
  firmware/windows.h  8 test windows' features as a C array, for the firmware (firmware/main.c)
  reference.csv       scikit-learn's predict_proba for those 8 windows (check.sh compares)
Run: /usr/bin/python3 make_model.py    (python3-sklearn, python3-numpy, python3-onnx)
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.neural_network import MLPClassifier

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(8)
GESTURES = ["idle", "shake", "tap", "circle"]
t = np.arange(50) / 50.0


def window(g):
    a = np.zeros((3, 50))
    a[2] = 1.0                                             # gravity on z, in g
    if g == 1:
        a[0] += rng.uniform(0.8, 1.5) * np.sin(2 * np.pi * rng.uniform(5, 8) * t + rng.uniform(0, 6))
    elif g == 2:
        k = rng.integers(5, 45)
        a[2, k:k + 3] += rng.uniform(1.5, 3.0)
    elif g == 3:
        f, p = rng.uniform(0.8, 1.5), rng.uniform(0, 6)
        a[0] += 0.6 * np.cos(2 * np.pi * f * t + p)
        a[1] += 0.6 * np.sin(2 * np.pi * f * t + p)
    a += rng.normal(0, 0.05, a.shape)
    return np.concatenate([a.mean(1), a.std(1), a.min(1), a.max(1)])


def data(n):
    y = rng.integers(0, 4, n)
    return np.array([window(g) for g in y], np.float32), y


X, y = data(2000)
clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=800, random_state=0).fit(X, y)
W1, b1, W2, b2 = (a.astype(np.float32) for a in (clf.coefs_[0], clf.intercepts_[0], clf.coefs_[1], clf.intercepts_[1]))
nodes = [helper.make_node("Gemm", ["features", "W1", "b1"], ["h0"]), helper.make_node("Relu", ["h0"], ["h1"]),
         helper.make_node("Gemm", ["h1", "W2", "b2"], ["z"]), helper.make_node("Softmax", ["z"], ["probabilities"], axis=-1)]
graph = helper.make_graph(nodes, "gesture_mlp",
                          [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 12])],
                          [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 4])],
                          [numpy_helper.from_array(W1, "W1"), numpy_helper.from_array(b1, "b1"),
                           numpy_helper.from_array(W2, "W2"), numpy_helper.from_array(b2, "b2")])
model = helper.make_model(graph, producer_name="mlship-examples", opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "model.onnx"))

# two test windows of each gesture, in order; written with 9 digits, which reads back as the
# same float32, so the firmware and scikit-learn see the same numbers
Xt = np.array([window(g) for g in (0, 1, 2, 3, 0, 1, 2, 3)], np.float32)
with open(os.path.join(here, "firmware", "windows.h"), "w") as f:
    f.write("/* windows.h: 8 test windows' features (per axis x, y, z: mean, std, min, max), written by\n"
            " * make_model.py; the true gestures are idle, shake, tap, circle, twice. */\n")
    f.write(f"#define N_WINDOWS {len(Xt)}\nstatic const float windows[N_WINDOWS][12] = {{\n")
    for r in Xt:
        f.write("    {" + ", ".join(f"{float(v):.9g}f" for v in r) + "},\n")
    f.write("};\n")
P = clf.predict_proba(Xt.astype(np.float64))
with open(os.path.join(here, "reference.csv"), "w") as f:
    f.write("window," + ",".join(GESTURES) + "\n")
    for i, p in enumerate(P):
        f.write(f"{i}," + ",".join(f"{v:.9g}" for v in p) + "\n")
print(f"wrote model.onnx (train accuracy {clf.score(X, y):.3f}), firmware/windows.h, reference.csv;"
      f" test windows predicted {[GESTURES[i] for i in P.argmax(1)]}")
