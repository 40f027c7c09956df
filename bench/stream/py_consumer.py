#!/usr/bin/python3
"""The stream scorer a team writes today, for bench/stream/run.sh: redis-py and a pickled
scikit-learn classifier in a consumer group.

    XREADGROUP GROUP mlship NAME COUNT n BLOCK 100 STREAMS STREAM >
    -> parse the comma-separated `features` of each entry -> predict_proba(batch)[:, 1]
    -> XADD STREAM:results {id, ts, probability} per entry -> XACK the batch

--count 64 sends the XADDs and the XACK of a batch in one pipeline; --count 1 --no-pipeline is
the tutorial's loop (three round trips per event). `ts` is passed through so the driver
(stream_bench.c) times every system the same way. Runs until SIGTERM.
"""
import argparse
import os
import pickle
import signal

import numpy as np
import redis

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--model", required=True)
ap.add_argument("--stream", default="events")
ap.add_argument("--count", type=int, default=64)
ap.add_argument("--no-pipeline", action="store_true")
args = ap.parse_args()

running = True


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
with open(args.model, "rb") as f:
    model = pickle.load(f)
r = redis.Redis(host="127.0.0.1", port=args.port, decode_responses=True)
try:
    r.xgroup_create(args.stream, "mlship", id="0", mkstream=True)
except redis.ResponseError as e:
    if "BUSYGROUP" not in str(e):
        raise
name = f"py-{os.getpid()}"
out = args.stream + ":results"
while running:
    resp = r.xreadgroup("mlship", name, {args.stream: ">"}, count=args.count, block=100)
    if not resp or not resp[0][1]:
        continue
    msgs = resp[0][1]
    X = np.array([[float(v) for v in m["features"].split(",")] for _, m in msgs], dtype=np.float32)
    p = model.predict_proba(X)[:, 1]
    if args.no_pipeline:
        for (_, m), pi in zip(msgs, p):
            r.xadd(out, {"id": m["id"], "ts": m["ts"], "probability": repr(float(pi))})
        r.xack(args.stream, "mlship", *[mid for mid, _ in msgs])
    else:
        pipe = r.pipeline(transaction=False)
        for (_, m), pi in zip(msgs, p):
            pipe.xadd(out, {"id": m["id"], "ts": m["ts"], "probability": repr(float(pi))})
        pipe.xack(args.stream, "mlship", *[mid for mid, _ in msgs])
        pipe.execute()
