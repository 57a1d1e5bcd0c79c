"""What CUDA graph capture would pay: minigan's DCGAN step replayed as one graph, against the same step eager.

    python benchmarks/graph_capture.py [--batch 64 256 1024] [--repeats 30]     (needs CuPy and a GPU)

On a GPU a small GAN's step takes what the host takes to launch its kernels (see
host_profile.py). A CUDA graph records the launches once and replays them with one
call, so a replay costs the device's time alone. This script measures that bound:
it captures one whole step (D update, G update, Adam) on a side stream, with CuPy's
stream-ordered memory pool (allocations inside a graph must be stream-ordered), and
times replays against the eager step and PyTorch's eager step, interleaved, in one run.

A replay is the same work, not yet the same training step: the step's Python scalars
(Adam's bias corrections from the step count, the learning rate) are frozen into the
graph at capture, and the data and noise buffers are fixed. The trainer does not
capture for that reason; this measures whether it would pay.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from timing import interleaved, machine  # noqa: E402  (first: it sets the thread-pool environment)

from twins import make_pair, minigan_step, minigan_step_losses, move_pair, torch_step  # noqa: E402

import minigan  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    minigan.set_device("cuda")  # first: without CuPy or a GPU, its error says which is missing
    import cupy
    import torch

    print(f"# {machine()}; device cuda; CuPy {cupy.__version__}")
    print(f"{'step':<18} {'eager ms':>9} {'graph ms':>9} {'PyTorch ms':>11} {'graph / PyTorch':>16}")
    cupy.cuda.set_allocator(cupy.cuda.MemoryAsyncPool().malloc)
    for batch in args.batch:
        ours, theirs = move_pair(*make_pair("dcgan", batch=batch), "cuda")
        for _ in range(3):  # eager warm-up: kernels compiled, Adam's state created
            minigan_step(minigan, **ours)
        stream = cupy.cuda.Stream(non_blocking=True)
        try:
            with stream:
                minigan_step_losses(minigan, **ours)
                stream.synchronize()
                stream.begin_capture()
                try:
                    minigan_step_losses(minigan, **ours)
                finally:
                    graph = stream.end_capture()
        except Exception as err:  # say what broke capture, and go on with the other sizes
            print(f"dcgan batch {batch}: capture failed: {type(err).__name__}: {err}")
            continue

        def replay():
            graph.launch(stream)
            stream.synchronize()

        start = time.perf_counter()
        replay()
        first = (time.perf_counter() - start) * 1e3
        times = interleaved(
            {"eager": lambda: minigan_step(minigan, **ours), "graph": replay, "torch": lambda: torch_step(torch, **theirs)},
            repeats=args.repeats,
        )
        print(f"{'dcgan batch ' + str(batch):<18} {times['eager']:>9.2f} {times['graph']:>9.2f} {times['torch']:>11.2f} "
              f"{times['graph'] / times['torch']:>16.2f}   (first replay {first:.2f} ms)", flush=True)


if __name__ == "__main__":
    main()
