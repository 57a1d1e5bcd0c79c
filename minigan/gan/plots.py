"""Pictures of a run: sample grids (images), scatter plots over the data (2-D), and the loss curves.

matplotlib with the Agg backend, so they are written on machines without a screen.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def image_grid(images, columns=8) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> one (rows*H, columns*W[, C]) array in [0, 1] with 1-pixel gaps."""
    images = (np.clip(np.asarray(images, dtype=np.float32), -1, 1) + 1) / 2
    n, c, h, w = images.shape
    rows = math.ceil(n / columns)
    grid = np.ones((rows * (h + 1) + 1, columns * (w + 1) + 1, c), dtype=np.float32)
    for k in range(n):  # a few dozen tiles: a loop over pictures, not pixels
        r, col = divmod(k, columns)
        grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + col * (w + 1):1 + col * (w + 1) + w] = images[k].transpose(1, 2, 0)
    return grid[..., 0] if c == 1 else grid


def save_image_grid(images, path, columns=8, title=None):
    plt = _pyplot()
    grid = image_grid(images, columns)
    fig = plt.figure(figsize=(grid.shape[1] / 40, grid.shape[0] / 40 + (0.3 if title else 0)), dpi=100)
    ax = fig.add_axes([0, 0, 1, 0.93 if title else 1])
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=8)
    fig.savefig(path)
    plt.close(fig)


def save_scatter(samples, real, path, modes=None, title=None, limit=None):
    """Generated points (orange) over real ones (blue), mode centres as crosses."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.scatter(real[:, 0], real[:, 1], s=2, alpha=0.3, color="tab:blue", label="data")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.5, color="tab:orange", label="generated")
    if modes is not None:
        ax.scatter(modes[:, 0], modes[:, 1], marker="x", s=30, color="black", linewidths=1, label="modes")
    lim = limit or 1.25 * float(np.abs(real).max())
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=6, markerscale=3)
    if title:
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def read_metrics(path) -> list:
    lines = Path(path).read_text().splitlines() if Path(path).exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def _smooth(values, window):
    if len(values) < window or window < 2:
        return np.asarray(values)
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def save_loss_plot(metrics_path, path):
    """losses.png: D and G losses, D's outputs on real and fake, and both gradient norms, over steps."""
    rows = [r for r in read_metrics(metrics_path) if "d_loss" in r]
    if not rows:
        return
    plt = _pyplot()
    steps = np.array([r["step"] for r in rows])
    window = max(1, len(rows) // 100)
    fig, axes = plt.subplots(3, 1, figsize=(7, 8), dpi=100, sharex=True)
    panels = [
        (axes[0], [("d_loss", "D loss"), ("g_loss", "G loss")], "loss", False),
        (axes[1], [("d_real", "D(x)"), ("d_fake", "D(G(z))")], "D output", False),
        (axes[2], [("grad_norm_d", "||grad D||"), ("grad_norm_g", "||grad G||")], "gradient norm", True),
    ]
    for ax, series, label, log in panels:
        for key, name in series:
            values = np.array([r.get(key, np.nan) for r in rows], dtype=np.float64)
            ax.plot(steps, values, alpha=0.25, linewidth=0.6)
            smooth = _smooth(values, window)
            ax.plot(steps[len(steps) - len(smooth):], smooth, label=name, color=ax.lines[-1].get_color())
        ax.set_ylabel(label)
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("generator step")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_eval_plot(metrics_path, path):
    """evaluation.png: the metrics of the evaluations made during training, over steps (if any)."""
    rows = [r for r in read_metrics(metrics_path) if "eval" in r]
    if not rows:
        return
    plt = _pyplot()
    keys = [k for k, v in rows[-1]["eval"].items() if isinstance(v, (int, float)) and k not in ("samples", "modes_total")]
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 2.2 * len(keys)), dpi=100, sharex=True, squeeze=False)
    steps = [r["step"] for r in rows]
    for ax, key in zip(axes[:, 0], keys):
        ax.plot(steps, [r["eval"].get(key) if r["eval"].get(key) is not None else np.nan for r in rows], marker="o")
        ax.set_ylabel(key.replace("_", " "))
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("generator step")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
