"""Batch normalization: normalize each channel by batch statistics (training) or running ones (eval)."""

from __future__ import annotations

import math

from ... import ops
from ...autograd import Function, is_grad_enabled
from ...backend import Fused, FusedChannelSum, channels_last_in_memory, get_namespace, sums_by_matrix_product
from ...tensor import Tensor


def channel_sums(a):
    """The sum of ``a`` (N, C, ...) over every axis but the channels: on the CPU as matrix-vector
    products with ones, which BLAS runs on every core, where xp.sum over the outer axes runs on one
    (0.1 against 0.4 ms at 64 x 64 x 14 x 14, two cores); elsewhere xp.sum (backend.sums_by_matrix_product).

    Channels-last memory (what minigan's convolutions return) and (N, C): ones^T A on the free
    (N*H*W, C) rows. Otherwise (N, C, H, W) in its own order: ones^T over the batch on the free
    (N, C*H*W) rows, then each channel's H*W numbers summed along contiguous memory.
    """
    xp = get_namespace(a)
    if not sums_by_matrix_product(a):  # a GPU: one reduction kernel
        return xp.sum(a, axis=(0,) + tuple(range(2, a.ndim)))
    n, c = a.shape[:2]
    if a.ndim == 2 or channels_last_in_memory(a):
        rows = xp.reshape(xp.permute_dims(a, (0,) + tuple(range(2, a.ndim)) + (1,)), (-1, c))
        return xp.ones((rows.shape[0],), dtype=a.dtype) @ rows
    over_batch = xp.ones((n,), dtype=a.dtype) @ xp.reshape(a, (n, -1))
    return xp.sum(xp.reshape(over_batch, (c, -1)), axis=1)


# ---------------------------------------------------------------- the passes, fused on the GPU
# Each is one kernel on the GPU (backend.Fused, FusedChannelSum) and, elsewhere, the array
# operations beside it. Per-channel values have the input's dimensions: (1, C, 1, 1) or (1, C).

def _keep_dims(sums, like):
    return get_namespace(sums).reshape(sums, (1, -1) + (1,) * (like.ndim - 2))


def _channel_sum(g):
    return _keep_dims(channel_sums(g), g)


def _channel_mean(x, m):
    return _keep_dims(channel_sums(x), x) / m


def _channel_mean_of_squares(centered, m):
    return _keep_dims(channel_sums(centered * centered), centered) / m


def _channel_product_sum(g, centered):
    return _keep_dims(channel_sums(g * centered), g)


def _bn_affine(centered, var, weight, bias, eps):
    """y = centered * (weight / sqrt(var + eps)) + bias: the per-channel scale first, then one
    product and one in-place add over the batch."""
    y = centered * (weight * (1.0 / get_namespace(var).sqrt(var + eps)))
    y += bias  # in place: one temporary fewer
    return y


def _bn_grad_coefficients(g_bias, g_centered, var, weight, eps, inv_m):
    """The per-channel a, b, c of g_x = a (g - b - centered c), and dweight = inv_std sum g centered."""
    inv_std = 1.0 / get_namespace(var).sqrt(var + eps)
    g_weight = g_centered * inv_std
    return weight * inv_std, g_bias * inv_m, inv_std * (g_weight * inv_m), g_weight


def _bn_grad_input(g, centered, a, b, c):
    scratch = centered * c  # a (g - b - centered c), in one scratch array updated in place
    scratch += b
    scratch -= g
    scratch *= -a
    return scratch


def _running_stats(batch_mean, batch_var, momentum, unbias, running_mean, running_var):
    """running = (1 - momentum) running + momentum batch, in place; the variance unbiased first."""
    xp = get_namespace(running_mean)
    running_mean *= 1 - momentum
    running_mean += momentum * xp.astype(batch_mean, running_mean.dtype)
    running_var *= 1 - momentum
    running_var += (momentum * unbias) * xp.astype(batch_var, running_var.dtype)
    return running_mean, running_var


# S and T may differ: running statistics kept in float32 for a float64 batch, say.
running_stats_kernel = Fused(
    "running_stats", "S batch_mean, S batch_var, T momentum, T unbias", "T running_mean, T running_var",
    """
    running_mean = (1 - momentum) * running_mean + momentum * (T)batch_mean;
    running_var = (1 - momentum) * running_var + momentum * unbias * (T)batch_var;
    """,
    _running_stats,
)
channel_sum_kernel = FusedChannelSum("channel_sum", "T g", "T total", "g", "total = a", _channel_sum)
channel_mean_kernel = FusedChannelSum("channel_mean", "T x, T m", "T mean", "x", "mean = a / m", _channel_mean)
channel_mean_of_squares_kernel = FusedChannelSum(
    "channel_mean_of_squares", "T centered, T m", "T var", "centered * centered", "var = a / m", _channel_mean_of_squares
)
channel_product_sum_kernel = FusedChannelSum(
    "channel_product_sum", "T g, T centered", "T total", "g * centered", "total = a", _channel_product_sum
)
bn_affine_kernel = Fused(
    "bn_affine", "T centered, T var, T weight, T bias, T eps", "T y",
    "y = centered * (weight * rsqrt(var + eps)) + bias", _bn_affine,
)
bn_grad_coefficients_kernel = Fused(
    "bn_grad_coefficients", "T g_bias, T g_centered, T var, T weight, T eps, T inv_m", "T a, T b, T c, T g_weight",
    """
    const T inv_std = rsqrt(var + eps);
    g_weight = g_centered * inv_std;
    a = weight * inv_std; b = g_bias * inv_m; c = inv_std * (g_weight * inv_m);
    """,
    _bn_grad_coefficients,
)
bn_grad_input_kernel = Fused(
    "bn_grad_input", "T g, T centered, T a, T b, T c", "T gx", "gx = a * (g - b - centered * c)", _bn_grad_input
)


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


