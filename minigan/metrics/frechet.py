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
    if mu.ndim != 1 or mu.shape[0] == 0:
        raise ValueError(f"frechet_distance: mu{which} must be a vector (D,) with D >= 1, got shape {mu.shape}")
    if sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(
            f"frechet_distance: sigma{which} must be a square (D, D) covariance matching mu{which} of "
            f"shape {mu.shape}, so ({mu.shape[0]}, {mu.shape[0]}); got shape {sigma.shape}"
        )
    # A covariance made in float32 can be this far from symmetric; a matrix that is no covariance, far more.
    if np.abs(sigma - sigma.T).max(initial=0.0) > 1e-4 * np.abs(sigma).max(initial=0.0):
        raise ValueError(f"frechet_distance: sigma{which} is not symmetric, so it is not a covariance matrix")
    return mu, (sigma + sigma.T) / 2  # exactly symmetric: eigh reads only one triangle


def _rounding_floor(eigenvalues, scale):
    """Set to zero the eigenvalues that rounding cannot tell from zero: those below d * eps * scale.

    A rank-deficient covariance has exact zeros that come out as +-1e-17; left in,
    each would add its square root (3e-9, not 1e-17) to the trace, and d of them
    make a visible error. Negative ones, which no covariance has, go too.
    """
    floor = max(len(eigenvalues) * np.finfo(np.float64).eps * scale, 0.0)
    return np.where(eigenvalues > floor, eigenvalues, 0.0)


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
    eigen-solver (eigh, eigvalsh) is backward stable and returns real eigenvalues.
    Eigenvalues at the rounding level (a hair below or above zero) are set to zero,
    so a rank deficit just gives zero eigenvalues. One limit remains: A S2 A squares
    the condition number, so eigenvalues of S1 S2 below about 1e-16 of the largest
    are lost with their roots (1e-8 each): d is then off by up to about 1e-8 d ||S||.
    """
    mu1, sigma1 = _check_statistics(mu1, sigma1, 1)
    mu2, sigma2 = _check_statistics(mu2, sigma2, 2)
    if mu1.shape != mu2.shape:
        raise ValueError(
            f"frechet_distance: the two Gaussians live in different dimensions: mu1 {mu1.shape}, mu2 {mu2.shape}; "
            "were the features taken from the same layer?"
        )
    eigenvalues, eigenvectors = np.linalg.eigh(sigma1)
    eigenvalues = np.clip(eigenvalues, 0.0, None)  # a covariance has none below 0; rounding leaves some at -1e-17
    root1 = (eigenvectors * np.sqrt(eigenvalues)) @ eigenvectors.T  # A = S1^(1/2) = U diag(sqrt(l)) U^T
    middle = root1 @ sigma2 @ root1
    middle = (middle + middle.T) / 2  # symmetric in exact arithmetic; make it so in floating point
    # The products above round at about eps * ||S1|| * ||S2|| (the Frobenius norm bounds ||S2||).
    rounding_scale = eigenvalues.max() * np.linalg.norm(sigma2)
    trace_sqrt = np.sqrt(_rounding_floor(np.linalg.eigvalsh(middle), rounding_scale)).sum()
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
