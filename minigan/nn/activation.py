"""Activation layers: ReLU, LeakyReLU, Tanh and Sigmoid as Modules, for use in Sequential.

DCGAN's generator uses ReLU inside and Tanh at the end (images in [-1, 1]); its
discriminator uses LeakyReLU(0.2) inside. Each layer calls the op of the same name
in ``minigan.nn.functional`` and works on inputs of any shape.
"""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module

# ``inplace`` is accepted so that PyTorch code ports unchanged, but minigan always computes
# out of place: overwriting an input that autograd saved would corrupt its backward.


class ReLU(Module):
    """y = max(x, 0), elementwise; any shape."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope * x, elementwise; any shape."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Tanh(Module):
    """y = tanh x = (e^x - e^-x) / (e^x + e^-x), in (-1, 1); any shape."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    """y = 1 / (1 + e^-x), in (0, 1); any shape."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)