class BatchNormAffine(Function):
    """y = x_hat * weight + bias in training mode, as one op: BatchNormalize and the affine map fused.

    Forward: y = (x - mean) * (weight inv_std) + bias, two passes after the statistics
    where normalize-multiply-add took four, and one array kept for backward, not three.
    Backward, with g = dL/dy and m values per channel:
        dbias = sum g,   dweight = sum g x_hat,   dx = weight inv_std (g - (dbias + x_hat dweight) / m),
    which is BatchNormalize's backward with g weight for its g. BatchNormalize stays the
    reference (and the op when there is no weight and bias); a test checks one against the other.
    """

    def __init__(self, axes, eps):
        self.axes, self.eps = axes, eps

    def forward(self, x, weight, bias):
        xp = get_namespace(x)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        m = math.prod(x.shape[a] for a in self.axes)
        self.mean = channel_mean_kernel(x, m)  # (1, C, 1, 1): one value per channel
        centered = x - self.mean
        self.var = channel_mean_of_squares_kernel(centered, m)
        y = bn_affine_kernel(centered, self.var, xp.reshape(weight, shape), xp.reshape(bias, shape), self.eps)
        # backward works from the centered input (x_hat = centered inv_std) rather than keep x_hat too
        self.centered = centered if any(self.needs_input_grad[:2]) else None
        return y

    def backward(self, g):
        x, weight, _ = self.inputs
        needs_x, needs_weight, _ = self.needs_input_grad
        if not is_grad_enabled():
            return self._first_order(g.data, weight.data, needs_x, needs_weight)
        g_bias = ops.sum(g, self.axes)
        if not (needs_x or needs_weight):
            return None, None, g_bias
        shape = (1, -1) + (1,) * (x.ndim - 2)
        # Double backprop: x_hat and inv_std are functions of x and must be in the graph
        # (see BatchNormalize.backward).
        inv_std = (ops.var(x, self.axes, keepdim=True, correction=0) + self.eps) ** -0.5
        x_hat = (x - ops.mean(x, self.axes, keepdim=True)) * inv_std
        g_weight = ops.sum(g * x_hat, self.axes)
        g_x = None
        if needs_x:
            m = math.prod(x.shape[a] for a in self.axes)
            # (dbias + x_hat dweight) / m, the divisions done on the per-channel vectors
            correction = (g_bias / m).reshape(shape) + x_hat * (g_weight / m).reshape(shape)
            g_x = (weight.reshape(shape) * inv_std) * (g - correction)
        return g_x, g_weight, g_bias

    def _first_order(self, g, weight, needs_x, needs_weight):
        """The same formulas on raw arrays, when no graph is recorded (the usual backward): the
        sums by ``channel_sums``, and the input gradient in one pass on the GPU (one scratch
        array updated in place elsewhere) where the Tensor ops make a new array each (a test
        holds the two branches together)."""
        xp = get_namespace(g)
        shape = (1, -1) + (1,) * (g.ndim - 2)
        g_bias = channel_sum_kernel(g)  # (1, C, 1, 1), as every per-channel value here
        if not (needs_x or needs_weight):
            return None, None, Tensor(xp.reshape(g_bias, (-1,)))
        # sum g x_hat = inv_std sum g (x - mean): the product with the kept centered input;
        # g_x = weight inv_std (g - (g_bias + x_hat g_weight) / m) = a (g - b - centered c),
        # with a, b, c per channel
        m = math.prod(g.shape[a] for a in self.axes)
        a, b, c, g_weight = bn_grad_coefficients_kernel(
            g_bias, channel_product_sum_kernel(g, self.centered), self.var, xp.reshape(weight, shape), self.eps, 1.0 / m
        )
        g_weight, g_bias = Tensor(xp.reshape(g_weight, (-1,))), Tensor(xp.reshape(g_bias, (-1,)))
        if not needs_x:
            return None, g_weight, g_bias
        return Tensor(bn_grad_input_kernel(g, self.centered, a, b, c)), g_weight, g_bias

    def release(self):
        super().release()
        self.centered = None


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
        if weight is not None and bias is not None:  # the usual case: one fused op
            normalize = BatchNormAffine(axes, eps)
            y = normalize(x, weight, bias)
        else:
            normalize = BatchNormalize(axes, eps)
            y = _affine(normalize(x), weight, bias, stat_shape)
        if training and running_mean is not None:
            xp = x.get_namespace()
            running_stats_kernel(
                xp.reshape(normalize.mean, (channels,)), xp.reshape(normalize.var, (channels,)),
                momentum, count / (count - 1), running_mean.data, running_var.data,
            )
        return y
    mean = Tensor(running_mean.data).reshape(stat_shape)
    inv_std = (Tensor(running_var.data).reshape(stat_shape) + eps) ** -0.5
    return _affine((x - mean) * inv_std, weight, bias, stat_shape)


def _affine(x_hat, weight, bias, stat_shape):
    """x_hat * weight + bias, each optional, broadcast over the channel dimension."""
    if weight is not None:
        x_hat = x_hat * weight.reshape(stat_shape)
    if bias is not None:
        x_hat = x_hat + bias.reshape(stat_shape)
    return x_hat
