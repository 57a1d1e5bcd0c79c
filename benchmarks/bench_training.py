"""Whole GAN training steps, minigan against PyTorch in the same run, from identical weights and data.

    python benchmarks/bench_training.py [--repeats 20] [--batch 64 256] [--arch mlp dcgan]

One step = one D update on a real and a fake batch and one G update, Adam for
both (benchmarks/twins.py). Prints milliseconds (median, interleaved) and the
ratio minigan / PyTorch, and for the DCGAN the floor: its FLOPs counted
analytically over this machine's measured float32 GEMM rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from timing import interleaved, machine, write_markdown  # noqa: E402  (first: it sets the thread-pool environment)

import numpy as np  # noqa: E402
from twins import make_pair, minigan_step, move_pair, torch_step  # noqa: E402

import minigan  # noqa: E402


def dcgan_flops(batch, latent=100, width=64):
    """Multiply-adds x 2 of one DCGAN step: forward, and backward (2x forward) where gradients flow."""
    def conv(n, cin, cout, out_hw, k=4):  # a conv or transposed conv: one MAC per weight per output pixel
        return 2 * n * cin * cout * k * k * out_hw * out_hw
    g_linear = 2 * batch * latent * 2 * width * 49
    g_ct1 = conv(batch, 2 * width, width, 7)     # a transposed conv costs what its adjoint conv costs
    g_ct2 = conv(batch, width, 1, 14)
    d_c1 = conv(batch, 1, width, 14)
    d_c2 = conv(batch, width, 2 * width, 7)
    d_lin = 2 * batch * 2 * width * 49
    g_fwd = g_linear + g_ct1 + g_ct2
    d_fwd = d_c1 + d_c2 + d_lin
    # D step: D on real and fake (fwd + bwd for weights, and for inputs except the first layer's)
    d_step = 2 * (d_fwd + (d_fwd + d_fwd - d_c1))
    # G step: D forward, D backward to its input only (its weights are frozen), G backward
    # for weights and inputs (none for z)
    g_step = d_fwd + d_fwd + (g_fwd + g_fwd - g_linear)
    return g_fwd + d_step + g_step  # the generator's forward makes the fakes once


def gemm_rate(device="cpu", n=None, repeats=10):
    """The float32 matrix-product rate minigan's array library reaches: NumPy at 1024^3 on the
    CPU, CuPy at 4096^3 on the GPU (a size that fills it), synchronized before the clock stops."""
    n = n or (4096 if device == "cuda" else 1024)
    a = minigan.backend.asarray(np.random.default_rng(0).standard_normal((n, n)), dtype="float32", device=device)
    a @ a
    minigan.backend.synchronize(a)
    start = time.perf_counter()
    for _ in range(repeats):
        b = a @ a
    minigan.backend.synchronize(b)
    return 2 * n ** 3 * repeats / (time.perf_counter() - start)


CUDA_NOTE = (" On the GPU both frameworks compute in true float32: TF32, PyTorch's default for convolutions, "
             "is turned off (twins.move_pair), so the two do the same arithmetic.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--arch", nargs="+", default=["mlp", "dcgan"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="cuda: minigan on CuPy against PyTorch on CUDA (each step ends in .item(), a sync)")
    parser.add_argument("--unfused", action="store_true",
                        help="run minigan's reference array operations where it has fused GPU kernels (backend.Fused)")
    parser.add_argument("--markdown", default=None, help="also write the table to this results file")
    args = parser.parse_args(argv)
    if args.unfused:
        minigan.backend.Fused.enabled = False
    rows = []
    import torch

    if args.device == "cuda":
        minigan.set_device("cuda")
    fused = "" if args.device == "cpu" else ("; fused kernels off" if args.unfused else "; fused kernels on")
    print(f"# {machine()}; device {args.device}{fused}")
    rate = gemm_rate(args.device)
    library = "CuPy, 4096^3" if args.device == "cuda" else "NumPy, 1024^3"
    print(f"# float32 GEMM rate ({library}): {rate / 1e9:.0f} GFLOP/s")
    print(f"{'step':<18} {'minigan ms':>11} {'PyTorch ms':>11} {'ratio':>7} {'floor ms':>9}")
    for arch in args.arch:
        for batch in args.batch:
            ours, theirs = move_pair(*make_pair(arch, batch=batch), args.device)
            times = interleaved(
                {"minigan": lambda: minigan_step(minigan, **ours), "torch": lambda: torch_step(torch, **theirs)},
                repeats=args.repeats,
            )
            floor = f"{dcgan_flops(batch) / rate * 1e3:9.1f}" if arch == "dcgan" else "        -"
            ratio = times["minigan"] / times["torch"]
            print(f"{arch + ' batch ' + str(batch):<18} {times['minigan']:>11.1f} {times['torch']:>11.1f} "
                  f"{ratio:>7.2f} {floor}", flush=True)
            rows.append((f"{arch} batch {batch}", f"{times['minigan']:.1f}", f"{times['torch']:.1f}", f"{ratio:.2f}", floor.strip()))
    if args.markdown:
        write_markdown(args.markdown, f"Training steps on {args.device}{fused}, minigan against PyTorch",
                       ["step", "minigan ms", "PyTorch ms", "minigan / PyTorch", "floor ms"], rows,
                       [f"One step: a D update on a real and a fake batch, a G update, Adam for both; identical weights "
                        f"and data (benchmarks/twins.py); medians of {args.repeats} interleaved repetitions. Floor: the "
                        f"DCGAN step's FLOPs (dcgan_flops) over the float32 GEMM rate {library.split(',')[0]} reached in the same "
                        f"run, {rate / 1e9:.0f} GFLOP/s." + (CUDA_NOTE if args.device == "cuda" else "")])


if __name__ == "__main__":
    main()
