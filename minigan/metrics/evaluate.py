"""Evaluate a generator by its samples: every metric of ``minigan.metrics`` in one dict.

Images go through minigan's classifier (``classifier.py``) once: its penultimate
features give FID and precision/recall against real test images, its class
probabilities give the classifier score, the classes covered and the class
histogram's KL from uniform. The real images' side is computed once and cached,
so a trainer can call ``evaluate_images`` every few hundred steps. 2-D samples
go to ``mixture_metrics`` instead.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .frechet import feature_statistics, frechet_distance
from .mixture import mixture_metrics
from .precision_recall import precision_recall
from .scores import class_histogram, class_kl_from_uniform, classifier_score


@dataclass(frozen=True)
class RealStatistics:
    """The real images' side of every comparison: features (N, D), their mean (D,) and covariance (D, D)."""

    features: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray


_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 4  # a run compares against one real set; a few leave room for a test or a second dataset


def _fingerprint(real_images, classifier) -> str:
    """A digest of the images' bytes and the classifier's weights: same digest, same features."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str((real_images.shape, real_images.dtype.str)).encode())
    digest.update(np.ascontiguousarray(real_images).view(np.uint8).reshape(-1))
    for key, value in classifier.state_dict().items():
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(value.numpy()).view(np.uint8).reshape(-1))
    return digest.hexdigest()


def real_statistics(real_images, classifier) -> RealStatistics:
    """The classifier's features of ``real_images`` (N, 1, 28, 28) and their Gaussian fit, computed once.

    Cached by content (a hash of the images and of the weights, about 30 ms for
    10,000 images), so calling it again with the same data costs no forward pass,
    and a classifier whose weights changed is never served stale features.
    """
    real_images = np.asarray(real_images)
    key = _fingerprint(real_images, classifier)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    features = classifier.features(real_images)
    mu, sigma = feature_statistics(features)
    stats = RealStatistics(features, mu, sigma)
    _CACHE[key] = stats
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return stats


def evaluate_images(generator_samples, real_images, classifier, k=3, min_class_share=0.1, seed=0) -> dict:
    """Generated images (N, 1, 28, 28) in [-1, 1] against real ones (M, 1, 28, 28) -> a dict of plain numbers.

    - fid: the Fréchet distance between Gaussians fitted to the classifier's
      penultimate features of all M real and all N generated images (0 is a perfect match).
    - classifier_score: exp(E KL(p(y|x) || p(y))), from 1 to 10 (the Inception score's formula).
    - classes_covered: classes predicted for at least ``min_class_share`` of their
      fair share N / K of the samples, so that a few stray samples do not count as a mode.
    - class_kl_from_uniform: KL of the predicted-class histogram from uniform (0 when balanced).
    - precision, recall: improved precision and recall with k neighbours, on
      min(N, M) real images (a fixed random subset, drawn with ``seed``) against
      the N generated ones: both sets of the same size, as in the paper, because
      k-NN radii shrink as a set grows.
    """
    samples = np.asarray(generator_samples, dtype=np.float32)
    if samples.ndim != 4 or samples.shape[1:] != (1, 28, 28):
        raise ValueError(f"evaluate_images: generated images must be (N, 1, 28, 28), got shape {samples.shape}")
    if len(samples) <= k:
        raise ValueError(f"evaluate_images: {len(samples)} generated images are too few; precision/recall with k={k} "
                         f"need at least {k + 1}, and FID needs hundreds to mean much")
    real = real_statistics(real_images, classifier)
    features, probabilities = classifier.features_and_probabilities(samples)
    mu, sigma = feature_statistics(features)
    num_classes = probabilities.shape[1]
    counts = class_histogram(probabilities, num_classes)
    min_count = max(1, int(np.ceil(min_class_share * len(samples) / num_classes)))
    n_real = min(len(real.features), len(samples))
    subset = np.sort(np.random.default_rng(seed).permutation(len(real.features))[:n_real])
    pr = precision_recall(real.features[subset], features, k=k)
    return {
        "fid": frechet_distance(real.mu, real.sigma, mu, sigma),
        "classifier_score": classifier_score(probabilities),
        "classes_covered": int((counts >= min_count).sum()),
        "classes_total": int(num_classes),
        "class_kl_from_uniform": class_kl_from_uniform(probabilities, num_classes),
        "class_histogram": [int(c) for c in counts],
        "precision": pr["precision"],
        "recall": pr["recall"],
        "k": int(k),
        "samples": int(len(samples)),
        "real_samples": int(len(real.features)),
        "real_samples_precision_recall": int(n_real),
    }


def evaluate_mixture(samples, dataset) -> dict:
    """2-D samples (N, 2) of a run on the 'ring' or 'grid' mixture -> ``mixture_metrics``: modes covered, quality, KL."""
    from ..data import mixture_modes

    modes, std = mixture_modes(dataset)
    return mixture_metrics(samples, modes, std)
