"""Where a training step's time goes: minigan's profiler over whole GAN steps.

    python benchmarks/profile_step.py [--arch dcgan] [--batch 64] [--steps 10]

Prints ``minigan.profiler`` self times per op and step: each forward, and each
backward apart from the ops it calls (those have rows of their own, "X in
Y.backward"); "outside ops" is the rest (optimizer updates, Python between ops).
The step is benchmarks/twins.py's, the one bench_training.py times.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from timing import machine  # noqa: E402  (first: it sets the thread-pool environment)

import minigan  # noqa: E402
from minigan.profiler import profile  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="dcgan", choices=["dcgan", "mlp"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=25, help="rows to print (the rest are in 'other ops')")
    args = parser.parse_args(argv)
    from twins import make_pair, minigan_step

    ours, _ = make_pair(args.arch, batch=args.batch)
    for _ in range(3):  # warm-up: the optimizers' state, the allocator
        minigan_step(minigan, **ours)
    with profile() as prof:
        for _ in range(args.steps):
            minigan_step(minigan, **ours)
    print(f"# {machine()}")
    print(f"# {args.arch} step, batch {args.batch}, {args.steps} steps profiled; ms per step (self time)")
    print(prof.table(per=args.steps, top=args.top))


if __name__ == "__main__":
    main()
