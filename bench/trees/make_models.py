#!/usr/bin/python3
"""Benchmark models for the tree kernel: XGBoost binary:logistic GBDTs over 50 features,
500 trees of depth 8 and 100 trees of depth 6, saved as model.json and converted to ONNX-ML
(TreeEnsembleClassifier, as tests/fixtures/make_trees.py converts them). Writes to
bench/trees/out/ (not committed): gbdt500/ and gbdt100/ with model.json, model.onnx, X.npy
(10,000 float32 rows) and REF.npy (XGBoost's probabilities [N, 2])."""
import json
import os
import sys

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "fixtures"))
import make_trees  # noqa: E402


def build(name, trees, depth, d=50, n=10000):
    out = os.path.join(HERE, "out", name)
    os.makedirs(out, exist_ok=True)
    rng = np.random.RandomState(7)
    X = rng.normal(size=(20000, d)).astype(np.float32)
    w = rng.normal(size=d)
    y = ((X @ w + np.sin(X[:, 0] * 2) * 3 + rng.normal(size=len(X))) > 0).astype(np.float32)
    params = dict(objective="binary:logistic", max_depth=depth, eta=0.1, seed=0, nthread=2,
                  tree_method="hist", max_bin=256)
    bst = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=trees)
    bst.save_model(os.path.join(out, "model.json"))
    Xt = rng.normal(size=(n, d)).astype(np.float32)
    js = json.load(open(os.path.join(out, "model.json")))
    base = float(js["learner"]["learner_model_param"]["base_score"])
    ens = make_trees.xgb_to_ensemble(js, 1)
    onx = make_trees.classifier(ens, d, [0, 1], base=[np.log(base / (1 - base))], post="LOGISTIC")
    import onnx
    onnx.save(onx, os.path.join(out, "model.onnx"))
    dm = xgb.DMatrix(Xt)
    p = bst.predict(dm).astype(np.float32)
    m = bst.predict(dm, output_margin=True).astype(np.float64)
    np.save(os.path.join(out, "X.npy"), Xt)
    np.save(os.path.join(out, "REF.npy"), np.stack([1 / (1 + np.exp(m)), p], 1).astype(np.float32))
    n_nodes = sum(len(t["left_children"]) for t in js["learner"]["gradient_booster"]["model"]["trees"])
    print(name, "trees", trees, "depth", depth, "nodes", n_nodes)


if __name__ == "__main__":
    build("gbdt500", 500, 8)
    build("gbdt100", 100, 6)
