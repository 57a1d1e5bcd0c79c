"""Make the book's figures with minigan itself, and matplotlib.

    python chapters/figures/make_figures.py       # from the repository root; writes PNGs beside this file

diamond-graph.png (chapter 2): the graph of d = b + b*b with b = 2a, as minigan
records it, each node numbered in the order minigan's backward pass runs it and
each edge labelled with the gradient that flows along it.

eps-u-curve.png (chapter 3): the error of a central difference of exp at x = 1
against the step eps, in float32 and float64, with the model
eps^2 |f'''| / 6 + u |f| / eps.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run from a checkout without installing minigan

import minigan as mg  # noqa: E402
from minigan.autograd import _topological_order  # noqa: E402


def diamond_graph(path):
    a = mg.tensor(3.0, requires_grad=True)
    b = a * 2
    c = b * b
    d = b + c
    names = {id(b.grad_fn): "B", id(c.grad_fn): "C", id(d.grad_fn): "D"}
    order = _topological_order([d.grad_fn])

    # Walk the graph as the backward pass does, recording the gradient sent along each edge.
    edges = []  # (from, to, gradient): "from" is the input, "to" the node that consumed it
    pending = {id(d.grad_fn): mg.ones_like(d)}
    with mg.no_grad():
        for node in order:
            gy = pending.pop(id(node))
            for x, g in zip(node.inputs, node.backward(gy)):
                if g is None:  # the constant 2 in a * 2
                    continue
                source = "a" if x.grad_fn is None else names[id(x.grad_fn)]
                edges.append((source, names[id(node)], g.item()))
                if x.grad_fn is not None:
                    key = id(x.grad_fn)
                    pending[key] = g if key not in pending else pending[key] + g

    merged = {}  # b*b sends b two gradients, one per use: draw one arrow, "6 + 6"
    for source, target, g in edges:
        merged.setdefault((source, target), []).append(g)
    step = {names[id(n)]: i + 1 for i, n in enumerate(order)}
    labels = {
        "a": "a = 3\nleaf",
        "B": f"B: Mul, b = a * 2 = 6\nbackward #{step['B']}",
        "C": f"C: Mul, c = b * b = 36\nbackward #{step['C']}",
        "D": f"D: Add, d = b + c = 42\nbackward #{step['D']}",
    }
    where = {"D": (0.0, 3.0), "C": (1.2, 2.0), "B": (0.0, 1.0), "a": (0.0, 0.0)}

    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    for (source, target), grads in merged.items():
        (x0, y0), (x1, y1) = where[source], where[target]
        ax.annotate(
            "", xy=(x1, y1 - 0.3), xytext=(x0, y0 + 0.3),
            arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.4, shrinkA=0, shrinkB=0),
        )
        text = "grad " + " + ".join(f"{g:g}" for g in grads)
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        ax.text(mx + (0.08 if x0 == x1 else 0.12), my - (0.0 if x0 == x1 else 0.12), text, color="C3",
                fontsize=10, ha="left", va="center")
    for name, (x, y) in where.items():
        box = dict(boxstyle="round,pad=0.4", fc="#e8f0fb" if name != "a" else "#fdf1dc", ec="0.3")
        ax.text(x, y, labels[name], ha="center", va="center", fontsize=10, bbox=box)
    ax.text(-1.1, 1.0, "grad of b:\n1 + 12 = 13", ha="right", va="center", fontsize=10, color="C3")
    ax.text(0.0, -0.55, "a.grad = 2 x 13 = 26", ha="center", fontsize=10, color="C3")
    ax.set_xlim(-2.0, 2.4)
    ax.set_ylim(-0.8, 3.5)
    ax.axis("off")
    ax.set_title("d = b + b*b, b = 2a: arrows point forward, gradients flow back", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def central_difference(f, x, eps):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def eps_u_curve(path):
    eps = np.logspace(-13, 0, 157)
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    for dtype, u, color in (("float32", 2.0**-24, "C3"), ("float64", 2.0**-53, "C0")):
        x = mg.tensor(1.0, dtype=dtype)
        errors = [abs(central_difference(mg.exp, x, float(e)).item() - math.e) for e in eps]
        ax.loglog(eps, np.maximum(errors, 1e-17), ".", ms=4, color=color, label=f"{dtype} (u = {u:.1e})")
        model = eps**2 * math.e / 6 + u * math.e / eps
        ax.loglog(eps, model, "--", lw=1, color=color, alpha=0.7)
        best = (3 * u) ** (1 / 3)  # argmin of the model for |f| = |f'''|
        ax.axvline(best, color=color, lw=0.6, alpha=0.4)
    ax.axhline(1e-5, color="0.4", lw=0.8, ls=":")
    ax.text(3e-11, 2.2e-5, "gradcheck's atol = 1e-5", fontsize=9, color="0.3")
    ax.axvline(1e-6, color="0.4", lw=0.8, ls=":")
    ax.text(1.4e-6, 1e-16, "minigan's eps = 1e-6", fontsize=9, color="0.3")
    ax.text(2e-1, 3e-8, r"truncation $\epsilon^2 |f'''| / 6$", fontsize=9, ha="right")
    ax.text(2e-12, 3e-3, r"rounding $u |f| / \epsilon$", fontsize=9)
    ax.set_xlabel("step eps")
    ax.set_ylabel("|central difference - exact derivative|")
    ax.set_title("Central difference of exp at x = 1: the error is U-shaped in eps")
    ax.set_ylim(1e-17, 1e2)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    mg.set_device("cpu")
    diamond_graph(HERE / "diamond-graph.png")
    eps_u_curve(HERE / "eps-u-curve.png")
    print(f"wrote {HERE / 'diamond-graph.png'} and {HERE / 'eps-u-curve.png'}")


if __name__ == "__main__":
    main()
