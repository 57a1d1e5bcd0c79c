"""Peak memory of one GAN training step, minigan against PyTorch.

    python benchmarks/bench_memory.py [--arch dcgan mlp] [--batch 64 256] [--device cpu|cuda]

Peak memory is a high-water mark of a whole process, so each measurement runs in
a fresh process of its own. Both kinds of process do the same setup (import both
frameworks, build both twins with the same weights, benchmarks/twins.py) and
differ only in which framework then trains; what is reported is the growth of
the peak over the set-up process: activations, gradients, the optimizers' state
and temporaries of three training steps.

- CPU: the peak resident set (getrusage's ru_maxrss) minus the resident set
  before the first step.
- GPU: PyTorch's max_memory_allocated; for CuPy, the bytes the memory pool holds
  after the steps (the pool keeps freed blocks, so this is its high-water mark).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from timing import machine, write_markdown  # noqa: E402  (first: it sets the thread-pool environment)


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def worker(framework, arch, batch, device, steps=3):
    """Run in a fresh process: set up both twins, train ``framework``'s, print the peak growth in bytes."""
    import torch

    import minigan
    from twins import make_pair, minigan_step, torch_step

    ours, theirs = make_pair(arch, batch=batch)
    if device == "cuda":
        from twins import move_pair

        if framework == "minigan":
            import cupy

            minigan.set_device("cuda")
            move_pair(ours, theirs, "cuda")
            pool = cupy.get_default_memory_pool()
            cupy.cuda.Device().synchronize()
            before = pool.total_bytes()
            for _ in range(steps):
                minigan_step(minigan, **ours)
            cupy.cuda.Device().synchronize()
            return pool.total_bytes() - before
        move_pair(ours, theirs, "cuda")
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        for _ in range(steps):
            torch_step(torch, **theirs)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    before = _rss_bytes()
    for _ in range(steps):
        if framework == "minigan":
            minigan_step(minigan, **ours)
        else:
            torch_step(torch, **theirs)
    return _peak_rss_bytes() - before


def measure(framework, arch, batch, device):
    out = subprocess.run(
        [sys.executable, __file__, "--worker", framework, "--arch", arch, "--batch", str(batch), "--device", device],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench_memory: the {framework} worker failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["bytes"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=["dcgan", "mlp"])
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--markdown", default=None, help="also write the table to this results file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps({"bytes": worker(args.worker, args.arch[0], args.batch[0], args.device)}))
        return
    what = "peak resident set growth" if args.device == "cpu" else "device memory pool growth"
    print(f"# {machine()}; device {args.device}; {what}, 3 steps, each in a fresh process")
    print(f"{'step':<18} {'minigan MB':>11} {'PyTorch MB':>11} {'ratio':>7}")
    rows = []
    for arch in args.arch:
        for batch in args.batch:
            ours = measure("minigan", arch, batch, args.device)
            theirs = measure("torch", arch, batch, args.device)
            print(f"{arch + ' batch ' + str(batch):<18} {ours / 2**20:>11.1f} {theirs / 2**20:>11.1f} "
                  f"{ours / theirs:>7.2f}", flush=True)
            rows.append((f"{arch} batch {batch}", f"{ours / 2**20:.1f}", f"{theirs / 2**20:.1f}", f"{ours / theirs:.2f}"))
    if args.markdown:
        write_markdown(args.markdown, f"Peak memory of a training step on {args.device}, minigan against PyTorch",
                       ["step", "minigan MB", "PyTorch MB", "minigan / PyTorch"], rows,
                       [f"The {what} over 3 steps, each framework in a fresh process after the same set-up "
                        "(both twins built, benchmarks/twins.py)."])


if __name__ == "__main__":
    main()
