"""Batch normalization: normalize each channel by batch statistics (training) or running ones (eval)."""

from __future__ import annotations

import math

from ... import ops
from ...autograd import Function, is_grad_enabled
from ...backend import get_namespace
from ...tensor import Tensor


class BatchNormalize(Function):
    """x_hat = (x - mean) / sqrt(var + eps), mean and biased var over ``axes`` (N and the pixels).

    dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)), g = d(loss)/d(x_hat):
    the batch statistics depend on every x, hence the two subtracted means.
    """

    uses_output = True

    def __init__(self, axes, eps):
        self.axes, self.eps = axes, eps

    def forward(self, x):
        xp = get_namespace(x)
        self.mean = xp.mean(x, axis=self.axes, keepdims=True)
        centered = x - self.mean
        self.var = xp.mean(centered * centered, axis=self.axes, keepdims=True)
        self.inv_std = 1.0 / xp.sqrt(self.var + self.eps)
        return centered * self.inv_std

    def backward(self, g):
        (x,) = self.inputs
        x_hat = self.output
        if is_grad_enabled():
            # Double backprop: inv_std is a function of x, so it must be in the graph;
            # treating it as a constant (as DeZero does) gives wrong second derivatives.
            inv_std = (ops.var(x, self.axes, keepdim=True, correction=0) + self.eps) ** -0.5
        else:
            inv_std = Tensor(self.inv_std)
        mean_g = ops.mean(g, self.axes, keepdim=True)
        mean_gx = ops.mean(g * x_hat, self.axes, keepdim=True)
        return inv_std * (g - mean_g - x_hat * mean_gx)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (dimension 1).

    x (N, C) or (N, C, H, W). Training: batch statistics (biased variance), and the
    running ones (if given) move by ``momentum`` towards the batch mean and the
    *unbiased* batch variance, as in PyTorch. Eval: the running statistics.
    """
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"batch_norm: expected input of shape (N, C), (N, C, L) or (N, C, H, W), got {x.shape}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ValueError(f"batch_norm: {name} must have shape ({channels},) for input {x.shape}, got {t.shape}")
    axes = (0,) + tuple(range(2, x.ndim))
    stat_shape = (1, channels) + (1,) * (x.ndim - 2)
    if training or running_mean is None:
        count = math.prod(x.shape[a] for a in axes)
        if count < 2:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of shape {x.shape}")
        normalize = BatchNormalize(axes, eps)
        x_hat = normalize(x)
        if training and running_mean is not None:
            xp = x.get_namespace()
            batch_mean = xp.reshape(normalize.mean, (channels,))
            unbiased_var = xp.reshape(normalize.var, (channels,)) * (count / (count - 1))
            running_mean.data = (1 - momentum) * running_mean.data + momentum * xp.astype(batch_mean, running_mean.data.dtype)
            running_var.data = (1 - momentum) * running_var.data + momentum * xp.astype(unbiased_var, running_var.data.dtype)
    else:
        mean = Tensor(running_mean.data).reshape(stat_shape)
        inv_std = (Tensor(running_var.data).reshape(stat_shape) + eps) ** -0.5
        x_hat = (x - mean) * inv_std
    if weight is not None:
        x_hat = x_hat * weight.reshape(stat_shape)
    if bias is not None:
        x_hat = x_hat + bias.reshape(stat_shape)
    return x_hat
