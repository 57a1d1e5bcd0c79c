"""Make the book's figures with minigan itself, and matplotlib.

    python chapters/figures/make_figures.py       # from the repository root; writes PNGs beside this file

diamond-graph.png (chapter 2): the graph of d = b + b*b with b = 2a, as minigan
records it, each node numbered in the order minigan's backward pass runs it and
each edge labelled with the gradient that flows along it.

eps-u-curve.png (chapter 3): the error of a central difference of exp at x = 1
against the step eps, in float32 and float64, with the model
eps^2 |f'''| / 6 + u |f| / eps.

activations.png (chapter 4): relu, leaky_relu, sigmoid, tanh and softplus, and
their derivatives as minigan's backward computes them.

init-scale.png (chapter 4): the root mean square of a signal through ten
Linear + ReLU layers for four weight initializations, with the prediction
fan_in * var(w) / 2 per layer for the mean square.

im2col.png (chapter 5): a 4 x 4 input, its four 3 x 3 windows, and the matrix
minigan's im2col makes of them, one window per row.

checkerboard.png (chapter 5): how many kernel taps land on each output pixel of
a stride-2 transposed convolution, with kernel 3, with kernel 4, and with two
kernel-3 layers stacked.

running-stats.png (chapter 6): a BatchNorm1d's running mean and variance over
batches from N(3, 4), with momentum 0.1 and momentum None.

Name figures to make only those:

    python chapters/figures/make_figures.py im2col checkerboard
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run from a checkout without installing minigan

import minigan as mg  # noqa: E402
import minigan.nn.functional as F  # noqa: E402
from minigan import backend, nn  # noqa: E402
from minigan.autograd import _topological_order  # noqa: E402
from minigan.nn.functional.conv import im2col  # noqa: E402


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


# ---------------------------------------------------------------- chapter 4

def activations(path):
    x = mg.linspace(-4.0, 4.0, 801, dtype="float64")
    functions = {
        "relu": F.relu,
        "leaky_relu(0.2)": lambda v: F.leaky_relu(v, 0.2),
        "sigmoid": F.sigmoid,
        "tanh": F.tanh,
        "softplus": F.softplus,
    }
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 4.0))
    for i, (name, f) in enumerate(functions.items()):
        leaf = x.detach().requires_grad_()
        y = f(leaf)
        y.sum().backward()  # each output depends on its own input only: the gradient is f'(x)
        left.plot(x.numpy(), y.numpy(), color=f"C{i}", label=name)
        right.plot(x.numpy(), leaf.grad.numpy(), color=f"C{i}", label=name)
    left.set_title("f(x)")
    left.set_ylim(-1.5, 4.0)
    right.set_title("f'(x), from minigan's backward")
    right.set_ylim(-0.1, 1.15)
    for ax in (left, right):
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(0, color="0.6", lw=0.6)
        ax.set_xlabel("x")
    left.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def init_scale(path, depth=10, width=256):
    inits = [  # (label, fill the weight, predicted mean-square factor per layer)
        ("N(0, 1)", lambda w: nn.init.normal_(w), width / 2),
        ("Kaiming N(0, 2/fan_in)", lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"), 1.0),
        ("PyTorch default U(-1/sqrt(fan_in), 1/sqrt(fan_in))", lambda w: None, 1 / 6),
        ("DCGAN N(0, 0.02)", lambda w: nn.init.normal_(w, 0.0, 0.02), width * 0.02**2 / 2),
    ]
    layers = np.arange(0, depth + 1)
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    for i, (label, fill, factor) in enumerate(inits):
        mg.manual_seed(0)
        x = mg.randn(512, width)
        rms = [float(np.sqrt((x.numpy() ** 2).mean()))]
        with mg.no_grad():
            for _ in range(depth):
                layer = nn.Linear(width, width, bias=False)
                fill(layer.weight)
                x = F.relu(layer(x))
                rms.append(float(np.sqrt((x.numpy() ** 2).mean())))
        ax.semilogy(layers, rms, "o", color=f"C{i}", ms=5, label=f"{label}: x{np.sqrt(factor):.3g} per layer")
        # the input has mean square 1; each layer multiplies it by `factor`
        ax.semilogy(layers, np.sqrt(factor) ** layers, "--", color=f"C{i}", lw=1, alpha=0.7)
    ax.set_xlabel("layer (Linear 256 -> 256, then ReLU; no bias)")
    ax.set_ylabel("root mean square of the signal")
    ax.set_title("The weights' scale compounds with depth (dashed: predicted)")
    ax.legend(fontsize=8.5, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- chapter 5

def im2col_figure(path):
    image = mg.arange(16, dtype="float32").reshape(1, 1, 4, 4)
    cols, (oh, ow) = im2col(image.data, (3, 3), (1, 1), (0, 0), (1, 1))
    cols = backend.to_numpy(cols)
    values = image.numpy()[0, 0]
    windows = [(p, q) for p in range(oh) for q in range(ow)]
    colors = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e"]

    fig = plt.figure(figsize=(11.0, 3.4))
    grid = fig.add_gridspec(1, 3, width_ratios=[1.0, 1.3, 2.4], wspace=0.15)

    ax = fig.add_subplot(grid[0])
    for r in range(4):
        for c in range(4):
            ax.add_patch(Rectangle((c, 3 - r), 1, 1, fc="white", ec="0.4"))
            ax.text(c + 0.5, 3.5 - r, f"{values[r, c]:g}", ha="center", va="center", fontsize=11)
    for k, (p, q) in enumerate(windows):
        inset = 0.06 + 0.06 * k
        ax.add_patch(Rectangle((q + inset, 1 - p + inset), 3 - 2 * inset, 3 - 2 * inset,
                               fill=False, ec=colors[k], lw=2))
    ax.set_title("input 4 x 4, kernel 3 x 3:\nfour windows at stride 1", fontsize=10)
    ax.set_xlim(-0.2, 4.2)
    ax.set_ylim(-0.2, 4.2)

    ax2 = fig.add_subplot(grid[1])
    for k, (p, q) in enumerate(windows):
        x0, y0 = (k % 2) * 3.6, (1 - k // 2) * 3.9
        for i in range(3):
            for j in range(3):
                ax2.add_patch(Rectangle((x0 + j, y0 + 2 - i), 1, 1, fc="white", ec=colors[k]))
                ax2.text(x0 + j + 0.5, y0 + 2.5 - i, f"{values[p + i, q + j]:g}", ha="center", va="center",
                         fontsize=9)
        ax2.text(x0 + 1.5, y0 + 3.15, f"window ({p}, {q})", ha="center", fontsize=9, color=colors[k])
    ax2.set_title("each window ...", fontsize=10)
    ax2.set_xlim(-0.2, 6.8)
    ax2.set_ylim(-0.2, 7.6)

    ax3 = fig.add_subplot(grid[2])
    rows, width = cols.shape
    for r in range(rows):
        for c in range(width):
            ax3.add_patch(Rectangle((c, rows - 1 - r), 1, 1, fc="white", ec=colors[r]))
            ax3.text(c + 0.5, rows - 0.5 - r, f"{cols[r, c]:g}", ha="center", va="center", fontsize=10)
        ax3.text(-0.2, rows - 0.5 - r, f"row {r}", ha="right", va="center", fontsize=9, color=colors[r])
    for c in range(width):
        ax3.text(c + 0.5, rows + 0.2, f"{c // 3},{c % 3}", ha="center", fontsize=8, color="0.35")
    ax3.text(width / 2, -0.5, "im2col: (N*OH*OW, kh*kw*C) = (4, 9);   conv2d = cols @ W_flat^T",
             ha="center", va="top", fontsize=9.5)
    ax3.set_title("... is one row of the im2col matrix (column labels: kernel offset i,j)", fontsize=10)
    ax3.set_xlim(-1.4, width + 0.2)
    ax3.set_ylim(-1.3, rows + 0.8)

    for a in (ax, ax2, ax3):
        a.set_aspect("equal")
        a.axis("off")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def checkerboard(path):
    def counts(kernel, padding, output_padding, layers):
        x = mg.ones(1, 1, 4, 4)
        for _ in range(layers):
            x = F.conv_transpose2d(x, mg.ones(1, 1, kernel, kernel), stride=2,
                                   padding=padding, output_padding=output_padding)
        return x.numpy()[0, 0]

    panels = [
        ("kernel 3, stride 2\n(padding 1, output_padding 1)", counts(3, 1, 1, 1)),
        ("kernel 4, stride 2\n(padding 1): DCGAN's", counts(4, 1, 0, 1)),
        ("two kernel-3, stride-2 layers\nstacked", counts(3, 1, 1, 2)),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(12.0, 4.6))
    for ax, (title, c) in zip(axes, panels):
        image = ax.imshow(c, cmap="viridis", vmin=0)
        if c.shape[0] <= 8:
            for (r, q), v in np.ndenumerate(c):
                ax.text(q, r, f"{v:g}", ha="center", va="center", fontsize=9,
                        color="white" if v < c.max() * 0.6 else "black")
        ax.set_title(f"{title}: {c.shape[0]} x {c.shape[1]}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle("Kernel taps per output pixel: conv_transpose2d of an all-ones 4 x 4 input with all-ones kernels",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- chapter 6

def running_stats(path, batches=60, batch_size=16):
    ema, cumulative = nn.BatchNorm1d(1), nn.BatchNorm1d(1, momentum=None)
    batch_means, ema_mean, cum_mean, ema_var, cum_var = [], [], [], [], []
    mg.manual_seed(0)
    with mg.no_grad():
        for _ in range(batches):
            x = mg.randn(batch_size, 1) * 2.0 + 3.0
            batch_means.append(float(x.numpy().mean()))
            ema(x)
            cumulative(x)
            ema_mean.append(ema.running_mean.item())
            cum_mean.append(cumulative.running_mean.item())
            ema_var.append(ema.running_var.item())
            cum_var.append(cumulative.running_var.item())
    k = np.arange(1, batches + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    left.plot(k, batch_means, ".", color="0.6", label="batch mean")
    left.plot(k, ema_mean, color="C0", label="running_mean, momentum 0.1")
    left.plot(k, cum_mean, color="C1", label="running_mean, momentum None")
    left.plot(k, 3.0 * (1 - 0.9**k), ":", color="C0", lw=1, label="3 (1 - 0.9^k)")
    left.axhline(3.0, color="0.3", ls="--", lw=0.8)
    left.set_title("mean (true: 3), starting from 0")
    right.plot(k, ema_var, color="C0", label="running_var, momentum 0.1")
    right.plot(k, cum_var, color="C1", label="running_var, momentum None")
    right.axhline(4.0, color="0.3", ls="--", lw=0.8)
    right.set_title("variance (true: 4), starting from 1")
    for ax in (left, right):
        ax.set_xlabel("training batches seen (num_batches_tracked)")
        ax.legend(fontsize=8.5, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(names=None):
    mg.set_device("cpu")
    figures = {
        "diamond-graph": diamond_graph,
        "eps-u-curve": eps_u_curve,
        "activations": activations,
        "init-scale": init_scale,
        "im2col": im2col_figure,
        "checkerboard": checkerboard,
        "running-stats": running_stats,
    }
    unknown = set(names or ()) - set(figures)
    if unknown:
        raise SystemExit(f"unknown figure(s) {', '.join(sorted(unknown))}; choose from {', '.join(figures)}")
    for name, make in figures.items():
        if not names or name in names:
            make(HERE / f"{name}.png")
            print(f"wrote {HERE / (name + '.png')}")


if __name__ == "__main__":
    main(sys.argv[1:])
