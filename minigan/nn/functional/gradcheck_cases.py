"""Gradient-check cases for ``minigan.nn.functional``, run by ``python -m minigan gradcheck``.

Sizes are tiny (the check costs two forward passes per input element) but every
configuration knob appears: strides, paddings and dilations that differ per axis,
non-square kernels, output_padding, and both batch-norm modes.
"""

from __future__ import annotations

import numpy as np

from ... import backend
from ...gradcheck_cases import case, leaf
from ...tensor import tensor
from . import (
    batch_norm, binary_cross_entropy_with_logits, conv2d, conv_transpose2d, cross_entropy, dropout,
    leaky_relu, linear, log_sigmoid, log_softmax, mse_loss, relu, sigmoid, softplus, tanh,
)

def _describe(options):
    return " ".join(f"{k}={v}".replace(" ", "") for k, v in options.items())


_CONV = [
    dict(stride=1, padding=0, dilation=1),
    dict(stride=2, padding=1, dilation=1),
    dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
]
for options in _CONV:
    @case("conv2d", f"x(2,3,6,5) w(4,3,3,2) {_describe(options)}")
    def _conv(device, options=options):
        rng = np.random.default_rng(10)
        x, w, b = leaf(rng, 2, 3, 6, 5, device=device), leaf(rng, 4, 3, 3, 2, device=device), leaf(rng, 4, device=device)
        return (lambda x, w, b: conv2d(x, w, b, **options)), (x, w, b)

_CONV_T = [
    dict(stride=1, padding=0, output_padding=0, dilation=1),
    dict(stride=2, padding=1, output_padding=1, dilation=1),
    dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2), dilation=(2, 1)),
]
for options in _CONV_T:
    @case("conv_transpose2d", f"x(2,3,3,3) w(3,2,3,2) {_describe(options)}")
    def _conv_t(device, options=options):
        rng = np.random.default_rng(11)
        x, w, b = leaf(rng, 2, 3, 3, 3, device=device), leaf(rng, 3, 2, 3, 2, device=device), leaf(rng, 2, device=device)
        return (lambda x, w, b: conv_transpose2d(x, w, b, **options)), (x, w, b)


@case("conv_transpose2d", "x(2,3,3,3) w(3,2,4,4) stride=2 padding=1 (the sub-pixel path)")
def _conv_t_subpixel(device):
    rng = np.random.default_rng(13)
    x, w, b = leaf(rng, 2, 3, 3, 3, device=device), leaf(rng, 3, 2, 4, 4, device=device), leaf(rng, 2, device=device)
    return (lambda x, w, b: conv_transpose2d(x, w, b, stride=2, padding=1)), (x, w, b)


@case("linear", "x (3, 4), w (5, 4), b (5,)")
def _linear(device):
    rng = np.random.default_rng(12)
    return linear, (leaf(rng, 3, 4, device=device), leaf(rng, 5, 4, device=device), leaf(rng, 5, device=device))


@case("linear", "x (2, 3, 4), w (5, 4), no bias")
def _linear_3d(device):
    rng = np.random.default_rng(12)
    return linear, (leaf(rng, 2, 3, 4, device=device), leaf(rng, 5, 4, device=device))


@case("linear", "x (4,), w (5, 4), b (5,)")
def _linear_1d(device):
    rng = np.random.default_rng(12)
    return linear, (leaf(rng, 4, device=device), leaf(rng, 5, 4, device=device), leaf(rng, 5, device=device))


for training in (True, False):
    for shape in ((5, 3), (3, 2, 2, 2)):
        @case("batch_norm", f"{'train' if training else 'eval'} {shape}")
        def _bn(device, training=training, shape=shape):
            rng = np.random.default_rng(13)
            c = shape[1]
            running_mean = tensor(rng.standard_normal(c), dtype="float64", device=device)
            running_var = tensor(rng.uniform(0.5, 2.0, c), dtype="float64", device=device)
            x, w, b = leaf(rng, *shape, device=device), leaf(rng, c, device=device), leaf(rng, c, device=device)
            # momentum 0 keeps the running statistics fixed across the check's many evaluations
            return (lambda x, w, b: batch_norm(x, running_mean, running_var, w, b, training, momentum=0.0)), (x, w, b)


def _activation(name, fn, config="(3, 4)", second_order=True, **options):
    @case(name, config, second_order)
    def build(device):
        rng = np.random.default_rng(14)
        return fn, (leaf(rng, 3, 4, device=device, **options),)


_activation("relu", relu, away_from=[0.0])
_activation("leaky_relu", lambda x: leaky_relu(x, 0.2), config="(3, 4), slope 0.2", away_from=[0.0])
_activation("sigmoid", sigmoid)
_activation("tanh", tanh)
_activation("softplus", softplus)
_activation("log_sigmoid", log_sigmoid)
_activation("log_softmax", lambda x: log_softmax(x, 1), config="(3, 4), dim=1")


@case("dropout", "(3, 4), p=0.3, one fixed mask")
def _dropout(device):
    rng = np.random.default_rng(15)

    def fn(x):
        backend.manual_seed(7)  # the same mask on every evaluation, or the difference quotient is noise
        return dropout(x, 0.3, training=True)

    return fn, (leaf(rng, 3, 4, device=device),)


@case("binary_cross_entropy_with_logits", "(3, 4), soft targets")
def _bce(device):
    rng = np.random.default_rng(16)
    target = tensor(rng.uniform(0, 1, (3, 4)), dtype="float64", device=device)
    return (lambda z: binary_cross_entropy_with_logits(z, target)), (leaf(rng, 3, 4, device=device),)


@case("cross_entropy", "(3, 4) logits, classes [0, 3, 1]")
def _ce(device):
    rng = np.random.default_rng(17)
    return (lambda z: cross_entropy(z, [0, 3, 1])), (leaf(rng, 3, 4, device=device),)


@case("mse_loss", "(3, 4)")
def _mse(device):
    rng = np.random.default_rng(18)
    return mse_loss, (leaf(rng, 3, 4, device=device), leaf(rng, 3, 4, device=device))
