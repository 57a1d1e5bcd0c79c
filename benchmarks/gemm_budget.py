"""What a ratio target leaves once the matrix products are paid: the DCGAN step's GEMMs, alone.

    python benchmarks/gemm_budget.py [--batch 64] [--target 1.3] [--markdown FILE]

minigan's convolutions are im2col and one GEMM each, so its DCGAN step is 30 matrix
products (``dcgan_gemms``: the shapes and operand layouts the ops use, taken from the
same helpers) plus everything else: the window copies, batch norm, the activations,
Adam, Python. This script times the products alone, each on its own shape, as minigan
makes them (``ops.linalg.matmul_arrays``, NumPy's BLAS) and with ``torch.mm`` (PyTorch's)
on the same operands, interleaved with both frameworks' whole steps. Then
``target x PyTorch's step - minigan's products`` is what a target leaves for everything
else, beside what everything else takes now.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import interleaved, machine, write_markdown  # noqa: E402  (first: it sets the thread-pool environment)

import numpy as np  # noqa: E402

import minigan  # noqa: E402
from minigan.nn.functional.conv import _phase_plan, subpixel_applies  # noqa: E402
from minigan.ops.linalg import matmul_arrays  # noqa: E402


def _conv_flops(n, cin, cout, out_hw, k=4):
    return 2 * n * cin * cout * k * k * out_hw * out_hw


def dcgan_gemms(batch, latent=100, width=64):
    """[(label, (m, k, n), a_transposed, b_transposed, calls, useful FLOPs)] of one DCGAN step.

    ``a_transposed``: the op hands BLAS the first operand as a transposed view (gy^T, say),
    likewise the second. ``useful``: the FLOPs of the convolution or product itself, as
    bench_training.dcgan_flops counts them; the sub-pixel transposed convolution computes a
    border of phases that fall outside the output (its m includes them), so its GEMM does more.
    """
    n, c1, c2, flat = batch, width, 2 * width, 2 * width * 49

    def transposed(cin, cout, size_in, size_out, label, calls):
        """A k4 s2 p1 transposed conv (N, cin, size_in^2) -> (N, cout, size_out^2), as minigan's runs it;
        a conv's input gradient is one, whose useful FLOPs are the conv's."""
        useful = _conv_flops(n, cout, cin, size_in)
        if subpixel_applies((4, 4), (2, 2), (1, 1), cin, cout):
            q, lo, hi = _phase_plan(4, 2, 1, size_out)
            return (f"{label}: sub-pixel windows @ weight", (n * (hi - lo) ** 2, q * q * cin, 4 * cout), False, False, calls, useful)
        return (f"{label}: x rows @ weight, then col2im", (n * size_in ** 2, cin, 16 * cout), False, False, calls, useful)

    def conv(cin, cout, size_out, label, calls):  # im2col columns @ the flattened weight, transposed
        return (f"{label}: columns @ weight^T", (n * size_out ** 2, 16 * cin, cout), False, True, calls, _conv_flops(n, cin, cout, size_out))

    def grad_weight(cin, cout, size_out, label, calls):  # gy^T @ columns
        return (f"{label}: gy^T @ columns", (cout, n * size_out ** 2, 16 * cin), True, False, calls, _conv_flops(n, cin, cout, size_out))

    return [
        # G's forward, once: the fakes
        ("G Linear 100->6272: z @ W^T", (n, latent, flat), False, True, 1, 2 * n * latent * flat),
        transposed(c2, c1, 7, 14, "G ConvT 128->64", 1),
        transposed(c1, 1, 14, 28, "G ConvT 64->1", 1),
        # D's forward: real, fake (D update), fake again (G update)
        conv(1, c1, 14, "D Conv 1->64", 3),
        conv(c1, c2, 7, "D Conv 64->128", 3),
        ("D Linear 6272->1: x @ W^T", (n, flat, 1), False, True, 3, 2 * n * flat),
        # D's backward: the D update's two passes (weights, and inputs but the images'), and
        # the G update's (inputs only: D's weights are frozen)
        ("D Linear: gy @ W (input gradient)", (n, 1, flat), False, False, 3, 2 * n * flat),
        ("D Linear: gy^T @ x (weight gradient)", (1, n, flat), True, False, 2, 2 * n * flat),
        transposed(c2, c1, 7, 14, "D Conv 64->128 input gradient (a ConvT)", 3),
        grad_weight(c1, c2, 7, "D Conv 64->128 weight gradient", 2),
        grad_weight(1, c1, 14, "D Conv 1->64 weight gradient", 2),
        transposed(c1, 1, 14, 28, "D Conv 1->64 input gradient (a ConvT)", 1),
        # G's backward: a transposed conv's input gradient is a conv of gy's windows, its
        # weight gradient x^T @ those windows; the Linear's weight gradient gy^T @ z
        conv(1, c1, 14, "G ConvT 64->1 input gradient (a conv)", 1),
        grad_weight(1, c1, 14, "G ConvT 64->1 weight gradient", 1),
        conv(c1, c2, 7, "G ConvT 128->64 input gradient (a conv)", 1),
        grad_weight(c1, c2, 7, "G ConvT 128->64 weight gradient", 1),
        ("G Linear: gy^T @ z (weight gradient)", (flat, n, latent), True, False, 1, 2 * n * latent * flat),
    ]


def gemm_flops(gemms):
    """(FLOPs the GEMMs do, FLOPs the step needs): 2 m k n per product, and the useful count."""
    done = sum(2 * m * k * n * count for _, (m, k, n), _, _, count, _ in gemms)
    return done, sum(useful * count for *_, count, useful in gemms)


def _operands(shape, ta, tb, rng):
    """Float32 operands of one product, laid out as the op lays them out (a transposed view or not)."""
    m, k, n = shape
    a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
    return (a.T if ta else a), (b.T if tb else b)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--target", type=float, default=1.3, help="the ratio to PyTorch's step to budget for")
    parser.add_argument("--markdown", default=None, help="also write the table to this results file")
    args = parser.parse_args(argv)
    import torch

    from twins import make_pair, minigan_step, torch_step

    gemms = dcgan_gemms(args.batch)
    rng = np.random.default_rng(0)
    operands = [_operands(shape, ta, tb, rng) for _, shape, ta, tb, _, _ in gemms]
    tensors = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in operands]
    cases = {}
    for i, (a, b) in enumerate(operands):
        cases[f"numpy {i}"] = lambda a=a, b=b: matmul_arrays(a, b)  # as minigan's ops call it
        cases[f"torch {i}"] = lambda a=tensors[i][0], b=tensors[i][1]: torch.mm(a, b)
    ours, theirs = make_pair("dcgan", batch=args.batch)
    cases["minigan step"] = lambda: minigan_step(minigan, **ours)
    cases["torch step"] = lambda: torch_step(torch, **theirs)
    times = interleaved(cases, repeats=args.repeats)

    print(f"# {machine()}; DCGAN step, batch {args.batch}")
    rows, numpy_total, torch_total = [], 0.0, 0.0
    for i, (label, (m, k, n), ta, tb, count, _) in enumerate(gemms):
        ours_ms, theirs_ms = times[f"numpy {i}"] * count, times[f"torch {i}"] * count
        numpy_total, torch_total = numpy_total + ours_ms, torch_total + theirs_ms
        layout = ("A^T" if ta else "A") + " " + ("B^T" if tb else "B")
        rows.append((label, f"({m}, {k}) @ ({k}, {n})", layout, count, f"{ours_ms:.2f}", f"{theirs_ms:.2f}"))
    done, useful = gemm_flops(gemms)
    step, torch_step_ms = times["minigan step"], times["torch step"]
    calls = sum(g[4] for g in gemms)
    rows.append((f"**all {calls} products**", f"{done / 1e9:.2f} GFLOP", "", calls, f"**{numpy_total:.1f}**", f"**{torch_total:.1f}**"))
    left = args.target * torch_step_ms - numpy_total
    budget = [
        f"minigan's step {step:.1f} ms: its products {numpy_total:.1f} ms ({numpy_total / step:.0%}), everything else {step - numpy_total:.1f} ms.",
        f"PyTorch's step {torch_step_ms:.1f} ms; its BLAS does the same products in {torch_total:.1f} ms.",
        f"A step at {args.target}x PyTorch's is {args.target * torch_step_ms:.1f} ms: after minigan's products, "
        f"{left:.1f} ms for everything else, which takes {step - numpy_total:.1f} ms now ({(step - numpy_total) / max(left, 1e-9):.1f}x that).",
        f"The products do {done / 1e9:.2f} GFLOP where the step needs {useful / 1e9:.2f} (dcgan_flops): the rest is the "
        f"sub-pixel windows' border phases; at NumPy's rate here {done / numpy_total / 1e6:.0f} GFLOP/s.",
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'product':<{width}} {'shape':>26} {'layout':>8} {'calls':>5} {'minigan ms':>10} {'torch.mm ms':>11}")
    for r in rows:
        print(f"{r[0].strip('*'):<{width}} {r[1]:>26} {r[2]:>8} {r[3]:>5} {r[4].strip('*'):>10} {r[5].strip('*'):>11}")
    print("\n".join(budget))
    if args.markdown:
        write_markdown(
            args.markdown, f"The DCGAN step's matrix products alone, batch {args.batch}, on the CPU",
            ["product", "shape", "operands", "calls per step", "minigan (NumPy) ms per step", "torch.mm ms per step"], rows,
            [f"Each product minigan's DCGAN step makes (dcgan_gemms: its shapes and operand layouts, A^T a transposed view), "
             f"timed alone on float32 operands as minigan makes them (matmul_arrays, NumPy) and with torch.mm, interleaved with both frameworks' whole steps; "
             f"medians of {args.repeats} repetitions, times the calls per step.", ""] + budget,
        )
    return {"step": step, "torch_step": torch_step_ms, "numpy_gemms": numpy_total, "torch_gemms": torch_total, "left": left}


if __name__ == "__main__":
    main()
