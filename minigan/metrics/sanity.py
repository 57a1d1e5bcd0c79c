"""The sanity scale: what the image metrics read for data that is perfect, damaged and worthless.

A FID of 12 means nothing on its own: its size depends on the feature extractor.
So measure three references with the same classifier: real against real (two
disjoint halves of the test set: the floor a perfect generator reaches), real
against a blurred copy (a generator that gets the shapes but not the strokes),
and real against uniform noise (a generator that learned nothing). A GAN's
numbers are then read by where they fall on that scale.
"""

from __future__ import annotations

import numpy as np

from .evaluate import evaluate_images

REPORTED = ("fid", "classifier_score", "classes_covered", "precision", "recall")


def box_blur(images, size=3):
    """The mean over each pixel's size x size neighbourhood (N, C, H, W) -> same shape; edges repeat the border pixel.

    A sum of size**2 shifted copies of the padded images: a loop over kernel
    offsets, nine array additions for 3x3, never over images or pixels.
    """
    images = np.asarray(images, dtype=np.float32)
    if int(size) != size or size < 1 or size % 2 == 0:
        raise ValueError(f"box_blur: size must be a positive odd integer, got {size}")
    r = int(size) // 2
    padded = np.pad(images, ((0, 0), (0, 0), (r, r), (r, r)), mode="edge")
    height, width = images.shape[2:]
    total = np.zeros_like(images)
    for dy in range(size):
        for dx in range(size):
            total += padded[:, :, dy:dy + height, dx:dx + width]
    return total / (size * size)


def sanity_scale(images, classifier, n=None, seed=0, k=3) -> dict:
    """Evaluate three references against real images (N, 1, 28, 28) -> {name: {fid, classifier_score, ...}}.

    The images are shuffled with ``seed`` (MNIST's test set is ordered: its first
    half was written by different people than its second) and cut into two
    disjoint halves A and B of ``n`` images each (default: half the set). A is the
    real side of every row:

    - real_vs_real: B, images from the same distribution as A;
    - real_vs_blurred: B, blurred by a 3x3 box filter;
    - real_vs_noise: uniform noise in [-1, 1], as many images as B.
    """
    images = np.asarray(images, dtype=np.float32)
    half = len(images) // 2 if n is None else int(n)
    if half <= k or 2 * half > len(images):
        raise ValueError(f"sanity_scale: two disjoint halves of {half} images need {2 * half} images "
                         f"(and more than {k} each); got {len(images)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    real, other = images[order[:half]], images[order[half:2 * half]]
    noise = rng.uniform(-1.0, 1.0, size=other.shape).astype(np.float32)
    rows = {"real_vs_real": other, "real_vs_blurred": box_blur(other), "real_vs_noise": noise}
    scale = {}
    for name, candidate in rows.items():
        metrics = evaluate_images(candidate, real, classifier, k=k, seed=seed)
        scale[name] = {key: metrics[key] for key in REPORTED}
    scale["images_per_side"] = half
    return scale
