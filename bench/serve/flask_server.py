#!/usr/bin/python3
"""flask_server.py: the tutorial way to serve a model, the baseline of bench/serve/run.sh.

Flask, a scikit-learn classifier unpickled once at start, and one route:
    POST /predict  {"features": [x0, ..., x29]}  ->  {"prediction": [p]}
where p is predict_proba's positive-class column for that one row. GET /health answers "ok"
(run.sh waits on it). Same body, same reply shape as `mlship serve`'s /predict.

    MODEL=bench/serve/out/model.pkl PORT=5000 /usr/bin/python3 bench/serve/flask_server.py
    MODEL=... gunicorn -w 2 -b 127.0.0.1:5001 --chdir bench/serve flask_server:app

Debian packages: python3-flask, python3-sklearn, gunicorn (scripts/deps.sh bench).
"""
import os
import pickle

from flask import Flask, jsonify, request

with open(os.environ["MODEL"], "rb") as fh:
    MODEL = pickle.load(fh)

app = Flask(__name__)


@app.post("/predict")
def predict():
    row = request.get_json(force=True)["features"]
    proba = MODEL.predict_proba([row])
    return jsonify({"prediction": [float(proba[0, 1])]})


@app.get("/health")
def health():
    return "ok"


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")), threaded=True)
