#!/usr/bin/python3
"""The dynamic-batching benchmark's model: an MLP 256-1024-1024-10 (ReLU, softmax), numpy
weights (fixed seed) written with onnx.helper: 256*1024 + 1024*1024 + 1024*10 = 1,320,960
multiply-adds per row, so inference dominates a request. Writes to bench/serve/out/ (not
committed):
  mlp_off/mlp/1/model.onnx              batching off (no config.json)
  mlp_on/mlp/1/model.onnx + config.json  batching on: max_batch_size 64, max_queue_delay_us
                                         from $DELAY_US (default 2000)
  body_mlp.json                          {"features": [256 floats]}, the one request
Run: /usr/bin/python3 bench/serve/make_mlp.py"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(HERE, "out")
rng = np.random.default_rng(1)
sizes = [256, 1024, 1024, 10]
inits, nodes, x = [], [], "features"
for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
    W = (rng.normal(size=(a, b)) / np.sqrt(a)).astype(np.float32)
    B = (rng.normal(size=b) * 0.01).astype(np.float32)
    inits += [numpy_helper.from_array(W, f"W{i}"), numpy_helper.from_array(B, f"B{i}")]
    y = f"g{i}"
    nodes.append(helper.make_node("Gemm", [x, f"W{i}", f"B{i}"], [y], name=f"dense{i}"))
    if i < len(sizes) - 2:
        nodes.append(helper.make_node("Relu", [y], [f"r{i}"], name=f"relu{i}"))
        y = f"r{i}"
    x = y
nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=1, name="softmax"))
graph = helper.make_graph(
    nodes, "mlp_1m",
    [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", sizes[0]])],
    [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", sizes[-1]])],
    inits)
model = helper.make_model(graph, producer_name="mlship-bench", opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
delay = int(os.environ.get("DELAY_US", "2000"))
for mode in ("off", "on"):
    d = os.path.join(out, f"mlp_{mode}", "mlp", "1")
    os.makedirs(d, exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    if mode == "on":
        with open(os.path.join(out, "mlp_on", "mlp", "config.json"), "w") as f:
            json.dump({"batching": {"max_batch_size": 64, "max_queue_delay_us": delay}}, f)
row = rng.normal(size=sizes[0]).astype(np.float32)
with open(os.path.join(out, "body_mlp.json"), "w") as f:
    json.dump({"features": [round(float(v), 6) for v in row]}, f)
macs = sum(a * b for a, b in zip(sizes, sizes[1:]))
print(f"mlp {'-'.join(map(str, sizes))}: {macs:,} multiply-adds per row; batching delay {delay} us")
