"""Linear: the fully connected layer, y = x W^T + b.

The first layer of an MLP generator (noise to features) and the last of most
discriminators (features to one logit).
"""

from __future__ import annotations

import math

from .. import backend
from ..tensor import Tensor, zeros
from . import functional as F
from . import init
from .module import Module, Parameter


class Linear(Module):
    """y = x W^T + b;  x (*, in_features) -> y (*, out_features).

    weight (out_features, in_features) and bias (out_features,) start as PyTorch's:
    U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {value!r}")
        self.in_features, self.out_features = in_features, out_features
        dtype = "float32" if dtype is None else backend.dtype_name(dtype)
        self.weight = Parameter(zeros(out_features, in_features, dtype=dtype, device=device))
        self.bias = Parameter(zeros(out_features, dtype=dtype, device=device)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.default_(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            message = (
                f"Linear({self.in_features}, {self.out_features}): expected input with {self.in_features} "
                f"features (*, {self.in_features}), got shape {x.shape}"
            )
            if x.ndim > 2 and math.prod(x.shape[1:]) == self.in_features:
                message += "; flatten it first, e.g. with nn.Flatten() before this layer"
            raise ValueError(message)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
