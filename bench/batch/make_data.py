#!/usr/bin/python3
"""Batch benchmark inputs (issue 10's workload): a gradient-boosted classifier with 30 features and
200 trees (scikit-learn GradientBoostingClassifier, depth 6), written as ONNX-ML
TreeEnsembleClassifier with the fixture builder of tests/fixtures/make_trees.py and pickled for
the pandas pipeline, and a CSV of ROWS rows (key column `id`, then f0..f29 as Python's
repr(float) writes doubles: up to 17 significant digits, as pandas' to_csv does). (Before issue
10 the workload was 150 trees of depth 4 and float32 values printed with %.7g.)

For the ceiling measurements of run.sh, two one-stump classifiers of the same output shape
(label + two probabilities, so the stored rows are as long): `stump30.onnx` over the 30 features
(scoring costs next to nothing: what is left is reading, parsing, formatting and storing) and
`stump1.onnx` over f0 alone, with `data_keys.csv` (the same keys, f0 only: what is left is
reading and storing).

    /usr/bin/python3 bench/batch/make_data.py [ROWS]     # writes bench/batch/out/
"""
import os
import pickle
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "fixtures"))
from make_trees import Ensemble, add_sk_tree, classifier  # noqa: E402

OUT = os.path.join(HERE, "out")
D, TREES, DEPTH = 30, 200, 6


def model():
    from sklearn.ensemble import GradientBoostingClassifier
    rng = np.random.RandomState(0)
    X = rng.normal(size=(8000, D)).astype(np.float32)
    z = X[:, 0] * 1.5 + np.sin(X[:, 1] * 2) + X[:, 2] * X[:, 3] - X[:, 4] ** 2 * 0.3
    y = (z > 0).astype(np.int64)
    m = GradientBoostingClassifier(n_estimators=TREES, max_depth=DEPTH, random_state=0).fit(X, y)
    ens = Ensemble()
    for ti, est in enumerate(m.estimators_[:, 0]):
        add_sk_tree(ens, ti, est.tree_, lambda i, t=est.tree_: [(0, m.learning_rate * t.value[i, 0, 0])])
    base = m._raw_predict_init(X[:1])[0]
    onx = classifier(ens, D, [0, 1], base=base, post="LOGISTIC")
    import onnx
    onnx.save(onx, os.path.join(OUT, "gbdt.onnx"))
    with open(os.path.join(OUT, "gbdt.pkl"), "wb") as f:
        pickle.dump(m, f)
    return m


def stump(d, name):
    from sklearn.ensemble import GradientBoostingClassifier
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, d)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    m = GradientBoostingClassifier(n_estimators=1, max_depth=1, random_state=0).fit(X, y)
    ens = Ensemble()
    t = m.estimators_[0, 0].tree_
    add_sk_tree(ens, 0, t, lambda i: [(0, m.learning_rate * t.value[i, 0, 0])])
    onx = classifier(ens, d, [0, 1], base=m._raw_predict_init(X[:1])[0], post="LOGISTIC")
    import onnx
    onnx.save(onx, os.path.join(OUT, name))


def keys_only(src, dst):
    with open(src) as f, open(dst, "w") as g:
        for line in f:
            g.write(",".join(line.split(",", 2)[:2]) + "\n")


def data(rows, path):
    rng = np.random.RandomState(1)
    with open(path, "w") as f:
        f.write("id," + ",".join("f%d" % i for i in range(D)) + "\n")
        for at in range(0, rows, 100000):
            n = min(100000, rows - at)
            X = rng.normal(size=(n, D))
            lines = ["k%d,%s" % (at + i, ",".join(map(repr, r))) for i, r in enumerate(X.tolist())]
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(os.path.join(OUT, "gbdt.onnx")):
        model()
    for n, name in ((rows, "data.csv"), (rows // 10, "data_small.csv")):
        p = os.path.join(OUT, name)
        if not os.path.exists(p):
            data(n, p)
    for d, name in ((D, "stump30.onnx"), (1, "stump1.onnx")):
        if not os.path.exists(os.path.join(OUT, name)):
            stump(d, name)
    if not os.path.exists(os.path.join(OUT, "data_keys.csv")):
        keys_only(os.path.join(OUT, "data.csv"), os.path.join(OUT, "data_keys.csv"))
    print("wrote", OUT)
