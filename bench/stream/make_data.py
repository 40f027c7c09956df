#!/usr/bin/python3
"""Streaming benchmark inputs (issue 11 section 7): the fraud-style GBDT of the batch benchmark
(scikit-learn GradientBoostingClassifier, 200 trees of depth 6 on 30 features, written as ONNX-ML
by bench/batch/make_data.py's model(): the same model here and there), into bench/stream/out/:
gbdt.onnx, gbdt.pkl (for the Python consumer), X.npy (2,000 float32 rows the producer cycles over)
and REF.npy (scikit-learn's own predict_proba of X: every system's results are checked against it).

    /usr/bin/python3 bench/stream/make_data.py
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "batch"))
import make_data as batch  # noqa: E402

OUT = os.path.join(HERE, "out")
if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    batch.OUT = OUT
    m = batch.model()
    X = np.random.RandomState(2).normal(size=(2000, batch.D)).astype(np.float32)
    np.save(os.path.join(OUT, "X.npy"), X)
    np.save(os.path.join(OUT, "REF.npy"), m.predict_proba(X).astype(np.float32))
    print("wrote", OUT)
