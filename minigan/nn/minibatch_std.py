"""MinibatchStdDev: one extra feature that tells the discriminator how varied its batch is.

Karras et al. 2018 ("Progressive Growing of GANs", section 3). A discriminator that
scores samples one at a time cannot see that a collapsed generator makes them all
alike; this layer appends the average standard deviation across a group of
samples as a constant extra channel, so it can. It sits near the end of D.
"""

from __future__ import annotations

from ..ops import cat
from ..tensor import Tensor
from .module import Module

# Inside the square root, as in the paper's code: the gradient of sqrt stays finite when
# a group is identical, and the feature of such a group is sqrt(1e-8) = 1e-4.
_EPS = 1e-8


class MinibatchStdDev(Module):
    """x (N, C, H, W) -> (N, C+1, H, W), or (N, F) -> (N, F+1); any (N, C, *) works alike.

    s = mean over (C, H, W) of sqrt(mean over the group of (x - group mean)^2 + 1e-8):
    one number per group of G = min(group_size, N) samples, repeated over the group's
    samples and pixels. As in the authors' code (a reshape to (G, N/G, ...)), sample n
    belongs to group n mod (N/G): groups interleave through the batch.
    """

    def __init__(self, group_size=4):
        super().__init__()
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
            raise ValueError(f"MinibatchStdDev: group_size must be a positive int (the paper uses 4), got {group_size!r}")
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2:
            raise ValueError(f"{self._label()}: expected a batch (N, C, H, W) or (N, F), got shape {x.shape}")
        n, rest = x.shape[0], x.shape[1:]
        group = min(self.group_size, n)
        if n % group:
            raise ValueError(
                f"{self._label()}: the batch size {n} is not divisible by the group size {group}; "
                f"use a batch size that is a multiple of {group}, or a group_size that divides {n}"
            )
        groups = n // group
        y = x.reshape(group, groups, *rest)
        std = (y.var(0, correction=0) + _EPS).sqrt()  # (groups, C, H, W): biased, as in the paper
        s = std.reshape(groups, -1).mean(1)  # (groups,)
        spatial = rest[1:]
        s = s.reshape(1, groups, 1, *[1] * len(spatial)).broadcast_to((group, groups, 1, *spatial))
        return cat([x, s.reshape(n, 1, *spatial)], 1)

    def _label(self):
        return f"MinibatchStdDev({self.extra_repr()})"

    def extra_repr(self):
        return f"group_size={self.group_size}"
