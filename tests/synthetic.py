"""Synthetic data for tests that need images with known classes but no dataset on disk."""

import numpy as np


def synthetic_digits(n, seed=0):
    """Ten easy classes: class c is a bright 9x4 bar at its own place on a dark, noisy 28x28 image."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = np.full((n, 1, 28, 28), -1.0, dtype=np.float32)
    for c in range(10):  # ten classes, each one block assignment
        row, col = 3 + 13 * (c // 5), 1 + 5 * (c % 5)
        images[labels == c, :, row:row + 9, col:col + 4] = 1.0
    images += rng.normal(0.0, 0.3, images.shape).astype(np.float32)
    return np.clip(images, -1.0, 1.0), labels
