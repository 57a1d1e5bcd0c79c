"""Dropout: in training, zero each element with probability p and scale the rest by 1/(1-p).

Dropping units at random stops a discriminator from leaning on a few features;
the scaling keeps the expected output equal to the input, so in eval mode the
layer simply passes its input through.
"""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module


class Dropout(Module):
    """y = x * m / (1 - p), m ~ Bernoulli(1 - p) per element, in training; y = x in eval. Any shape.

    The mask comes from minigan's seeded generator, so ``manual_seed`` makes it reproducible.
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: the probability p of zeroing an element must be between 0 and 1, got {p!r}")
        # inplace is accepted for PyTorch compatibility; minigan always works out of place.
        self.p, self.inplace = float(p), inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
