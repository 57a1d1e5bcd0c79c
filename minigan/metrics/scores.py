"""Scores read off a classifier's predictions on generated samples.

Run a classifier trained on the real data (minigan's own, for MNIST) over
generated images, then ask: is each prediction confident, and are the classes
spread evenly? The classifier score (the Inception score formula) asks both at
once; the class histogram, the classes covered and the KL from uniform ask the
second alone, like the mode counts of ``mixture_metrics`` on the 2-D mixtures.
"""

from __future__ import annotations

import numpy as np


def _log(p):
    """log p where p > 0 and 0 elsewhere, so that p * _log(p) is 0 at p = 0 (0 log 0 = 0) with no warning."""
    return np.log(np.where(p > 0, p, 1.0))


def _check_probs(probs, where):
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"{where}: probs must be (N, K), a row of class probabilities per sample, got shape {probs.shape}")
    if probs.size and (probs.min() < 0 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)):
        raise ValueError(
            f"{where}: each row of probs must be a probability distribution (non-negative, summing to 1); "
            "pass softmax(logits), not the logits"
        )
    return probs


def classifier_score(probs, splits=1):
    """exp(E_x[KL(p(y|x) || p(y))]) from class probabilities p(y|x), shape (N, K); p(y) is their mean over x.

    High when each prediction is confident (p(y|x) far from p(y)) and the classes
    are used evenly (p(y) spread out): between 1 (every sample gets the same
    prediction) and K (confident predictions, each class equally often). This is the
    Inception score of Salimans et al. (2016) with minigan's classifier in place of
    Inception. With ``splits`` > 1 the samples are cut into that many consecutive
    groups, each is scored on its own, and (mean, standard deviation) of the group
    scores is returned, as in the paper; with ``splits=1``, the score alone (a float).
    """
    probs = _check_probs(probs, "classifier_score")
    n = probs.shape[0]
    if int(splits) != splits or not 1 <= splits <= n:
        raise ValueError(f"classifier_score: splits must be an integer from 1 to the number of samples ({n}), got {splits}")
    bounds = np.arange(int(splits) + 1) * n // int(splits)  # as in the paper: groups differ by at most one sample
    scores = []
    for start, stop in zip(bounds[:-1], bounds[1:]):  # a handful of groups, each one vectorized
        group = probs[start:stop]
        marginal = group.mean(axis=0)  # p(y)
        kl = np.sum(group * (_log(group) - _log(marginal)), axis=1)  # KL(p(y|x) || p(y)) per sample
        scores.append(np.exp(kl.mean()))
    if splits == 1:
        return float(scores[0])
    return float(np.mean(scores)), float(np.std(scores))


def _labels(labels_or_probs, num_classes, where):
    """Predicted labels (N,) from labels (N,) or probabilities (N, K) (their argmax)."""
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"{where}: num_classes must be a positive integer, got {num_classes}")
    data = np.asarray(labels_or_probs)
    if data.ndim == 2:
        if data.shape[1] != num_classes:
            raise ValueError(f"{where}: probs must be (N, {num_classes}), one column per class, got shape {data.shape}")
        return data.argmax(axis=1)
    if data.ndim != 1:
        raise ValueError(f"{where}: expected labels (N,) or probabilities (N, {num_classes}), got shape {data.shape}")
    if data.size and data.dtype.kind not in "iu":
        raise ValueError(f"{where}: labels must be integers, got dtype {data.dtype}; pass probs (N, K) to take their argmax")
    if data.size and (data.min() < 0 or data.max() >= num_classes):
        raise ValueError(f"{where}: labels must lie in 0..{num_classes - 1}, got values from {data.min()} to {data.max()}")
    return data


def class_histogram(labels_or_probs, num_classes) -> np.ndarray:
    """How many samples fall in each class: counts (K,) from labels (N,) or from probabilities (N, K) via argmax."""
    labels = _labels(labels_or_probs, num_classes, "class_histogram")
    return np.bincount(labels.astype(np.int64), minlength=num_classes)


def classes_covered(labels_or_probs, num_classes, min_count=1) -> int:
    """The number of classes predicted for at least ``min_count`` samples (the modes a generator reaches)."""
    return int((class_histogram(labels_or_probs, num_classes) >= min_count).sum())


def class_kl_from_uniform(labels_or_probs, num_classes) -> float:
    """KL(p || uniform) = log K - H(p), p the class histogram normalized: 0 when balanced, log K when one class."""
    counts = class_histogram(labels_or_probs, num_classes)
    if counts.sum() == 0:
        raise ValueError("class_kl_from_uniform: the class histogram of no samples is undefined; pass at least one")
    p = counts / counts.sum()
    return float(np.log(num_classes) + np.sum(p * _log(p)))
