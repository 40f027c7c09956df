#!/usr/bin/python3
"""Makes the example's data and model: churn-risk segments of subscription customers.

Synthetic (seeded) customers with six activity features; their segment (0 loyal, 1 watch,
2 at risk) comes from a hidden churn score with noise. scikit-learn (Debian python3-sklearn)
fits StandardScaler + multinomial LogisticRegression on 3000 of them; the fitted numbers are
written as an ONNX-ML graph with onnx.helper (Scaler -> LinearClassifier, softmax), since
skl2onnx is not a Debian package.
Outputs:
  model.onnx      input "features" float32[N,6]; outputs "label" int64[N], "probabilities" float32[N,3]
  customers.csv   this week's 500 customers to segment (customer_id, then the six features)
  reference.csv   scikit-learn's predict and predict_proba for each of them (check.sh compares)
Run: /usr/bin/python3 make_model.py    (python3-sklearn, python3-numpy, python3-onnx)
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(11)
FEATURES = ["tenure_months", "monthly_spend", "support_tickets_90d", "days_since_login",
            "sessions_30d", "plan_downgrades"]


def customers(n):
    X = np.column_stack([rng.integers(1, 72, n), rng.gamma(4, 12, n).round(2), rng.poisson(1.2, n),
                         rng.exponential(9, n).round(0), rng.poisson(14, n), rng.poisson(0.3, n)]).astype(float)
    score = (-0.04 * X[:, 0] - 0.01 * X[:, 1] + 0.5 * X[:, 2] + 0.12 * X[:, 3] - 0.08 * X[:, 4]
             + 0.9 * X[:, 5] + rng.normal(0, 0.6, n))
    return X, np.digitize(score, [-1.0, 0.6])


X, y = customers(3000)
scaler = StandardScaler().fit(X)
clf = LogisticRegression(max_iter=1000).fit(scaler.transform(X), y)

nodes = [
    helper.make_node("Scaler", ["features"], ["scaled"], domain="ai.onnx.ml", name="scaler",
                     offset=scaler.mean_.tolist(), scale=(1 / scaler.scale_).tolist()),
    helper.make_node("LinearClassifier", ["scaled"], ["label", "probabilities"], domain="ai.onnx.ml",
                     name="logreg", coefficients=clf.coef_.ravel().tolist(), intercepts=clf.intercept_.tolist(),
                     classlabels_ints=[0, 1, 2], post_transform="SOFTMAX", multi_class=1),
]
graph = helper.make_graph(
    nodes, "churn_segments",
    [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", len(FEATURES)])],
    [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
     helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])])
model = helper.make_model(graph, producer_name="mlship-examples",
                          opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "model.onnx"))

Xw, _ = customers(500)
ids = [f"c_{i + 1}" for i in range(len(Xw))]
with open(os.path.join(here, "customers.csv"), "w") as f:
    f.write("customer_id," + ",".join(FEATURES) + "\n")
    for k, r in zip(ids, Xw):
        f.write(k + "," + ",".join(f"{v:g}" for v in r) + "\n")
# scikit-learn on the values as the CSV holds them, read as float32 (what the model's input is)
Xr = np.loadtxt(os.path.join(here, "customers.csv"), delimiter=",", skiprows=1,
                usecols=range(1, len(FEATURES) + 1), dtype=np.float32).astype(np.float64)
lab, prob = clf.predict(scaler.transform(Xr)), clf.predict_proba(scaler.transform(Xr))
with open(os.path.join(here, "reference.csv"), "w") as f:
    f.write("customer_id,segment,p_loyal,p_watch,p_at_risk\n")
    for k, l, p in zip(ids, lab, prob):
        f.write(f"{k},{l}," + ",".join(f"{v:.9g}" for v in p) + "\n")
print(f"wrote model.onnx (train accuracy {clf.score(scaler.transform(X), y):.3f}), customers.csv, reference.csv;"
      f" segments this week: {np.bincount(lab, minlength=3).tolist()}")
