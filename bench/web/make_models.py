#!/usr/bin/python3
"""make_models.py: the browser bench's models folder (bench/web/README.md), OUT (default
build/bench-web/models): for each model NAME, NAME.onnx, NAME.X.npy (1,024 float32 rows; row 0
alone in NAME.row0.npy, what the cold start fetches),
NAME.ref.npy (the framework's own outputs for them) and one manifest.json.

  mlp, cnn      bench/models/ (64-256-256-10 MLP, 2-conv CNN; PyTorch's outputs), copied
  gbdt          bench/batch/make_data.py's model: 200-tree depth-6 GradientBoostingClassifier on
                30 features (ai.onnx.ml TreeEnsembleClassifier); ref = predict_proba
  logreg        a 20-feature LogisticRegression (ai.onnx.ml LinearClassifier, laid out as in
                tests/fixtures/make_ml.py, probabilities as a tensor: onnxruntime-web returns no
                ZipMap maps); ref = predict_proba of the float32-rounded model

    /usr/bin/python3 bench/web/make_models.py [OUT]     (scripts/deps.sh bench: sklearn, onnx)
"""
import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
sys.path.insert(0, os.path.join(ROOT, "bench", "batch"))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "bench-web", "models")
ROWS = 1024


def save(name, onnx_model_or_path, X, ref, entry):
    import onnx
    dst = os.path.join(OUT, name + ".onnx")
    if isinstance(onnx_model_or_path, str):
        if os.path.abspath(onnx_model_or_path) != os.path.abspath(dst):
            shutil.copyfile(onnx_model_or_path, dst)
    else:
        onnx.save(onnx_model_or_path, dst)
    np.save(os.path.join(OUT, name + ".X.npy"), np.ascontiguousarray(X, dtype=np.float32))
    np.save(os.path.join(OUT, name + ".row0.npy"), np.ascontiguousarray(X[:1], dtype=np.float32))
    np.save(os.path.join(OUT, name + ".ref.npy"), np.ascontiguousarray(ref, dtype=np.float32))
    return {"onnx": name + ".onnx", "X": name + ".X.npy", "ref": name + ".ref.npy", "tol": 1e-5, **entry}


def torch_models(manifest):
    for name, shape in (("mlp", [64]), ("cnn", [1, 28, 28])):
        src = os.path.join(ROOT, "bench", "models", name)
        X, ref = np.load(src + ".X.npy")[:ROWS], np.load(src + ".REF.npy")[:ROWS]
        manifest[name] = save(name, src + ".onnx", X, ref, {"input": "input", "output": "output", "shape": shape})


def gbdt(manifest):
    import make_data
    make_data.OUT = OUT
    m = make_data.model()  # writes OUT/gbdt.onnx (and gbdt.pkl, removed: the bench needs only ONNX)
    os.remove(os.path.join(OUT, "gbdt.pkl"))
    X = np.random.RandomState(1).normal(size=(ROWS, make_data.D)).astype(np.float32)
    manifest["gbdt"] = save("gbdt", os.path.join(OUT, "gbdt.onnx"), X, m.predict_proba(X),
                            {"input": "X", "output": "probabilities", "shape": [make_data.D]})


def logreg(manifest):
    from onnx import TensorProto, helper
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from make_ml import linear_classifier_node, model_of, x_input
    X, y = make_classification(n_samples=4000, n_features=20, n_informative=8, random_state=13)
    X = X.astype(np.float32)
    lr = LogisticRegression(max_iter=2000).fit(X, y)
    node = linear_classifier_node(lr)  # rounds lr's parameters to float32 in place
    node.output[1] = "probabilities"
    outs = [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])]
    onx = model_of([node], [x_input(20)], outs, "logreg")
    Xt = X[:ROWS]
    manifest["logreg"] = save("logreg", onx, Xt, lr.predict_proba(Xt.astype(np.float64)),
                              {"input": "X", "output": "probabilities", "shape": [20]})


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {}
    torch_models(manifest)
    gbdt(manifest)
    logreg(manifest)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("wrote", OUT, sorted(manifest))


if __name__ == "__main__":
    main()
