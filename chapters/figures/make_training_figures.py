"""Make the figures of chapters 7-9 (losses, optimizers, the training loop) with minigan and matplotlib.

    python chapters/figures/make_training_figures.py            # every figure (the ring run takes minutes)
    python chapters/figures/make_training_figures.py gradients  # only some: gradients, bilinear, ring

generator-gradients.png (chapter 7): |d loss_G / d f| against D's logit f on a
fake sample, for the minimax (saturating) and the non-saturating generator loss,
computed with minigan.grad through minigan's own loss classes.

bilinear-game.png (chapter 8): the game min_x max_y x*y played with minigan's
Adam at three values of beta1 (and SGD with and without momentum), alternating
updates as the trainer does: the paths in the (x, y) plane and the distance to
the equilibrium (0, 0).

ring-samples.png and ring-losses.png (chapter 9): a full run of the ring preset
with minigan's Trainer: 2000 samples over the data at a few steps, and the run's
own losses.png (minigan.gan.plots.save_loss_plot on its metrics.jsonl).
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run from a checkout without installing minigan

import minigan as mg  # noqa: E402
from minigan import optim  # noqa: E402
from minigan.gan import get_loss  # noqa: E402


# ---------------------------------------------------------------- chapter 7

def generator_gradients(path):
    logits = mg.linspace(-8.0, 8.0, 321, dtype="float64")
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for name, label, color in (
        ("minimax", "minimax: log(1 - D(G(z)))", "C3"),
        ("non-saturating", "non-saturating: -log D(G(z))", "C0"),
    ):
        loss = get_loss(name)
        f = logits.detach().requires_grad_()
        # loss.generator averages over the batch; times N, each element's own gradient
        (g,) = mg.grad(loss.generator(f) * f.shape[0], f)
        ax.plot(logits.numpy(), np.abs(g.numpy()), color=color, lw=2, label=label)
    ax.axvspan(-8, -3, color="0.9", zorder=0)
    ax.text(-7.8, 0.5, "D rejects the fakes\n(early in training):\nD(G(z)) < 0.05", fontsize=9, va="center")
    ax.set_xlabel("D's logit f on a fake sample  (D(G(z)) = sigmoid(f))")
    ax.set_ylabel("|d loss_G / d f|")
    ax.set_title("The generator's gradient through D's logit")
    top = ax.secondary_xaxis("top", functions=(lambda f: f, lambda f: f))
    probabilities = [0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999]
    top.set_xticks([math.log(p / (1 - p)) for p in probabilities])
    top.set_xticklabels([f"{p:g}" for p in probabilities], fontsize=8)
    top.set_xlabel("D(G(z))", fontsize=9)
    ax.set_xlim(-8, 8)
    ax.set_ylim(0, 1.05)
    ax.legend(loc="center right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- chapter 8

def play_bilinear(make_optimizer, steps, start=(1.0, 1.0)):
    """min_x max_y x*y with alternating updates (y, the 'discriminator', first): the path of (x, y)."""
    x = mg.tensor([start[0]], requires_grad=True)
    y = mg.tensor([start[1]], requires_grad=True)
    opt_x, opt_y = make_optimizer([x]), make_optimizer([y])
    path = [(x.item(), y.item())]
    for _ in range(steps):
        opt_y.zero_grad()
        (-(x.detach() * y)).sum().backward()  # y ascends x*y
        opt_y.step()
        opt_x.zero_grad()
        (x * y.detach()).sum().backward()  # x descends it, against the new y
        opt_x.step()
        path.append((x.item(), y.item()))
    return np.array(path)


def bilinear_game(path):
    steps = 1000
    runs = [
        ("Adam, beta1 = 0.9", "C3", lambda p: optim.Adam(p, lr=0.05, betas=(0.9, 0.999))),
        ("Adam, beta1 = 0.5", "C1", lambda p: optim.Adam(p, lr=0.05, betas=(0.5, 0.999))),
        ("Adam, beta1 = 0", "C0", lambda p: optim.Adam(p, lr=0.05, betas=(0.0, 0.999))),
    ]
    sgd = [
        ("SGD, momentum 0.5", "C4", lambda p: optim.SGD(p, lr=0.1, momentum=0.5)),
        ("SGD, no momentum", "C2", lambda p: optim.SGD(p, lr=0.1)),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.4))
    for label, color, make in runs:
        xy = play_bilinear(make, steps)
        axes[0].plot(xy[:, 0], xy[:, 1], color=color, lw=0.7, label=label)
        axes[2].plot(np.hypot(xy[:, 0], xy[:, 1]), color=color, label=label)
    for label, color, make in sgd:
        xy = play_bilinear(make, 200)
        axes[1].plot(xy[:, 0], xy[:, 1], color=color, lw=0.8, label=label + " (200 steps)")
        axes[2].plot(np.hypot(xy[:, 0], xy[:, 1]), color=color, ls="--", label=label)
    for ax, title in ((axes[0], f"Adam (lr 0.05), {steps} steps"), (axes[1], "SGD (lr 0.1)")):
        ax.plot([1.0], [1.0], "ko", ms=4)
        ax.plot([0.0], [0.0], "k+", ms=10)
        ax.set_aspect("equal")
        ax.set_xlabel("x (the generator)")
        ax.set_ylabel("y (the discriminator)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="lower left")
        ax.grid(alpha=0.3)
    axes[1].set_xlim(-12, 12)
    axes[1].set_ylim(-12, 12)
    axes[2].set_yscale("log")
    axes[2].set_ylim(0.3, 30)
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("distance to the equilibrium (0, 0)")
    axes[2].set_title("min_x max_y x*y: momentum spirals out", fontsize=10)
    axes[2].legend(fontsize=7, loc="upper left")
    axes[2].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- chapter 9

def ring_training(samples_path, losses_path, shown=(0, 250, 500, 1000, 2000, 3000)):
    from minigan.config import resolve
    from minigan.gan import plots
    from minigan.gan.trainer import Trainer

    class Recording(Trainer):
        """The Trainer, keeping 2000 samples each time it saves a sample plot (private noise)."""

        snapshots = {}

        def save_samples(self):
            super().save_samples()
            self.snapshots[self.step] = self.sample(2000)

    config = resolve("ring", overrides={"train.sample_every": 250, "train.progress": False})
    with tempfile.TemporaryDirectory() as out:
        trainer = Recording(config, out)
        trainer.snapshots[0] = trainer.sample(2000)
        summary = trainer.train()
        print("ring run:", summary)
        plots.save_loss_plot(Path(out) / "metrics.jsonl", losses_path)
        snapshots = trainer.snapshots
        real = trainer.data[:2000]
    fig, axes = plt.subplots(1, len(shown), figsize=(2.6 * len(shown), 2.9))
    for ax, step in zip(axes, shown):
        ax.scatter(snapshots[step][:, 0], snapshots[step][:, 1], s=1.5, alpha=0.5, color="tab:orange")
        ax.scatter(real[:, 0], real[:, 1], s=3, alpha=0.6, color="tab:blue")  # on top: the modes are tight
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"step {step}", fontsize=10)
    coverage = summary["mode_coverage"]
    fig.suptitle(
        f"ring preset: generated (orange) over data (blue); at step {trainer.step}: "
        f"{coverage['modes_covered']}/{coverage['modes_total']} modes, "
        f"{coverage['high_quality']:.0%} of samples within 3 std of a mode",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(samples_path, dpi=110)
    plt.close(fig)


def main(argv):
    mg.set_device("cpu")
    wanted = set(argv) or {"gradients", "bilinear", "ring"}
    written = []
    if "gradients" in wanted:
        generator_gradients(HERE / "generator-gradients.png")
        written.append("generator-gradients.png")
    if "bilinear" in wanted:
        bilinear_game(HERE / "bilinear-game.png")
        written.append("bilinear-game.png")
    if "ring" in wanted:
        ring_training(HERE / "ring-samples.png", HERE / "ring-losses.png")
        written += ["ring-samples.png", "ring-losses.png"]
    print("wrote", ", ".join(written), "in", HERE)


if __name__ == "__main__":
    main(sys.argv[1:])
