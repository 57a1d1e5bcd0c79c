"""The Fréchet distance between two Gaussians, the formula behind FID.

Fit a Gaussian (mean, covariance) to the features of real samples and another to
the features of generated ones; the Fréchet (2-Wasserstein) distance between the
two Gaussians is the score: 0 when the statistics match, larger as they part. FID
is this distance on Inception features; minigan applies it to any feature
extractor, such as its own classifier's penultimate layer.
"""

from __future__ import annotations

import numpy as np


def feature_statistics(features):
    """features (N, D) -> mean (D,) and covariance (D, D), the unbiased one (divided by N - 1)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"feature_statistics: features must be (N, D), one row per sample, got shape {features.shape}")
    n = features.shape[0]
    if n < 2:
        raise ValueError(f"feature_statistics: a covariance needs at least 2 samples, got {n}")
    mean = features.mean(axis=0)
    centered = features - mean
    return mean, centered.T @ centered / (n - 1)


def _check_statistics(mu, sigma, which):
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1:
        raise ValueError(f"frechet_distance: mu{which} must be a vector (D,), got shape {mu.shape}")
    if sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(
            f"frechet_distance: sigma{which} must be a square (D, D) covariance matching mu{which} of "
            f"shape {mu.shape}, so ({mu.shape[0]}, {mu.shape[0]}); got shape {sigma.shape}"
        )
    scale = np.abs(sigma).max(initial=0.0)
    if np.abs(sigma - sigma.T).max(initial=0.0) > 1e-4 * scale:  # float32 products are this far off; a wrong matrix far more
        raise ValueError(f"frechet_distance: sigma{which} is not symmetric, so it is not a covariance matrix")
    return mu, (sigma + sigma.T) / 2  # exactly symmetric: eigh reads only one triangle


def _sqrt_psd(matrix):
    """The symmetric square root U diag(sqrt(l)) U^T of a symmetric positive semi-definite matrix."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    # A covariance has no negative eigenvalues; rounding can leave some at -1e-17.
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """The Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); means (D,), covariances (D, D).

        d = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

    The hard term is tr((S1 S2)^(1/2)). S1 S2 is not symmetric, so the usual route,
    a general matrix square root (scipy.linalg.sqrtm), can return complex numbers
    and loses accuracy when a covariance is singular (fewer samples than features)
    or ill-conditioned. Here it is computed with symmetric matrices only: with
    A = S1^(1/2), the product S1 S2 = A (A S2) has the same eigenvalues as
    (A S2) A = A S2 A, which is symmetric positive semi-definite. So
    tr((S1 S2)^(1/2)) = sum of sqrt(eigenvalues of A S2 A), and a symmetric
    eigen-solver (eigh, eigvalsh) is backward stable and returns real eigenvalues;
    the rounding that leaves some a hair below zero is clipped away, and a rank
    deficit just gives zero eigenvalues. Rounding can leave d a hair below zero
    (about 1e-13 times the traces) when the two Gaussians are the same.
    """
    mu1, sigma1 = _check_statistics(mu1, sigma1, 1)
    mu2, sigma2 = _check_statistics(mu2, sigma2, 2)
    if mu1.shape != mu2.shape:
        raise ValueError(
            f"frechet_distance: the two Gaussians live in different dimensions: mu1 {mu1.shape}, mu2 {mu2.shape}; "
            "were the features taken from the same layer?"
        )
    root1 = _sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    middle = (middle + middle.T) / 2  # symmetric in exact arithmetic; make it so in floating point
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)).sum()
    shift = mu1 - mu2
    return float(shift @ shift + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def fid_from_features(features1, features2) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets (N1, D) and (N2, D)."""
    mu1, sigma1 = feature_statistics(features1)
    mu2, sigma2 = feature_statistics(features2)
    if mu1.shape != mu2.shape:
        raise ValueError(
            f"fid_from_features: the feature sets have {mu1.shape[0]} and {mu2.shape[0]} features per sample; "
            "they must come from the same layer"
        )
    return frechet_distance(mu1, sigma1, mu2, sigma2)
