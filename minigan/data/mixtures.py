"""The 2-D Gaussian mixtures on which mode collapse is easy to see.

A GAN trained on 8 Gaussians on a ring, or 25 on a 5x5 grid, either puts samples
near every mode or visibly misses some; VEEGAN (Srivastava et al., 2017) and
PacGAN (Lin et al., 2018) count the modes covered and the share of samples
within 3 standard deviations of a mode. The samplers here return plain float32
NumPy arrays (N, 2), the start of the flow data -> models -> losses -> trainer,
and the ``*_modes`` functions give the centres and std that those metrics need.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from .loader import seed_from_minigan


def ring_modes(radius=2.0, modes=8, std=0.02):
    """The centres of ``ring``: (K, 2) float32 points r (cos 2 pi k/K, sin 2 pi k/K), and its std."""
    angles = 2 * math.pi * np.arange(modes) / modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centres.astype(np.float32), float(std)


def grid_modes(modes_per_side=5, spacing=2.0, std=0.05):
    """The centres of ``grid``: (K*K, 2) float32 points spaced ``spacing`` apart around 0, and its std.

    With the defaults the coordinates are -4, -2, 0, 2, 4 on both axes.
    """
    axis = (np.arange(modes_per_side) - (modes_per_side - 1) / 2) * spacing
    x, y = np.meshgrid(axis, axis, indexing="ij")
    centres = np.stack([x.ravel(), y.ravel()], axis=1)
    return centres.astype(np.float32), float(std)


def sample_mixture(centres, std, n, seed=None):
    """n points from an equal-weight mixture of isotropic Gaussians: x = centres[k] + std * z, k uniform.

    centres: (K, 2). Returns float32 (n, 2). The draws come from a private NumPy
    Generator seeded with ``seed`` (or with a seed drawn from minigan's generator
    when ``seed`` is None, so that ``minigan.manual_seed`` fixes it too).
    """
    if n < 0:
        raise ValueError(f"sample_mixture: n must be a non-negative number of points, got {n}")
    centres = np.asarray(centres, dtype=np.float64)
    rng = np.random.default_rng(seed_from_minigan() if seed is None else seed)
    which = rng.integers(len(centres), size=n)
    points = centres[which] + std * rng.standard_normal((n, centres.shape[1]))
    return points.astype(np.float32)


def ring(n, seed=None, radius=2.0, modes=8, std=0.02):
    """n points from 8 Gaussians (std 0.02) evenly spaced on a circle of radius 2: float32 (n, 2)."""
    centres, std = ring_modes(radius, modes, std)
    return sample_mixture(centres, std, n, seed)


def grid(n, seed=None, modes_per_side=5, spacing=2.0, std=0.05):
    """n points from 25 Gaussians (std 0.05) on a 5x5 grid at -4..4 step 2: float32 (n, 2)."""
    centres, std = grid_modes(modes_per_side, spacing, std)
    return sample_mixture(centres, std, n, seed)


MIXTURES = {"ring": (ring, ring_modes), "grid": (grid, grid_modes)}


def mixture(name, n, seed=None, device=None, **options) -> Tensor:
    """``ring`` or ``grid`` samples as a minigan Tensor (n, 2) on ``device``; options go to the sampler."""
    sampler, _ = _lookup(name)
    return Tensor(backend.asarray(sampler(n, seed, **options), device=device))


def mixture_modes(name, **options):
    """The (K, 2) centres and the std of the mixture called ``name`` ('ring' or 'grid')."""
    _, modes = _lookup(name)
    return modes(**options)


def _lookup(name):
    if name not in MIXTURES:
        raise ValueError(f"unknown mixture {name!r}: choose one of {', '.join(repr(k) for k in MIXTURES)}")
    return MIXTURES[name]
