"""BatchNorm1d and BatchNorm2d: normalize each channel, then scale and shift it.

DCGAN puts one after almost every layer. In training mode a channel is normalized
by the mean and variance of the batch, and running averages of those are kept as
buffers; in eval mode those running averages are used instead, so the output for
one sample no longer depends on the rest of the batch.
"""

from __future__ import annotations

from .. import backend
from ..tensor import Tensor, ones, tensor, zeros
from . import functional as F
from . import init
from .module import Module, Parameter


class _BatchNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (dimension 1).

    Training: mean and var of the batch (biased), and running_mean, running_var move
    towards them, running = (1 - momentum) running + momentum batch (the unbiased
    variance, as in PyTorch); ``momentum=None`` averages all batches equally.
    Eval: the running statistics. weight, bias, running_mean, running_var: (C,).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}({num_features}): momentum must be between 0 and 1 (or None), got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = "float32" if dtype is None else backend.dtype_name(dtype)
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype, device=device))
            self.bias = Parameter(zeros(num_features, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", tensor(0, dtype="int64", device=device))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _label(self):
        return f"{type(self).__name__}({self.num_features})"

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        use_batch_stats = self.training or not self.track_running_stats
        if use_batch_stats and x.numel() // x.shape[1] < 2:
            raise ValueError(
                f"{self._label()}: training needs more than one value per channel to compute a batch "
                f"variance, got shape {x.shape}; use a batch of 2 or more, or call .eval() first"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            # ensure_array: NumPy turns 0-d array + 1 into a scalar, which is not an array
            self.num_batches_tracked.data = backend.ensure_array(self.num_batches_tracked.data + 1)
            if self.momentum is None:  # a cumulative average: batch k gets weight 1/k
                momentum = 1.0 / float(self.num_batches_tracked.item())
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias,
            training=use_batch_stats, momentum=momentum, eps=self.eps,
        )

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm over features: x (N, C) or (N, C, L) -> same shape, statistics over N (and L)."""

    def _check_input(self, x):
        c = self.num_features
        if x.ndim not in (2, 3):
            raise ValueError(f"{self._label()}: expected a 2-D or 3-D input (N, {c}) or (N, {c}, L), got shape {x.shape}")
        if x.shape[1] != c:
            raise ValueError(f"{self._label()}: expected input with {c} features (N, {c}) or (N, {c}, L), got shape {x.shape}")


class BatchNorm2d(_BatchNorm):
    """Batch norm over channels: x (N, C, H, W) -> same shape, statistics over N, H and W."""

    def _check_input(self, x):
        c = self.num_features
        if x.ndim != 4:
            raise ValueError(f"{self._label()}: expected a 4-D input (N, {c}, H, W), got shape {x.shape}")
        if x.shape[1] != c:
            raise ValueError(f"{self._label()}: expected input with {c} channels (N, {c}, H, W), got shape {x.shape}")
