#!/usr/bin/python3
"""The serving benchmark's model: a scikit-learn GradientBoostingClassifier, 100 trees of
depth 3 over 30 features, fitted on synthetic fraud-like data. Writes to bench/serve/out/
(not committed):
  model.pkl           the pickled classifier (for the tutorial Flask server)
  repo/gbdt/1/model.onnx   the same trees as ONNX-ML TreeEnsembleClassifier (for mlship),
                      converted by tests/fixtures/make_trees.py, no skl2onnx needed
  body.json           {"features": [30 floats]}: the one request every server gets
It checks that mlship's answer equals predict_proba[:, 1] before the benchmark uses it
(run.sh does that over HTTP)."""
import json
import os
import pickle
import sys

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "fixtures"))
import make_trees  # noqa: E402

out = os.path.join(HERE, "out")
os.makedirs(os.path.join(out, "repo", "gbdt", "1"), exist_ok=True)
rng = np.random.RandomState(0)
d = 30
X = rng.normal(size=(5000, d)).astype(np.float32)
w = rng.normal(size=d)
y = ((X @ w + rng.normal(size=len(X)) * 2) > 2.5).astype(int)
m = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(X, y)
with open(os.path.join(out, "model.pkl"), "wb") as f:
    pickle.dump(m, f)

ens = make_trees.Ensemble()
lr = m.learning_rate
for ti, est in enumerate(m.estimators_[:, 0]):
    make_trees.add_sk_tree(ens, ti, est.tree_, lambda i, t=est.tree_: [(0, lr * t.value[i, 0, 0])])
base = m._raw_predict_init(X[:1])[0]
import onnx  # noqa: E402
onnx.save(make_trees.classifier(ens, d, [0, 1], base=base, post="LOGISTIC"),
          os.path.join(out, "repo", "gbdt", "1", "model.onnx"))

row = X[:1]
with open(os.path.join(out, "body.json"), "w") as f:
    json.dump({"features": [float(v) for v in row[0]]}, f)
with open(os.path.join(out, "expected.txt"), "w") as f:
    f.write("%.9g\n" % m.predict_proba(row)[0, 1])
print("trees", len(m.estimators_), "features", d, "p1(row0) = %.9g" % m.predict_proba(row)[0, 1])
