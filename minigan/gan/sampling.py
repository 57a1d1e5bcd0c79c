"""A trained generator, back from its checkpoint, and samples drawn from it.

Used by ``python -m minigan sample`` and ``eval``. The EMA generator is used
when the run kept one: its samples are the smoother ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor
from .checkpoint import load_checkpoint
from .models import build_models


class CheckpointNotFound(ValueError):
    """A path that is neither a checkpoint file nor a run directory holding one."""


def checkpoint_file(path) -> Path:
    """A checkpoint file as given, or the latest one in a run directory."""
    path = Path(path)
    if path.is_dir():
        candidates = sorted((path / "checkpoints").glob("step-*.npz")) or sorted(path.glob("step-*.npz"))
        if not candidates:
            raise CheckpointNotFound(f"no checkpoint in {path} (looked for checkpoints/step-*.npz)")
        return candidates[-1]
    if not path.exists():
        raise CheckpointNotFound(f"no such checkpoint file or run directory: {path}")
    return path


def load_generator(path, device=None):
    """(generator in eval mode, config, step, 'ema' or 'generator') from a training checkpoint.

    The EMA generator when the run kept one (its samples are the smoother ones), as ``sample`` does.
    """
    state = load_checkpoint(path)
    if not isinstance(state.get("config"), dict) or "generator" not in state:
        raise CheckpointNotFound(f"{path} has no run config or generator weights: it is not a checkpoint written by the trainer")
    config = state["config"]
    if device is None:  # the run's own device, if this machine has it
        device = config["train"]["device"]
        try:
            backend.check_device(device)
        except RuntimeError as err:
            raise RuntimeError(
                f"{path} was trained on device {device!r}, which this machine cannot use ({err}). "
                "Pass --device cpu (device='cpu') to load it on the CPU."
            ) from err
    backend.set_device(backend.check_device(device))
    generator, _ = build_models(config)
    which = "ema" if state.get("ema") else "generator"
    generator.load_state_dict(state["ema"]["module"] if which == "ema" else state["generator"])
    generator.eval()
    return generator, config, int(state.get("step", 0)), which


LATENTS = ("normal", "uniform")


def check_latent(model) -> str:
    """``model.latent``, or a ValueError naming the choices."""
    kind = model.get("latent", "normal")
    if kind not in LATENTS:
        raise ValueError(f"model.latent = {kind!r}: choose one of {', '.join(LATENTS)}")
    return kind


def latent_noise(rng, n, model) -> np.ndarray:
    """n float32 latent vectors from a NumPy ``rng``: N(0, I), or uniform on [-1, 1]^d (``model.latent``).

    A uniform square suits a generator that must cut its input into equal cells, such as
    the 5x5 grid's: a Gaussian leaves the corner modes only the tails of the latent space.
    """
    shape = (n, model["latent_dim"])
    z = rng.uniform(-1.0, 1.0, shape) if check_latent(model) == "uniform" else rng.standard_normal(shape)
    return z.astype(np.float32)


def draw_samples(generator, n, model, seed=0) -> np.ndarray:
    """n samples as a NumPy array, 1,000 latent vectors at a time (drawn as ``model`` says), without a graph."""
    rng = np.random.default_rng(seed)
    chunks = []
    with no_grad():
        for start in range(0, n, 1000):
            z = latent_noise(rng, min(1000, n - start), model)
            chunks.append(generator(Tensor(backend.asarray(z))).numpy())
    return np.concatenate(chunks)
