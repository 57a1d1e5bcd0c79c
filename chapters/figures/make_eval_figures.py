"""Make the figures of chapter 10 (evaluating GANs) with minigan and matplotlib.

    python chapters/figures/make_eval_figures.py                 # every figure (the ring run takes minutes)
    python chapters/figures/make_eval_figures.py precision-recall  # only some: precision-recall, sanity, ring

precision-recall.png: improved precision and recall (k = 3) on three sets of 2-D
"generated" points against samples of the ring's eight modes (std 0.1): a good
generator, one that makes four of the eight modes, and one that makes all of them
too wide. Top row: the real k-NN balls and the fakes inside or outside them
(precision); bottom row: the fake balls and the real points (recall). FID of the
raw coordinates in each title.

sanity-images.png: what the sanity scale compares: MNIST test images, the same
images blurred by minigan.metrics.sanity.box_blur, and uniform noise (a stand-in
data set of bars when MNIST is not on disk).

ring-evaluation.png: a full run of the ring preset with minigan's Trainer,
evaluated every 100 steps (eval_every): modes covered, the share of high-quality
samples and the reverse KL from metrics.jsonl, with the alarms the run raised.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import PatchCollection  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing minigan

import minigan as mg  # noqa: E402
from minigan.data import ring_modes, sample_mixture  # noqa: E402
from minigan.metrics import fid_from_features, precision_recall  # noqa: E402


def pr_candidates():
    """The real points and the three candidates of chapter 10's 2-D precision/recall example."""
    centres, _ = ring_modes()
    real = sample_mixture(centres, 0.1, 1000, seed=0)
    return real, {
        "good": sample_mixture(centres, 0.1, 1000, seed=1),
        "four of eight modes": sample_mixture(centres[::2], 0.1, 1000, seed=2),
        "too wide": sample_mixture(centres, 0.3, 1000, seed=3),
    }


def knn_radius(points, k=3):
    """Distance from each point (N, 2) to its k-th nearest other point (N,): a small case, done directly."""
    d = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself


def inside(points, centres, radii):
    d = np.linalg.norm(points[:, None, :] - centres[None, :, :], axis=2)
    return np.any(d <= radii[None, :], axis=1)


def draw_balls(ax, centres, radii, color):
    balls = [Circle(c, r) for c, r in zip(centres, radii)]
    ax.add_collection(PatchCollection(balls, facecolor=color, edgecolor="none", alpha=0.18))


