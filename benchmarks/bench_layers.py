"""Forward + backward of the DCGAN-MNIST convolutions, minigan against PyTorch in the same run.

    python benchmarks/bench_layers.py [--repeats 30] [--device cpu|cuda]

Prints milliseconds per forward+backward (median, interleaved) and the ratio
minigan / PyTorch. Shapes: batch 64, kernel 4, stride 2, padding 1, as in the
DCGAN of the training issue.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from timing import interleaved, machine  # noqa: E402

import minigan  # noqa: E402
import minigan.nn.functional as F  # noqa: E402

CASES = [
    # name, kind, input shape, weight shape
    ("Conv2d 1->64, 28x28", "conv", (64, 1, 28, 28), (64, 1, 4, 4)),
    ("Conv2d 64->128, 14x14", "conv", (64, 64, 14, 14), (128, 64, 4, 4)),
    ("ConvTranspose2d 128->64, 7x7", "convT", (64, 128, 7, 7), (128, 64, 4, 4)),
    ("ConvTranspose2d 64->1, 14x14", "convT", (64, 64, 14, 14), (64, 1, 4, 4)),
]


def minigan_step(kind, x, w, b):
    def run():
        x.grad = w.grad = b.grad = None
        op = F.conv2d if kind == "conv" else F.conv_transpose2d
        y = op(x, w, b, stride=2, padding=1)
        y.backward(minigan.ones_like(y))
    return run


def torch_step(torch, kind, x, w, b):
    def run():
        x.grad = w.grad = b.grad = None
        op = torch.nn.functional.conv2d if kind == "conv" else torch.nn.functional.conv_transpose2d
        y = op(x, w, b, stride=2, padding=1)
        y.backward(torch.ones_like(y))
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    minigan.set_device(args.device)
    try:
        import torch
    except ImportError:
        torch = None
    print(f"# {machine()}; device {args.device}")
    print(f"{'case (batch 64, k4 s2 p1)':<32} {'minigan ms':>11} {'PyTorch ms':>11} {'ratio':>7}")
    rng = np.random.default_rng(0)
    for name, kind, x_shape, w_shape in CASES:
        x_np = rng.standard_normal(x_shape).astype(np.float32)
        w_np = (rng.standard_normal(w_shape) * 0.05).astype(np.float32)
        b_np = np.zeros(w_shape[0] if kind == "conv" else w_shape[1], np.float32)
        cases = {"minigan": minigan_step(kind, *(minigan.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np)))}
        if torch is not None:
            device = "cuda" if args.device == "cuda" else "cpu"
            tensors = [torch.tensor(a, requires_grad=True, device=device) for a in (x_np, w_np, b_np)]
            step = torch_step(torch, kind, *tensors)
            cases["torch"] = (lambda step=step: (step(), torch.cuda.synchronize())) if device == "cuda" else step
        times = interleaved(cases, repeats=args.repeats)
        ours, theirs = times["minigan"], times.get("torch")
        ratio = f"{ours / theirs:7.2f}" if theirs else "    n/a"
        print(f"{name:<32} {ours:>11.2f} {theirs if theirs else float('nan'):>11.2f} {ratio}", flush=True)


if __name__ == "__main__":
    main()
