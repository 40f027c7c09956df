#!/usr/bin/python3
"""Makes the example's data and model: which of six content categories to recommend a user.

Synthetic (seeded) users with eight behaviour features (share of time on each of six
categories in the last 30 days, sessions, days since sign-up) and the category they engaged
with next. scikit-learn (Debian python3-sklearn) trains an MLPClassifier (8 -> 16 ReLU -> 6
softmax); its weights are written as ONNX with onnx.helper (skl2onnx is not a Debian package).
Outputs:
  model.onnx      input "features" float32[N,8], output "scores" float32[N,6] (predict_proba)
  users.csv       300 users' feature rows (user_id u_1..u_300, then the eight features)
  reference.csv   scikit-learn's predict_proba for every user (check.sh compares)
Run: /usr/bin/python3 make_model.py    (python3-sklearn, python3-numpy, python3-onnx)
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.neural_network import MLPClassifier

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(5)
CATS = ["news", "sport", "music", "film", "games", "cooking"]
FEATURES = [f"share_{c}" for c in CATS] + ["sessions_30d", "days_since_signup"]


def users(n):
    share = rng.dirichlet(np.full(6, 0.7), n)
    sessions = rng.poisson(20, n).astype(float)
    age = rng.integers(1, 1500, n).astype(float)
    # the next category: mostly the user's favourite, new users drift to games, old ones to news
    logits = 4 * share + 0.002 * np.outer(age, [1, 0, 0, 0, -1, 0]) + rng.gumbel(size=(n, 6))
    X = np.column_stack([share.round(3), sessions, age])
    return X, logits.argmax(1)


X, y = users(4000)
Xs = X / np.array([1, 1, 1, 1, 1, 1, 30, 1500])  # the model sees scaled counts: fold it into W1
clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=600, random_state=0).fit(Xs, y)
W1 = (clf.coefs_[0] / np.array([1, 1, 1, 1, 1, 1, 30, 1500])[:, None]).astype(np.float32)
b1, W2, b2 = (a.astype(np.float32) for a in (clf.intercepts_[0], clf.coefs_[1], clf.intercepts_[1]))

nodes = [helper.make_node("MatMul", ["features", "W1"], ["h0"]), helper.make_node("Add", ["h0", "b1"], ["h1"]),
         helper.make_node("Relu", ["h1"], ["h2"]), helper.make_node("MatMul", ["h2", "W2"], ["z0"]),
         helper.make_node("Add", ["z0", "b2"], ["z1"]), helper.make_node("Softmax", ["z1"], ["scores"], axis=-1)]
graph = helper.make_graph(nodes, "recs_mlp",
                          [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 8])],
                          [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 6])],
                          [numpy_helper.from_array(W1, "W1"), numpy_helper.from_array(b1, "b1"),
                           numpy_helper.from_array(W2, "W2"), numpy_helper.from_array(b2, "b2")])
model = helper.make_model(graph, producer_name="mlship-examples", opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "model.onnx"))

Xu, _ = users(300)
ids = [f"u_{i + 1}" for i in range(len(Xu))]
with open(os.path.join(here, "users.csv"), "w") as f:
    f.write("user_id," + ",".join(FEATURES) + "\n")
    for k, r in zip(ids, Xu):
        f.write(k + "," + ",".join(f"{v:g}" for v in r) + "\n")
Xr = np.loadtxt(os.path.join(here, "users.csv"), delimiter=",", skiprows=1, usecols=range(1, 9),
                dtype=np.float32).astype(np.float64)
P = clf.predict_proba(Xr / np.array([1, 1, 1, 1, 1, 1, 30, 1500]))
with open(os.path.join(here, "reference.csv"), "w") as f:
    f.write("user_id," + ",".join(CATS) + "\n")
    for k, p in zip(ids, P):
        f.write(k + "," + ",".join(f"{v:.9g}" for v in p) + "\n")
print(f"wrote model.onnx (train accuracy {clf.score(Xs, y):.3f}), users.csv, reference.csv")
