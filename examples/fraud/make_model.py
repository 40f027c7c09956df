#!/usr/bin/python3
"""Makes the example model: a small fraud classifier over 30 features.

A two-layer MLP (30 -> 16 -> 1, ReLU, sigmoid) trained with plain numpy gradient descent on
synthetic transactions (fixed seed), written as ONNX with onnx.helper. Outputs:
  model.onnx          input "features" float32[batch,30], output "probability" float32[batch,1]
  request.json        an Open Inference Protocol request with two rows
  expected.json       numpy's own probabilities for those rows (the reference)
  features.csv        200 customers' feature rows (customer_id c_1..c_200, then f0..f29) from
                      the same generator, for the features store of `make run`
Run: /usr/bin/python3 examples/fraud/make_model.py   (Debian python3-numpy, python3-onnx)
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
n, d, h = 4000, 30, 16
X = rng.normal(size=(n, d)).astype(np.float32)
true_w = rng.normal(size=d)
y = ((X @ true_w + 0.5 * X[:, 0] * X[:, 1]) > 1.0).astype(np.float32)

W1 = (rng.normal(size=(d, h)) * 0.2).astype(np.float32)
b1 = np.zeros(h, np.float32)
W2 = (rng.normal(size=(h, 1)) * 0.2).astype(np.float32)
b2 = np.zeros(1, np.float32)
sig = lambda z: 1 / (1 + np.exp(-z))


def forward(x):
    a = np.maximum(x @ W1 + b1, 0)
    return a, sig(a @ W2 + b2)


for step in range(400):
    a, p = forward(X)
    g = (p[:, 0] - y)[:, None] / n
    gW2, gb2 = a.T @ g, g.sum(0)
    ga = (g @ W2.T) * (a > 0)
    gW1, gb1 = X.T @ ga, ga.sum(0)
    for P, G in ((W1, gW1), (b1, gb1), (W2, gW2), (b2, gb2)):
        P -= 0.5 * G.astype(np.float32)

nodes = [
    helper.make_node("MatMul", ["features", "W1"], ["h0"], name="dense1"),
    helper.make_node("Add", ["h0", "b1"], ["h1"], name="bias1"),
    helper.make_node("Relu", ["h1"], ["h2"], name="relu1"),
    helper.make_node("MatMul", ["h2", "W2"], ["z0"], name="dense2"),
    helper.make_node("Add", ["z0", "b2"], ["z1"], name="bias2"),
    helper.make_node("Sigmoid", ["z1"], ["probability"], name="sigmoid"),
]
graph = helper.make_graph(
    nodes, "fraud_mlp",
    [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", d])],
    [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch", 1])],
    [numpy_helper.from_array(W1, "W1"), numpy_helper.from_array(b1, "b1"),
     numpy_helper.from_array(W2, "W2"), numpy_helper.from_array(b2, "b2")])
model = helper.make_model(graph, producer_name="mlship-examples", opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "model.onnx"))

rows = X[:2]
req = {"inputs": [{"name": "features", "shape": [2, d], "datatype": "FP32",
                   "data": [float(v) for v in rows.ravel()]}]}
with open(os.path.join(here, "request.json"), "w") as f:
    json.dump(req, f)
_, p = forward(rows)
with open(os.path.join(here, "expected.json"), "w") as f:
    json.dump({"probability": [float(v) for v in p.ravel()]}, f)
acc = float(((forward(X)[1][:, 0] > 0.5) == y).mean())
print(f"wrote model.onnx (train accuracy {acc:.3f}), request.json, expected.json")

# Feature rows for the online store (`make run` loads them into SQLite): drawn after everything
# above, so the model and the request stay exactly as they were.
N_CUSTOMERS = 200
F = rng.normal(size=(N_CUSTOMERS, d)).astype(np.float32)
with open(os.path.join(here, "features.csv"), "w") as f:
    f.write("customer_id," + ",".join(f"f{i}" for i in range(d)) + "\n")
    for i, row in enumerate(F):
        f.write(f"c_{i + 1}," + ",".join(f"{float(v):.6g}" for v in row) + "\n")
print(f"wrote features.csv ({N_CUSTOMERS} customers)")
