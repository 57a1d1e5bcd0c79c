"""Improved precision and recall (Kynkäänniemi et al., 2019): quality and coverage, measured apart.

FID mixes two failures into one number; these two tell them apart. Around each
real feature vector draw a ball reaching its k-th nearest real neighbour: the
union of the balls estimates the manifold of real data. Precision is the share of
generated samples inside it (are samples realistic?); recall swaps the roles, the
share of real samples inside the manifold of generated ones (is all of the data
reached, or have modes been dropped?).
"""

from __future__ import annotations

import numpy as np


def _squared_distances(a, b, b_squared_norms):
    """||a_i - b_j||^2 for rows a (B, D) and b (M, D) -> (B, M), as ||a||^2 + ||b||^2 - 2 a.b: one matrix product."""
    d2 = np.sum(a * a, axis=1)[:, None] + b_squared_norms[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d2, 0.0)  # cancellation can leave -1e-15 where the true distance is 0


def _batches(n, batch_size):
    # Rows of the (n, M) distance matrix are made batch_size at a time, so that
    # 10,000 x 10,000 needs 80 MB (float64) at a time instead of 800 MB.
    return range(0, n, batch_size)


def _knn_radii_squared(features, k, batch_size):
    """The squared distance from each row (N, D) to its k-th nearest other row -> (N,)."""
    n = features.shape[0]
    norms = np.sum(features * features, axis=1)
    radii = np.empty(n)
    for start in _batches(n, batch_size):
        stop = min(start + batch_size, n)
        d2 = _squared_distances(features[start:stop], features, norms)
        rows = np.arange(stop - start)
        d2[rows, start + rows] = -1.0  # each sample is its own nearest: put it first, then skip it
        radii[start:stop] = np.partition(d2, k, axis=1)[:, k]
    return radii


def _share_inside(points, centers, radii_squared, batch_size):
    """The share of ``points`` inside at least one ball (centers, radii): within radius of some center."""
    norms = np.sum(centers * centers, axis=1)
    inside = np.empty(points.shape[0], dtype=bool)
    for start in _batches(points.shape[0], batch_size):
        stop = min(start + batch_size, points.shape[0])
        d2 = _squared_distances(points[start:stop], centers, norms)
        inside[start:stop] = np.any(d2 <= radii_squared[None, :], axis=1)
    return float(inside.mean())


def precision_recall(real_features, fake_features, k=3, batch_size=1000) -> dict:
    """Improved precision and recall of feature sets real (N, D) and fake (M, D) -> dict of plain numbers.

        precision = share of fake f with ||f - r|| <= NN_k(r) for some real r
        recall    = share of real r with ||r - f|| <= NN_k(f) for some fake f

    NN_k(x) is the distance from x to its k-th nearest neighbour in its own set
    (itself excluded). Both lie in [0, 1]; k=3 as in the paper. Distances are made
    ``batch_size`` rows at a time, so memory grows with batch_size * max(N, M).
    """
    if int(k) != k or k < 1:
        raise ValueError(f"precision_recall: k must be a positive integer, got {k}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"precision_recall: batch_size must be a positive integer, got {batch_size}")
    k, batch_size = int(k), int(batch_size)
    real = np.asarray(real_features, dtype=np.float64)
    fake = np.asarray(fake_features, dtype=np.float64)
    for name, features in (("real_features", real), ("fake_features", fake)):
        if features.ndim != 2:
            raise ValueError(f"precision_recall: {name} must be (N, D), one row per sample, got shape {features.shape}")
        if features.shape[0] <= k:
            raise ValueError(
                f"precision_recall: {name} has {features.shape[0]} samples; a k-th nearest neighbour "
                f"with k={k} needs at least {k + 1}"
            )
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"precision_recall: real and fake features have {real.shape[1]} and {fake.shape[1]} features per sample; "
            "they must come from the same layer"
        )
    # Distances do not change under a shift, but ||a||^2 + ||b||^2 - 2 a.b cancels badly far from the
    # origin: move one real sample there (any point of the cloud will do; a sample keeps integers exact).
    center = real[0]
    real, fake = real - center, fake - center
    real_radii = _knn_radii_squared(real, k, batch_size)
    fake_radii = _knn_radii_squared(fake, k, batch_size)
    return {
        "precision": _share_inside(fake, real, real_radii, batch_size),
        "recall": _share_inside(real, fake, fake_radii, batch_size),
        "k": k,
        "real_samples": int(real.shape[0]),
        "fake_samples": int(fake.shape[0]),
    }
