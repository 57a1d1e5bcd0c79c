"""Dropout: zero each element with probability p in training, scaling the rest by 1/(1-p)."""

from __future__ import annotations

from ... import backend
from ...tensor import Tensor


def dropout(x, p=0.5, training=True):
    """y = x * mask / (1 - p), mask ~ Bernoulli(1 - p) from minigan's seeded generator; identity in eval."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return x
    xp = x.get_namespace()
    if p == 1.0:
        return x * 0.0
    keep = backend.random_uniform(x.shape, dtype=x.dtype, device=x.device) >= p
    return x * Tensor(xp.astype(keep, x.data.dtype) / (1.0 - p))
