"""Layers against finite differences: the registered CLI cases, and hypothesis-drawn configurations.

Gradients are checked with respect to the input and every parameter, first and
second order, in float64. Sizes stay tiny: each check costs two forward passes per
element of every checked tensor.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
import minigan.nn.gradcheck_cases  # noqa: F401  (registers the layer cases)
from minigan import gradcheck, gradgradcheck, nn
from minigan.gradcheck_cases import CASES

LAYER_CASES = [c for c in CASES if c.build.__module__ == "minigan.nn.gradcheck_cases"]
LAYERS = {"Linear", "Conv2d", "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d", "ReLU", "LeakyReLU", "Tanh", "Sigmoid",
          "Dropout", "Flatten", "Unflatten", "Sequential"}


def test_every_layer_has_cases_in_both_modes():
    for name in LAYERS:
        configs = [c.config for c in LAYER_CASES if c.name == name]
        assert any(c.startswith("train ") for c in configs) and any(c.startswith("eval ") for c in configs), name


@pytest.mark.parametrize("case", LAYER_CASES, ids=[f"{c.name}: {c.config}" for c in LAYER_CASES])
def test_registered_layer_case(case, device):
    fn, inputs = case.build(device)
    layer_parameters = inputs[1:]
    assert all(isinstance(p, nn.Parameter) and p.dtype == "float64" for p in layer_parameters)
    assert gradcheck(fn, inputs)
    fn, inputs = case.build(device)
    assert gradgradcheck(fn, inputs)


def check_layer(layer, x_shape, second_order=True, seed=0):
    """gradcheck (and gradgradcheck) of ``layer`` in float64 w.r.t. its input and all its parameters."""
    layer = layer.double()
    rng = np.random.default_rng(seed)
    for p in layer.parameters():  # away from PyTorch's small default init, so every term matters
        p.data = minigan.tensor(rng.standard_normal(p.shape), dtype="float64", device=p.device).data
    x = minigan.tensor(rng.standard_normal(x_shape), dtype="float64", requires_grad=True)
    inputs = (x, *layer.parameters())

    def fn(x, *parameters):
        return layer(x)

    assert gradcheck(fn, inputs)
    if second_order:
        assert gradgradcheck(fn, inputs)


# ---------------------------------------------------------------- strategies

def _smallest_conv_input(kernel, padding, dilation):
    """The smallest input side for which a conv has at least one output pixel."""
    return max(1, dilation * (kernel - 1) + 1 - 2 * padding)


@st.composite
def conv_configs(draw, transposed=False):
    """Valid Conv2d / ConvTranspose2d arguments and a tiny input shape for them."""
    config = dict(
        in_channels=draw(st.integers(1, 2)), out_channels=draw(st.integers(1, 2)),
        kernel_size=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        stride=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        padding=(draw(st.integers(0, 1)), draw(st.integers(0, 1))),
        dilation=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        bias=draw(st.booleans()),
    )
    sides = []
    for i in range(2):
        k, s, p, d = config["kernel_size"][i], config["stride"][i], config["padding"][i], config["dilation"][i]
        if transposed:
            # output_padding picks among the output sizes that map back to the same input size,
            # so PyTorch requires it below max(stride, dilation).
            op = draw(st.integers(0, max(s, d) - 1))
            config.setdefault("output_padding", [0, 0])[i] = op
            low = 1
            while (low - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
                low += 1
        else:
            low = _smallest_conv_input(k, p, d)
        sides.append(draw(st.integers(low, low + 2)))
    if transposed:
        config["output_padding"] = tuple(config["output_padding"])
    shape = (draw(st.integers(1, 2)), config["in_channels"], *sides)
    return config, shape


# ---------------------------------------------------------------- drawn configurations

@settings(max_examples=6)
@given(conv_configs())
def test_conv2d_first_derivatives(drawn):
    config, shape = drawn
    check_layer(nn.Conv2d(**config), shape, second_order=False)


@settings(max_examples=6)
@given(conv_configs(transposed=True))
def test_conv_transpose2d_first_derivatives(drawn):
    config, shape = drawn
    check_layer(nn.ConvTranspose2d(**config), shape, second_order=False)


@pytest.mark.slow
@settings(max_examples=8)
@given(conv_configs())
def test_conv2d_second_derivatives(drawn):
    config, shape = drawn
    check_layer(nn.Conv2d(**config), shape)


@pytest.mark.slow
@settings(max_examples=8)
@given(conv_configs(transposed=True))
def test_conv_transpose2d_second_derivatives(drawn):
    config, shape = drawn
    check_layer(nn.ConvTranspose2d(**config), shape)


@settings(max_examples=2)
@given(st.data())
def test_conv_second_derivatives_on_a_few_configurations(data):
    transposed = data.draw(st.booleans())
    config, shape = data.draw(conv_configs(transposed))
    check_layer((nn.ConvTranspose2d if transposed else nn.Conv2d)(**config), shape)


@settings(max_examples=8)
@given(
    in_features=st.integers(1, 3), out_features=st.integers(1, 3), bias=st.booleans(),
    lead=st.lists(st.integers(1, 2), min_size=0, max_size=2),
)
def test_linear(in_features, out_features, bias, lead):
    check_layer(nn.Linear(in_features, out_features, bias=bias), (*lead, in_features))


@settings(max_examples=8)
@given(
    two_d=st.booleans(), n=st.integers(2, 3), c=st.integers(1, 2), side=st.integers(1, 2),
    training=st.booleans(), affine=st.booleans(), track=st.booleans(),
)
def test_batchnorm(two_d, n, c, side, training, affine, track):
    layer = (nn.BatchNorm2d if two_d else nn.BatchNorm1d)(c, affine=affine, track_running_stats=track).train(training)
    shape = (n, c, side, side) if two_d else (n, c) if side == 1 else (n, c, side)
    if not affine:
        layer = layer.double()
        x = minigan.tensor(np.random.default_rng(1).standard_normal(shape), dtype="float64", requires_grad=True)
        assert gradcheck(layer, (x,)) and gradgradcheck(layer, (x,))
    else:
        check_layer(layer, shape)


def test_conv_transpose2d_output_padding_beyond_the_stride():
    """output_padding >= stride is valid when the dilation is larger; the extra output row gets no input."""
    layer = nn.ConvTranspose2d(1, 1, 1, stride=1, output_padding=(1, 0), dilation=(2, 1), bias=False)
    check_layer(layer, (1, 1, 2, 2))
