"""Flatten and Unflatten: reshape between images (N, C, H, W) and feature vectors (N, C*H*W).

A discriminator flattens its last feature map before the final Linear; a generator
unflattens the output of its first Linear into a small feature map to upsample.
"""

from __future__ import annotations

import math

from ..tensor import Tensor
from .module import Module


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        needed = max(d + 1 if d >= 0 else -d for d in (self.start_dim, self.end_dim))
        if x.ndim < needed:
            raise ValueError(f"{self._label()}: expected an input with at least {needed} dimensions, got shape {x.shape}")
        start, end = self.start_dim % x.ndim, self.end_dim % x.ndim
        if start > end:
            raise ValueError(f"{self._label()}: start_dim comes after end_dim for an input of shape {x.shape}")
        return x.flatten(start, end)

    def _label(self):
        return f"Flatten({self.extra_repr()})"

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: Unflatten(1, (128, 7, 7)) takes
    (N, 6272) to (N, 128, 7, 7). One entry may be -1, meaning 'whatever is left'."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        sizes = tuple(unflattened_size)
        if not sizes or not all(isinstance(s, int) and (s > 0 or s == -1) for s in sizes) or sizes.count(-1) > 1:
            raise ValueError(
                f"Unflatten: unflattened_size must be a non-empty tuple of positive ints (at most one -1), got {unflattened_size!r}"
            )
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, x: Tensor) -> Tensor:
        known = math.prod(s for s in self.unflattened_size if s != -1)
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"{self._label()}: expected an input with at least {self._needed()} dimensions, got shape {x.shape}")
        dim = self.dim % x.ndim
        size = x.shape[dim]
        fits = size % known == 0 if -1 in self.unflattened_size else size == known
        if not fits:
            what = f"a multiple of {known}" if -1 in self.unflattened_size else f"size {known}"
            raise ValueError(f"{self._label()}: expected {what} at dimension {self.dim}, got shape {x.shape}")
        return x.reshape(x.shape[:dim] + self.unflattened_size + x.shape[dim + 1:])

    def _needed(self):
        return self.dim + 1 if self.dim >= 0 else -self.dim

    def _label(self):
        return f"Unflatten({self.extra_repr()})"

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
