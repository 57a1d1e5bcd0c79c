"""Gradient-check cases for the layers of ``minigan.nn``, run by ``python -m minigan gradcheck``.

Each layer is checked in training and in eval mode, in float64 (``module.double()``),
with respect to its input AND every parameter (weights, biases, BatchNorm's affine
weight and bias): ``build`` returns the layer's own Parameter objects among the
inputs, so the checker perturbs exactly the tensors the layer reads. Sizes are tiny
because the check costs two forward passes per input element.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..gradcheck_cases import case, leaf
from .activation import LeakyReLU, ReLU, Sigmoid, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .containers import Sequential
from .conv import Conv2d, ConvTranspose2d
from .dropout import Dropout
from .flatten import Flatten, Unflatten
from .linear import Linear
from .minibatch_std import MinibatchStdDev
from .spectral_norm import spectral_norm


def _prepare(layer, rng, training, device):
    """The layer in float64 on ``device``, its parameters (and running statistics) redrawn from ``rng``.

    Redrawing makes the case independent of minigan's global seed, and gives BatchNorm's
    eval mode running statistics that are not the trivial 0 and 1.
    """
    layer = layer.double().to(device).train(training)
    for name, tensor in list(layer.named_parameters()) + list(layer.named_buffers()):
        if not tensor.is_floating_point():
            continue
        values = rng.standard_normal(tensor.shape)
        if name.endswith("running_var"):
            values = np.abs(values) + 0.5
        tensor.data = backend.asarray(values, dtype="float64", device=device)
    return layer


def layer_case(name, config, make, input_shape, seed, away_from=None, same_mask=False):
    """Register ``make()`` (a new layer) on an input of ``input_shape``, in train and in eval mode."""
    for training in (True, False):
        @case(name, f"{'train' if training else 'eval'} {config}, input {input_shape}")
        def build(device, training=training):
            rng = np.random.default_rng(seed)
            layer = _prepare(make(), rng, training, device)
            x = leaf(rng, *input_shape, device=device, away_from=away_from)

            def fn(x, *parameters):  # the parameters are the layer's own: the checker moves their .data
                if not same_mask:
                    return layer(x)
                # Dropout draws a new mask per call; a finite difference needs the same mask in
                # every evaluation, so each call starts from the same seed (and restores the stream).
                state = backend.get_rng_state()
                backend.manual_seed(seed)
                try:
                    return layer(x)
                finally:
                    backend.set_rng_state(state)

            return fn, (x, *layer.parameters())


layer_case("Linear", "Linear(4, 3)", lambda: Linear(4, 3), (2, 4), seed=100)
layer_case("Linear", "Linear(3, 2, bias=False) on (2, 2, 3)", lambda: Linear(3, 2, bias=False), (2, 2, 3), seed=101)
layer_case(
    "Conv2d", "Conv2d(2, 2, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))",
    lambda: Conv2d(2, 2, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)), (1, 2, 4, 4), seed=102,
)
layer_case("Conv2d", "Conv2d(1, 2, 4, 2, 1, bias=False)", lambda: Conv2d(1, 2, 4, 2, 1, bias=False), (1, 1, 4, 4), seed=103)
layer_case(
    "ConvTranspose2d", "ConvTranspose2d(2, 1, 3, 2, 1, output_padding=1)",
    lambda: ConvTranspose2d(2, 1, 3, 2, 1, output_padding=1), (1, 2, 2, 2), seed=104,
)
layer_case(
    "ConvTranspose2d", "ConvTranspose2d(2, 1, (2, 3), stride=(1, 2), dilation=(2, 1), bias=False)",
    lambda: ConvTranspose2d(2, 1, (2, 3), stride=(1, 2), dilation=(2, 1), bias=False), (2, 2, 2, 2), seed=105,
)
layer_case("BatchNorm1d", "BatchNorm1d(3)", lambda: BatchNorm1d(3), (4, 3), seed=106)
layer_case("BatchNorm1d", "BatchNorm1d(2) on (N, C, L)", lambda: BatchNorm1d(2), (3, 2, 2), seed=107)
layer_case("BatchNorm2d", "BatchNorm2d(2)", lambda: BatchNorm2d(2), (3, 2, 2, 2), seed=108)
layer_case("BatchNorm2d", "BatchNorm2d(2, affine=False, momentum=None)", lambda: BatchNorm2d(2, affine=False, momentum=None), (2, 2, 2, 2), seed=109)
layer_case("ReLU", "ReLU()", ReLU, (3, 4), seed=110, away_from=[0.0])
layer_case("LeakyReLU", "LeakyReLU(0.2)", lambda: LeakyReLU(0.2), (3, 4), seed=111, away_from=[0.0])
layer_case("Tanh", "Tanh()", Tanh, (3, 4), seed=112)
layer_case("Sigmoid", "Sigmoid()", Sigmoid, (3, 4), seed=113)
layer_case("Dropout", "Dropout(0.5), one mask for every call", lambda: Dropout(0.5), (3, 4), seed=114, same_mask=True)
layer_case("Flatten", "Flatten()", Flatten, (2, 2, 2, 3), seed=115)
layer_case("Unflatten", "Unflatten(1, (2, 3))", lambda: Unflatten(1, (2, 3)), (2, 6), seed=116)
layer_case(
    "Sequential", "generator block: ConvT -> BatchNorm2d -> ReLU -> Conv -> Tanh",
    lambda: Sequential(ConvTranspose2d(1, 2, 2, 2, bias=False), BatchNorm2d(2), ReLU(), Conv2d(2, 1, 1), Tanh()),
    (2, 1, 1, 2), seed=117,
)
layer_case(
    "Sequential", "critic block: Conv -> LeakyReLU -> Dropout -> Flatten -> Linear",
    lambda: Sequential(Conv2d(1, 2, 2, 2), LeakyReLU(0.2), Dropout(0.3), Flatten(), Linear(8, 1)),
    (2, 1, 4, 4), seed=118, same_mask=True,
)
layer_case("MinibatchStdDev", "MinibatchStdDev(2) on (N, F)", lambda: MinibatchStdDev(2), (4, 3), seed=119)
layer_case("MinibatchStdDev", "MinibatchStdDev(4), group of N < 4", lambda: MinibatchStdDev(4), (3, 2), seed=120)
layer_case("MinibatchStdDev", "MinibatchStdDev(2) on (N, C, H, W)", lambda: MinibatchStdDev(2), (4, 2, 2, 2), seed=121)


def spectral_norm_case(config, make, input_shape, seed):
    """``spectral_norm(make())`` in eval mode, w.r.t. its input, bias and weight_orig.

    Eval mode, because training mode moves u and v on every call, and a finite difference
    needs the same function each time. A few training calls first bring u and v near the
    top singular vectors, so sigma = u^T W v is the real one and far from zero.
    """
    @case("spectral_norm", f"eval {config}, input {input_shape}")
    def build(device):
        rng = np.random.default_rng(seed)
        layer = _prepare(spectral_norm(make()), rng, True, device)
        x = leaf(rng, *input_shape, device=device)
        with no_grad():
            for _ in range(5):
                layer(x)
        layer.eval()

        def fn(x, *parameters):
            return layer(x)

        return fn, (x, *layer.parameters())


spectral_norm_case("Linear(4, 3)", lambda: Linear(4, 3), (2, 4), seed=122)
spectral_norm_case("Conv2d(2, 2, 3, padding=1)", lambda: Conv2d(2, 2, 3, padding=1), (1, 2, 3, 3), seed=123)
spectral_norm_case(
    "ConvTranspose2d(2, 1, 2, 2, bias=False), dim=1", lambda: ConvTranspose2d(2, 1, 2, 2, bias=False), (1, 2, 2, 2), seed=124,
)
