"""Where the host's time goes in a training step: Python's cProfile over minigan's DCGAN steps.

    python benchmarks/host_profile.py [--device cuda] [--batch 256] [--steps 20] [--top 30]

On a GPU the step's kernels are tiny and run while the host is still launching the
next ones, so the step takes what the host takes: the Python of the autograd engine,
the array library's launch path, the optimizer. profile_step.py synchronizes after each
op to give each op its own device time; this one does not synchronize, and lists the
functions whose own time (tottime) is largest.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys

sys.path.insert(0, os.path.dirname(__file__))
from timing import machine  # noqa: E402  (first: it sets the thread-pool environment)

from twins import make_pair, minigan_step, move_pair  # noqa: E402

import minigan  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="dcgan", choices=["dcgan", "mlp"])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args(argv)
    minigan.set_device(args.device)
    ours, _ = move_pair(*make_pair(args.arch, batch=args.batch), args.device)
    for _ in range(3):  # warm-up: kernels compiled, memory pools filled
        minigan_step(minigan, **ours)
    print(f"# {machine()}; device {args.device}; {args.arch} batch {args.batch}, {args.steps} steps under cProfile")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.steps):
        minigan_step(minigan, **ours)  # ends in .item(): the host waits for the device once per step
    profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"# {stats.total_calls / args.steps:.0f} Python function calls and {stats.total_tt / args.steps * 1e3:.1f} ms per step")
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
