#!/usr/bin/python3
"""Make the benchmark models for bench/runtime_bench.sh (run with /usr/bin/python3: Debian's
python3-torch 1.13, python3-onnx, python3-numpy).

Writes into bench/models/ (or the folder given as the first argument), for each model NAME:
  NAME.onnx      torch.onnx.export, opset 13, input "input" / output "output", dynamic batch "batch"
  NAME.X.npy     1024 random float32 rows (fixed seed)
  NAME.REF.npy   torch's own output on X (float32)

Models:
  mlp  64 -> 256 -> ReLU -> 256 -> ReLU -> 10          (Gemm, Relu)
  cnn  1x1x28x28: Conv3x3(8) ReLU MaxPool2 Conv3x3(16) ReLU MaxPool2 Flatten Gemm(64) Relu Gemm(10)
Everything is seeded, so rerunning gives the same files on the same torch/numpy versions.
"""
import os
import sys

import numpy as np
import torch
from torch import nn

ROWS = 1024


def mlp():
    return nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(),
        nn.Linear(256, 256), nn.ReLU(),
        nn.Linear(256, 10),
    ), (64,)


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8x14x14
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16x7x7
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 64), nn.ReLU(),
        nn.Linear(64, 10),
    ), (1, 28, 28)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
    os.makedirs(out, exist_ok=True)
    for i, (name, make) in enumerate([("mlp", mlp), ("cnn", cnn)]):
        torch.manual_seed(1234 + i)
        model, shape = make()
        model.eval()
        rng = np.random.default_rng(4321 + i)
        x = rng.standard_normal((ROWS,) + shape, dtype=np.float32)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy().astype(np.float32)
        path = os.path.join(out, name + ".onnx")
        torch.onnx.export(
            model, torch.from_numpy(x[:1]), path,
            opset_version=13, input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            do_constant_folding=True,
        )
        np.save(os.path.join(out, name + ".X.npy"), x)
        np.save(os.path.join(out, name + ".REF.npy"), ref)
        import onnx
        m = onnx.load(path)
        onnx.checker.check_model(m)
        ops = [n.op_type for n in m.graph.node]
        print(f"{name}: {path} ops={ops} X={x.shape} REF={ref.shape}")


if __name__ == "__main__":
    main()
