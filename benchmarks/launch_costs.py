"""What one array operation costs the host: microseconds per call, on arrays too small to matter.

    python benchmarks/launch_costs.py [--device cuda] [--calls 2000] [--markdown FILE]

A small GAN's step on a GPU is host-bound: its kernels finish faster than Python can
launch the next ones (chapter 13), so a step costs about (calls made) x (host time per
call). This times each kind of call minigan's step makes, on a (64, 8, 7, 7) array,
N calls in a row and one synchronization at the end; where PyTorch is installed, its
nearest equivalent is timed in the same run. Medians of 5 rounds. Then the fused kernels
(and a few other functions) as minigan's DCGAN step calls them (``--batch``): the host
time of each call, in place, where everything runs slower than in a loop of one call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from timing import machine, write_markdown  # noqa: E402  (first: it sets the thread-pool environment)

import numpy as np  # noqa: E402

import minigan  # noqa: E402
from minigan import backend  # noqa: E402
from minigan.nn.functional.activations import leaky_relu_kernel  # noqa: E402
from minigan.nn.functional.batchnorm import channel_mean_kernel  # noqa: E402


def _per_call_us(fn, calls, sync):
    for _ in range(20):  # warm-up: kernels compiled, caches filled
        fn()
    sync()
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        rounds.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(rounds)


def minigan_cases(device):
    shape = (64, 8, 7, 7)
    rng = np.random.default_rng(0)
    a = backend.asarray(rng.standard_normal(shape), dtype="float32", device=device)
    b = backend.asarray(rng.standard_normal(shape), dtype="float32", device=device)
    xp = backend.get_namespace(a)
    mean = xp.mean(a, axis=(0, 2, 3), keepdims=True)
    rows = xp.reshape(a, (64, -1))
    w = backend.asarray(rng.standard_normal((392, 8)), dtype="float32", device=device)
    out = xp.empty((64, 9, 9, 8), dtype=a.dtype)
    ta, tb = minigan.tensor(a, requires_grad=True), minigan.tensor(b)

    a_cl = xp.permute_dims(a, (0, 2, 3, 1))

    def set_slice():
        out[:, 1:8, 1:8, :] = a_cl

    return lambda: backend.synchronize(a), {
        "array + array": lambda: a + b,
        "array * Python float": lambda: a * 0.2,
        "array - per-channel array (broadcast)": lambda: a - mean,
        "fused elementwise kernel (leaky_relu)": lambda: leaky_relu_kernel(a, 0.2),
        "xp.sum over (N, H, W)": lambda: xp.sum(a, axis=(0, 2, 3)),
        "fused per-channel reduction (channel_mean)": lambda: channel_mean_kernel(a, 3136),
        "matrix product (64, 392) @ (392, 8)": lambda: rows @ w,
        "reshape (a view)": lambda: xp.reshape(a, (64, 392)),
        "zeros (64, 8, 7, 7)": lambda: xp.zeros(shape, dtype=a.dtype),
        "slice assignment": set_slice,
        "minigan Tensor op, recorded (a + b)": lambda: ta + tb,
    }


def torch_cases(device):
    import torch

    dev = "cuda" if device == "cuda" else "cpu"
    a = torch.randn(64, 8, 7, 7, device=dev)
    b = torch.randn(64, 8, 7, 7, device=dev)
    mean = a.mean(dim=(0, 2, 3), keepdim=True)
    rows, w = a.reshape(64, -1), torch.randn(392, 8, device=dev)
    out = torch.empty(64, 9, 9, 8, device=dev)
    al = a.clone().requires_grad_(True)
    a_cl = a.permute(0, 2, 3, 1)

    def set_slice():
        out[:, 1:8, 1:8, :] = a_cl

    return {
        "array + array": lambda: a + b,
        "array * Python float": lambda: a * 0.2,
        "array - per-channel array (broadcast)": lambda: a - mean,
        "fused elementwise kernel (leaky_relu)": lambda: torch.nn.functional.leaky_relu(a, 0.2),
        "xp.sum over (N, H, W)": lambda: a.sum(dim=(0, 2, 3)),
        "fused per-channel reduction (channel_mean)": lambda: a.mean(dim=(0, 2, 3), keepdim=True),
        "matrix product (64, 392) @ (392, 8)": lambda: rows @ w,
        "reshape (a view)": lambda: a.reshape(64, 392),
        "zeros (64, 8, 7, 7)": lambda: torch.zeros(64, 8, 7, 7, device=dev),
        "slice assignment": set_slice,
        "minigan Tensor op, recorded (a + b)": lambda: al + b,
    }


# Functions the step calls that are not fused kernels, timed the same way: the per-channel
# sums of batch norm's gradients (xp.sum on the GPU) and the weight layouts of the convolutions.
OTHER_CALLS = [
    ("minigan.nn.functional.batchnorm", "channel_sums"),
    ("minigan.nn.functional.conv", "_flat_weight"),
    ("minigan.nn.functional.conv", "_subpixel_weight"),
]


def calls_in_a_step(device, batch, steps=10):
    """{name: (calls per step, mean host microseconds per call)} over DCGAN steps, for every
    fused kernel and OTHER_CALLS, each call timed where the step makes it."""
    import importlib

    from twins import make_pair, minigan_step, move_pair

    from minigan.backend import Fused, FusedChannelSum

    ours, _ = move_pair(*make_pair("dcgan", batch=batch), device)
    for _ in range(3):
        minigan_step(minigan, **ours)
    times = {}

    def timer(name, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            result = fn(*args, **kwargs)
            times.setdefault(name(args), []).append(time.perf_counter() - start)
            return result
        return timed

    patched = []
    for kind in (Fused, FusedChannelSum):  # the per-channel sums have a __call__ of their own
        patched.append((kind, "__call__", kind.__dict__["__call__"]))
        setattr(kind, "__call__", timer(lambda args: args[0].name, kind.__dict__["__call__"]))
    for module_name, attr in OTHER_CALLS:
        module = importlib.import_module(module_name)
        patched.append((module, attr, getattr(module, attr)))
        setattr(module, attr, timer(lambda args, attr=attr: attr + "()", getattr(module, attr)))
    try:
        for _ in range(steps):
            minigan_step(minigan, **ours)
    finally:
        for owner, attr, value in patched:
            setattr(owner, attr, value)
    return {k: (len(v) / steps, statistics.mean(v) * 1e6) for k, v in sorted(times.items(), key=lambda kv: -sum(kv[1]))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=256, help="the DCGAN step's batch, for the fused kernels' table")
    parser.add_argument("--markdown", help="also write the per-call table to this results file")
    parser.add_argument("--step-markdown", help="also write the table of the calls in a step to this results file")
    args = parser.parse_args(argv)
    minigan.set_device(args.device)
    sync, cases = minigan_cases(args.device)
    ours = {k: _per_call_us(fn, args.calls, sync) for k, fn in cases.items()}
    theirs = {}
    try:
        import torch

        sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
        theirs = {k: _per_call_us(fn, args.calls, sync) for k, fn in torch_cases(args.device).items()}
    except ImportError:
        pass
    rows = [(name, f"{us:.1f}", f"{theirs[name]:.1f}" if name in theirs else "-") for name, us in ours.items()]
    step_rows = [(name, f"{calls:g}", f"{us:.1f}", f"{calls * us / 1e3:.2f}")
                 for name, (calls, us) in calls_in_a_step(args.device, args.batch).items()]
    header, step_header = ("call", "minigan us", "PyTorch us"), ("call in the step", "calls per step", "host us per call", "host ms per step")
    print(f"# {machine()}; device {args.device}; {args.calls} calls per round, median of 5 rounds")
    for table_header, table_rows in ((header, rows), (step_header, step_rows)):
        print("| " + " | ".join(table_header) + " |")
        print("\n".join("| " + " | ".join(row) + " |" for row in table_rows) + "\n")
    if args.markdown:
        write_markdown(args.markdown, f"Host time per array call on {args.device}, minigan against PyTorch", header, rows, notes=[
            f"Each call on a (64, 8, 7, 7) float32 array, too small for its arithmetic to matter: {args.calls} calls "
            "in a row, one synchronization, median of 5 rounds. PyTorch's row is its nearest equivalent (its mean for "
            "the per-channel reduction, an autograd-recorded add for the Tensor op)."])
    if args.step_markdown:
        write_markdown(args.step_markdown, f"Host time of the fused kernels in a DCGAN step on {args.device}", step_header, step_rows, notes=[
            f"Each call timed where minigan's DCGAN step (batch {args.batch}) makes it, over 10 steps: every fused "
            "kernel, and the functions named with (). On the GPU a call returns once its kernel is queued: this is "
            "the host's time."])


if __name__ == "__main__":
    main()
