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
import resource
import sys

sys.path.insert(0, os.path.dirname(__file__))
from timing import machine, write_markdown  # noqa: E402  (first: it sets the thread-pool environment)

import minigan  # noqa: E402
from minigan.profiler import profile  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="dcgan", choices=["dcgan", "mlp"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=25, help="rows to print (the rest are in 'other ops')")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="cuda: each op is synchronized, so its time is its own, not its launch's")
    parser.add_argument("--markdown", default=None, help="also write the table to this results file")
    args = parser.parse_args(argv)
    from twins import make_pair, minigan_step, move_pair

    if args.device == "cuda":
        minigan.set_device("cuda")
    ours, _ = move_pair(*make_pair(args.arch, batch=args.batch), args.device)
    for _ in range(3):  # warm-up: the optimizers' state, the allocator
        minigan_step(minigan, **ours)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    with profile(synchronize=args.device == "cuda") as prof:
        for _ in range(args.steps):
            minigan_step(minigan, **ours)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / args.steps
    print(f"# {machine()}; device {args.device}")
    print(f"# {args.arch} step, batch {args.batch}, {args.steps} steps profiled; ms per step (self time); "
          f"{faults:.0f} minor page faults per step (backend.KEEPS_FREED_MEMORY = {minigan.backend.KEEPS_FREED_MEMORY})")
    print(prof.table(per=args.steps, top=args.top))
    if args.markdown:
        rows = [(f"**{label}**" if label == "total" else label, "" if calls is None else f"{calls:.0f}",
                 f"{ms:.2f}", f"{share:.1%}") for label, calls, ms, share in prof.summary(args.steps, args.top)]
        write_markdown(args.markdown, f"Where the time of a {args.arch} step goes (batch {args.batch})",
                       ["op (self time)", "calls per step", "ms per step", "share"], rows,
                       [f"minigan.profiler over {args.steps} steps after 3 warm-up steps; self times: a backward's row "
                        "excludes the ops it called, which have rows of their own (\"X in Y.backward\"); "
                        "outside ops: the optimizer, Python between ops. "
                        f"{faults:.0f} minor page faults per step (getrusage; backend.keep_freed_memory "
                        f"{'on' if minigan.backend.KEEPS_FREED_MEMORY else 'off'})."])

if __name__ == "__main__":
    main()