def precision_recall_figure(path):
    real, candidates = pr_candidates()
    real_radii = knn_radius(real.astype(np.float64))
    fig, axes = plt.subplots(2, 3, figsize=(12.6, 8.6))
    for column, (name, fake) in enumerate(candidates.items()):
        pr = precision_recall(real, fake)
        fid = fid_from_features(real, fake)
        fake_radii = knn_radius(fake.astype(np.float64))
        top, bottom = axes[0, column], axes[1, column]
        draw_balls(top, real, real_radii, "tab:blue")
        ok = inside(fake, real, real_radii)
        top.scatter(fake[ok, 0], fake[ok, 1], s=2, color="tab:orange", label="fake inside a real ball")
        top.scatter(fake[~ok, 0], fake[~ok, 1], s=4, color="black", marker="x", lw=0.6, label="fake outside")
        top.set_title(f"{name}\nFID {fid:.3f}   precision {pr['precision']:.2f}", fontsize=10)
        draw_balls(bottom, fake, fake_radii, "tab:orange")
        ok = inside(real, fake, fake_radii)
        bottom.scatter(real[ok, 0], real[ok, 1], s=2, color="tab:blue", label="real inside a fake ball")
        bottom.scatter(real[~ok, 0], real[~ok, 1], s=4, color="black", marker="x", lw=0.6, label="real outside")
        bottom.set_title(f"recall {pr['recall']:.2f}", fontsize=10)
        for ax in (top, bottom):
            ax.set_xlim(-3.2, 3.2)
            ax.set_ylim(-3.2, 3.2)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.legend(loc="center", fontsize=8, markerscale=3, frameon=False)
    axes[0, 0].set_ylabel("precision: balls around the real points", fontsize=10)
    axes[1, 0].set_ylabel("recall: balls around the fakes", fontsize=10)
    fig.suptitle("Improved precision and recall, k = 3: each ball reaches its centre's 3rd nearest neighbour "
                 "in its own set (1000 real, 1000 fake)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def stand_in_digits(n=10_000, seed=0):
    """The chapter's stand-in when MNIST is not on disk: 10 classes of bars, class c at 18c degrees."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    angle = np.pi * labels / 10 + rng.normal(0, 0.05, n)
    centre = rng.normal(0, 2.0, (n, 2))
    y, x = np.mgrid[-13.5:14, -13.5:14]
    across = ((x - centre[:, :1, None]) * np.sin(angle)[:, None, None]
              - (y - centre[:, 1:, None]) * np.cos(angle)[:, None, None])
    images = np.clip(2 * np.exp(-across ** 2 / 2) - 1 + 0.1 * rng.standard_normal((n, 28, 28)), -1, 1)
    return images[:, None].astype(np.float32), labels


def sanity_images(path):
    from minigan.data import DataNotFoundError, load_dataset
    from minigan.metrics.sanity import box_blur

    try:
        images, _ = load_dataset("mnist", "test", ROOT.parent / "shared" / "data" / "mnist", download=False)
        source = "MNIST test images"
    except DataNotFoundError:
        images, _ = stand_in_digits()
        source = "stand-in images (MNIST was not on disk)"
    shown = images[np.random.default_rng(0).permutation(len(images))[:10]]
    noise = np.random.default_rng(1).uniform(-1.0, 1.0, shown.shape).astype(np.float32)
    rows = (("real", shown), ("blurred", box_blur(shown)), ("noise", noise))
    fig, axes = plt.subplots(3, 10, figsize=(10, 3.4))
    for r, (name, row) in enumerate(rows):
        for c in range(10):
            ax = axes[r, c]
            ax.imshow(row[c, 0], cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=10)
    fig.suptitle(f"The sanity scale's three references: {source}, blurred by a 3x3 box filter, uniform noise", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def ring_evaluation(path, every=100):
    from minigan.config import resolve
    from minigan.gan.trainer import Trainer

    config = resolve("ring", overrides={"train.eval_every": every, "train.progress": False})
    with tempfile.TemporaryDirectory() as out:
        summary = Trainer(config, out, log=lambda message: None).train()
        rows = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval" in r]
    alarms = [r for r in rows if "alarm" in r]
    print("ring run:", json.dumps(summary["mode_coverage"]), "alarms:", [(a["step"], a["alarm"]) for a in alarms])
    for r in evals:
        print(r["step"], r["eval"]["modes_covered"], r["eval"]["high_quality"], r["eval"]["reverse_kl"])
    steps = [r["step"] for r in evals]
    panels = (
        ("modes_covered", "modes covered (of 8)"),
        ("high_quality", "share within 3 std of a mode"),
        ("reverse_kl", "reverse KL (log 8 - H)"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.6))
    for ax, (key, label) in zip(axes, panels):
        values = [np.nan if r["eval"][key] is None else r["eval"][key] for r in evals]
        ax.plot(steps, values, marker="o", ms=3)
        for alarm in alarms:
            ax.axvline(alarm["step"], color="C3", lw=0.8, ls="--")
        ax.set_xlabel("generator step")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(-0.3, 8.3)
    axes[1].set_ylim(0, 1)
    axes[2].set_ylim(bottom=0)
    for alarm in alarms:
        axes[0].text(alarm["step"], 3.2, f" {alarm['alarm']}\n alarm, step {alarm['step']}", color="C3", fontsize=8)
    fig.suptitle(f"ring preset, evaluated every {every} steps on 10,000 samples (metrics.jsonl)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv):
    mg.set_device("cpu")
    wanted = set(argv) or {"precision-recall", "sanity", "ring"}
    written = []
    if "precision-recall" in wanted:
        precision_recall_figure(HERE / "precision-recall.png")
        written.append("precision-recall.png")
    if "sanity" in wanted:
        sanity_images(HERE / "sanity-images.png")
        written.append("sanity-images.png")
    if "ring" in wanted:
        ring_evaluation(HERE / "ring-evaluation.png")
        written.append("ring-evaluation.png")
    print("wrote", ", ".join(written), "in", HERE)


if __name__ == "__main__":
    main(sys.argv[1:])
