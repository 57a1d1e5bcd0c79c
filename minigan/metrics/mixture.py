"""Mode coverage on the 2-D Gaussian mixtures, as in the VEEGAN and PacGAN papers.

A sample is *high quality* when it lies within 3 standard deviations of its
nearest mode; a mode is *covered* when it is the nearest mode of at least one
high-quality sample. The reverse KL compares the histogram of high-quality samples
over the modes with the uniform distribution: KL(p || u) = log K - H(p) (None when
no sample is high quality).
"""

from __future__ import annotations

import numpy as np


def mixture_metrics(samples, modes, std, threshold=3.0) -> dict:
    """samples (N, 2) and modes (K, 2) as NumPy arrays -> modes covered, high-quality share, reverse KL."""
    samples = np.asarray(samples, dtype=np.float64)
    modes = np.asarray(modes, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(f"mixture_metrics: samples must be (N, {modes.shape[1]}), got {samples.shape}")
    distances = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=2)  # (N, K)
    nearest = distances.argmin(axis=1)
    high_quality = distances[np.arange(len(samples)), nearest] <= threshold * std
    counts = np.bincount(nearest[high_quality], minlength=len(modes))
    k = len(modes)
    if counts.sum() > 0:
        p = counts / counts.sum()
        entropy = -np.sum(p[p > 0] * np.log(p[p > 0]))
        reverse_kl = float(np.log(k) - entropy)
    else:
        reverse_kl = None  # undefined without a single high-quality sample (and JSON has no infinity)
    return {
        "modes_covered": int((counts > 0).sum()),
        "modes_total": k,
        "high_quality": float(high_quality.mean()) if len(samples) else 0.0,
        "reverse_kl": reverse_kl,
        "samples": int(len(samples)),
    }
