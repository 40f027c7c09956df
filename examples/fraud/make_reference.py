#!/usr/bin/python3
"""Writes reference.csv: numpy's own fraud probabilities for every customer of features.csv.

The model was trained with numpy (make_model.py); this reads its weights back out of
model.onnx (onnx.numpy_helper) and runs the same forward pass in numpy, in float32 as
make_model.py does, on the feature rows as the store holds them (features.csv's text read as
float32). check.sh compares the server's answers by key with these.
Run: /usr/bin/python3 examples/fraud/make_reference.py   (Debian python3-numpy, python3-onnx)
"""
import csv
import os

import numpy as np
import onnx
from onnx import numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
w = {t.name: numpy_helper.to_array(t) for t in onnx.load(os.path.join(here, "model.onnx")).graph.initializer}
with open(os.path.join(here, "features.csv")) as f:
    rows = list(csv.reader(f))[1:]
keys = [r[0] for r in rows]
X = np.array([[np.float32(v) for v in r[1:]] for r in rows], np.float32)
a = np.maximum(X @ w["W1"] + w["b1"], 0)
p = 1 / (1 + np.exp(-(a @ w["W2"] + w["b2"])))
with open(os.path.join(here, "reference.csv"), "w") as f:
    f.write("customer_id,probability\n")
    for k, v in zip(keys, p[:, 0]):
        f.write(f"{k},{float(v):.9g}\n")
print(f"wrote reference.csv ({len(keys)} customers)")
