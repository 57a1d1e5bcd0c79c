"""Activations: the textbook formulas, their derivatives, and the limits at huge inputs.

A GAN's discriminator can emit logits of 1e4 early in training; sigmoid, tanh,
softplus, log_sigmoid and the BCE built on them must then return the limits
(0, 1, x, ...) with finite gradients, never inf or NaN.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigan
import minigan.nn.functional as F


def tensor(array, requires_grad=False, dtype="float64"):
    return minigan.tensor(np.asarray(array, dtype=dtype), dtype=dtype, requires_grad=requires_grad)


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# name -> (minigan op, forward formula, derivative formula); formulas valid for |x| <= 30 in float64
ACTIVATIONS = {
    "relu": (F.relu, lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float)),
    "leaky_relu": (F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), lambda x: np.where(x > 0, 1.0, 0.01)),
    "sigmoid": (F.sigmoid, _np_sigmoid, lambda x: _np_sigmoid(x) * (1 - _np_sigmoid(x))),
    "tanh": (F.tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "softplus": (F.softplus, lambda x: np.log1p(np.exp(x)), _np_sigmoid),
    "log_sigmoid": (F.log_sigmoid, lambda x: -np.log1p(np.exp(-x)), lambda x: _np_sigmoid(-x)),
}
SMOOTH = ["sigmoid", "tanh", "softplus", "log_sigmoid"]


def moderate_arrays(max_side=5, low=-30.0, high=30.0):
    return hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=max_side),
        elements=st.floats(low, high, allow_nan=False, allow_infinity=False),
    )


def away_from_zero(values, margin=0.05):
    """Push values within ``margin`` of the kink at 0 out to +-margin (central differences must not straddle it)."""
    close = np.abs(values) < margin
    return np.where(close, np.where(values >= 0, margin, -margin), values)


# ---------------------------------------------------------------- forward and first derivative

@pytest.mark.parametrize("name", ACTIVATIONS)
@given(x=moderate_arrays())
def test_forward_and_derivative_match_the_formulas(name, x):
    op, formula, derivative = ACTIVATIONS[name]
    if name in ("relu", "leaky_relu"):
        x = away_from_zero(x)
    t = tensor(x, True)
    y = op(t)
    assert y.shape == x.shape and y.dtype == "float64"
    np.testing.assert_allclose(y.numpy(), formula(x), rtol=1e-12, atol=1e-300)
    y.sum().backward()
    # tanh' = 1 - tanh(x)^2 cancels where tanh(x) is near 1: a libm one ulp away from
    # NumPy's (CuPy's, say) leaves an absolute error of a few ulps of 1 there.
    np.testing.assert_allclose(t.grad.numpy(), derivative(x), rtol=1e-12, atol=4 * np.finfo(np.float64).eps)


@given(st.floats(0.0, 1.0), moderate_arrays())
def test_leaky_relu_uses_its_negative_slope(slope, x):
    x = away_from_zero(x)
    t = tensor(x, True)
    y = F.leaky_relu(t, slope)
    np.testing.assert_allclose(y.numpy(), np.where(x > 0, x, slope * x), rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), np.where(x > 0, 1.0, slope), rtol=1e-15)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_float32_stays_float32(name):
    op, formula, _ = ACTIVATIONS[name]
    x = np.linspace(-4, 4, 9)
    y = op(minigan.tensor(x, dtype="float32"))
    assert y.dtype == "float32"
    np.testing.assert_allclose(y.numpy(), formula(x), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- huge inputs

# name -> (value at -big, value at +big, derivative at -big, derivative at +big), big standing for the input size
def _limits(big):
    return {
        "relu": (0.0, big, 0.0, 1.0),
        "leaky_relu": (-0.01 * big, big, 0.01, 1.0),
        "sigmoid": (0.0, 1.0, 0.0, 0.0),
        "tanh": (-1.0, 1.0, 0.0, 0.0),
        "softplus": (0.0, big, 0.0, 1.0),
        "log_sigmoid": (-big, 0.0, 1.0, 0.0),
    }


HUGE = [("float32", 1e4), ("float64", 1e4), ("float64", 1e30)]


@pytest.mark.parametrize("dtype, big", HUGE, ids=[f"{d}-{b:g}" for d, b in HUGE])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_huge_inputs_give_the_limits_and_finite_gradients(name, dtype, big):
    op = ACTIVATIONS[name][0]
    x = tensor([-big, big], True, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow inside (exp(1e4) = inf) warns, even if masked later
        y = op(x)
        y.sum().backward()
    low, high, d_low, d_high = _limits(big)[name]
    assert np.all(np.isfinite(y.numpy())) and np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_array_equal(y.numpy(), np.array([low, high], dtype=dtype))
    np.testing.assert_array_equal(x.grad.numpy(), np.array([d_low, d_high], dtype=dtype))


@pytest.mark.parametrize("dtype, big", HUGE, ids=[f"{d}-{b:g}" for d, b in HUGE])
@pytest.mark.parametrize("pos_weight", [None, 2.0])
def test_bce_with_logits_at_huge_logits(dtype, big, pos_weight):
    """l = softplus(z) - y z: exactly big when a confident logit is wrong, 0 when it is right."""
    z = tensor([big, big, -big, -big], True, dtype=dtype)
    y = tensor([0.0, 1.0, 1.0, 0.0], dtype=dtype)
    p = None if pos_weight is None else tensor([pos_weight] * 4, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy_with_logits(z, y, reduction="none", pos_weight=p)
        loss.sum().backward()
    w = 1.0 if pos_weight is None else pos_weight  # a wrong positive costs pos_weight times as much
    np.testing.assert_array_equal(loss.numpy(), np.array([big, 0.0, w * big, 0.0], dtype=dtype))
    # dl/dz = sigmoid(z) - y, and with pos_weight: (1 - y) - (1 + (w - 1) y) sigmoid(-z)
    np.testing.assert_array_equal(z.grad.numpy(), np.array([1.0, 0.0, -w, 0.0], dtype=dtype))
    mean = F.binary_cross_entropy_with_logits(z, y, pos_weight=p)
    assert mean.item() == pytest.approx((1 + w) * big / 4, rel=1e-6)


# ---------------------------------------------------------------- gradcheck and gradgradcheck

FEW = settings(max_examples=max(3, settings().max_examples // 3))


@FEW
@pytest.mark.parametrize("name", ACTIVATIONS)
@given(x=moderate_arrays(max_side=3, low=-6.0, high=6.0))
def test_gradcheck_and_gradgradcheck_away_from_kinks(name, x):
    op = ACTIVATIONS[name][0]
    inputs = (tensor(away_from_zero(x), True),)
    assert minigan.gradcheck(op, inputs)
    assert minigan.gradgradcheck(op, inputs)


@pytest.mark.parametrize("name", SMOOTH)
def test_second_derivatives_match_the_formulas(name):
    """d2y/dx2 by double backprop: sigmoid'' = s(1-s)(1-2s), tanh'' = -2t(1-t^2), softplus'' = s(1-s)."""
    x_values = np.linspace(-5.0, 5.0, 11)
    s, t = _np_sigmoid(x_values), np.tanh(x_values)
    expected = {
        "sigmoid": s * (1 - s) * (1 - 2 * s),
        "tanh": -2 * t * (1 - t * t),
        "softplus": s * (1 - s),
        "log_sigmoid": -s * (1 - s),
    }[name]
    x = tensor(x_values, True)
    (g,) = minigan.grad(ACTIVATIONS[name][0](x).sum(), [x], create_graph=True)
    (g2,) = minigan.grad(g.sum(), [x])
    np.testing.assert_allclose(g2.numpy(), expected, rtol=1e-10, atol=1e-14)
