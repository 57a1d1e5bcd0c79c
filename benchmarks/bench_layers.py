"""Forward + backward of single layers at the DCGAN-MNIST shapes, minigan against PyTorch in the same run.

    python benchmarks/bench_layers.py [--repeats 30] [--device cpu|cuda] [--batch 64]

Prints milliseconds per forward+backward (median, interleaved) and the ratio
minigan / PyTorch. Shapes are those of the DCGAN of the training issue at the
given batch: its Linear layers, its convolutions and transposed convolutions
(kernel 4, stride 2, padding 1) and its BatchNorm2d layers in training mode.
Each backward computes the gradients of the input and of every parameter.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from timing import interleaved, machine, write_markdown  # noqa: E402  (first: it sets the thread-pool environment)

import numpy as np  # noqa: E402

import minigan  # noqa: E402
import minigan.nn.functional as F  # noqa: E402


def cases(batch):
    """(name, kind, input shape, parameter shapes) at the DCGAN's shapes."""
    n = batch
    return [
        ("Linear 100->6272", "linear", (n, 100), [(6272, 100)]),
        ("Linear 6272->1", "linear", (n, 6272), [(1, 6272), (1,)]),
        ("Conv2d 1->64, 28x28", "conv", (n, 1, 28, 28), [(64, 1, 4, 4), (64,)]),
        ("Conv2d 64->128, 14x14", "conv", (n, 64, 14, 14), [(128, 64, 4, 4)]),
        ("ConvTranspose2d 128->64, 7x7", "convT", (n, 128, 7, 7), [(128, 64, 4, 4)]),
        ("ConvTranspose2d 64->1, 14x14", "convT", (n, 64, 14, 14), [(64, 1, 4, 4), (1,)]),
        ("BatchNorm2d 128, 7x7", "bn", (n, 128, 7, 7), [(128,), (128,)]),
        ("BatchNorm2d 64, 14x14", "bn", (n, 64, 14, 14), [(64,), (64,)]),
    ]


def forward(lib, kind, x, params, running):
    """The layer's forward with ``lib``'s functional API (minigan's mirrors PyTorch's names)."""
    if kind == "linear":
        return lib.linear(x, *params)
    if kind == "conv":
        return lib.conv2d(x, *params, stride=2, padding=1)
    if kind == "convT":
        return lib.conv_transpose2d(x, *params, stride=2, padding=1)
    return lib.batch_norm(x, *running, *params, training=True)


def step(lib, kind, x, params, running, ones_like, sync):
    def run():
        for t in [x] + params:
            t.grad = None
        y = forward(lib, kind, x, params, running)
        y.backward(ones_like(y))
        sync()
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--markdown", default=None, help="also write the table to this results file")
    args = parser.parse_args(argv)
    rows = []
    minigan.set_device(args.device)
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and args.device == "cuda":  # float32 in both, as in twins.move_pair
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    print(f"# {machine()}; device {args.device}")
    print(f"{f'case (batch {args.batch})':<32} {'minigan ms':>11} {'PyTorch ms':>11} {'ratio':>7}")
    rng = np.random.default_rng(0)
    sync_ours = (lambda: minigan.backend.synchronize(minigan.zeros(1).data))
    for name, kind, x_shape, p_shapes in cases(args.batch):
        x_np = rng.standard_normal(x_shape).astype(np.float32)
        p_np = [(rng.standard_normal(s) * 0.05 + (1.0 if kind == "bn" and i == 0 else 0.0)).astype(np.float32)
                for i, s in enumerate(p_shapes)]
        c = x_shape[1]
        run_np = [np.zeros(c, np.float32), np.ones(c, np.float32)] if kind == "bn" else []
        mx = minigan.tensor(x_np, requires_grad=True)
        mp = [minigan.tensor(a, requires_grad=True) for a in p_np]
        timed = {"minigan": step(F, kind, mx, mp, [minigan.tensor(a) for a in run_np], minigan.ones_like, sync_ours)}
        if torch is not None:
            device = "cuda" if args.device == "cuda" else "cpu"
            tx = torch.tensor(x_np, requires_grad=True, device=device)
            tp = [torch.tensor(a, requires_grad=True, device=device) for a in p_np]
            tr = [torch.tensor(a, device=device) for a in run_np]
            sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
            timed["torch"] = step(torch.nn.functional, kind, tx, tp, tr, torch.ones_like, sync)
        times = interleaved(timed, repeats=args.repeats)
        ours, theirs = times["minigan"], times.get("torch")
        ratio = f"{ours / theirs:7.2f}" if theirs else "    n/a"
        print(f"{name:<32} {ours:>11.2f} {theirs if theirs else float('nan'):>11.2f} {ratio}", flush=True)
        rows.append((name, f"{ours:.2f}", f"{theirs:.2f}" if theirs else "n/a", ratio.strip()))
    if args.markdown:
        write_markdown(args.markdown, f"Layers forward + backward on {args.device}, minigan against PyTorch",
                       [f"layer (batch {args.batch})", "minigan ms", "PyTorch ms", "minigan / PyTorch"], rows,
                       [f"Forward, then backward for the input and every parameter; medians of {args.repeats} "
                        "interleaved repetitions; convolutions k4 s2 p1, BatchNorm2d in training mode."
                        + (" PyTorch's TF32 is off: both compute in float32." if args.device == "cuda" else "")])


if __name__ == "__main__":
    main()
