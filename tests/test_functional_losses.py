"""Losses on logits (BCE, log_softmax, cross entropy), mean squared error, and dropout.

Each loss is compared with its textbook formula on moderate values, with every
reduction; gradients are compared with their closed forms (sigmoid(z) - y for
BCE, softmax - one_hot for cross entropy) and checked by gradcheck.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigan
import minigan.nn.functional as F


def tensor(array, requires_grad=False):
    return minigan.tensor(np.asarray(array, dtype=np.float64), dtype="float64", requires_grad=requires_grad)


def _np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


REDUCTIONS = ["mean", "sum", "none"]
FEW = settings(max_examples=max(3, settings().max_examples // 3))


@st.composite
def logits_and_targets(draw, max_dims=3, max_side=4):
    """Moderate logits (|z| <= 10) and soft targets in [0, 1] of the same drawn shape."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=max_dims, max_side=max_side))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    z = rng.uniform(-10, 10, shape)
    y = rng.uniform(0, 1, shape) if draw(st.booleans()) else rng.integers(0, 2, shape).astype(float)
    return z, y


# ---------------------------------------------------------------- binary cross entropy with logits

@given(logits_and_targets(), st.sampled_from(REDUCTIONS))
def test_bce_with_logits_is_the_cross_entropy_of_the_sigmoid(data, reduction):
    z, y = data
    s = _np_sigmoid(z)
    expected = _reduce(-(y * np.log(s) + (1 - y) * np.log(1 - s)), reduction)
    loss = F.binary_cross_entropy_with_logits(tensor(z), tensor(y), reduction=reduction)
    assert loss.shape == np.shape(expected)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-9, atol=1e-12)


@given(logits_and_targets(), st.sampled_from(REDUCTIONS), st.booleans(), st.booleans(), st.data())
def test_bce_with_logits_weight_and_pos_weight_follow_pytorchs_formula(data, reduction, full_weight, with_pos_weight, draw):
    """l_n = -w_n [p y_n log sigmoid(z_n) + (1 - y_n) log(1 - sigmoid(z_n))], p broadcast over the last dim."""
    z, y = data
    classes = z.shape[-1]
    rng = np.random.default_rng(draw.draw(st.integers(0, 2**32 - 1)))
    weight = rng.uniform(0.1, 3.0, z.shape if full_weight else (classes,))
    pos_weight = rng.uniform(0.1, 5.0, (classes,)) if with_pos_weight else np.ones(classes)
    s = _np_sigmoid(z)
    expected = _reduce(-weight * (pos_weight * y * np.log(s) + (1 - y) * np.log(1 - s)), reduction)
    loss = F.binary_cross_entropy_with_logits(
        tensor(z), tensor(y), weight=tensor(weight), reduction=reduction,
        pos_weight=tensor(pos_weight) if with_pos_weight else None,
    )
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-9, atol=1e-12)


@given(logits_and_targets(), st.sampled_from(["mean", "sum"]))
def test_bce_with_logits_gradient_is_sigmoid_minus_target(data, reduction):
    z, y = data
    t = tensor(z, True)
    F.binary_cross_entropy_with_logits(t, tensor(y), reduction=reduction).backward()
    scale = z.size if reduction == "mean" else 1
    np.testing.assert_allclose(t.grad.numpy(), (_np_sigmoid(z) - y) / scale, rtol=1e-9, atol=1e-15)


def test_losses_take_targets_given_as_python_lists():
    z = tensor([0.0, 2.0])
    expected = F.binary_cross_entropy_with_logits(z, tensor([1.0, 0.0])).item()
    assert F.binary_cross_entropy_with_logits(z, [1.0, 0.0]).item() == pytest.approx(expected, rel=1e-7)
    assert F.mse_loss(z, [1.0, 0.0]).item() == pytest.approx(2.5, rel=1e-7)


def test_losses_take_targets_given_as_numpy_arrays_on_every_device():
    """A NumPy target must follow the input to its device (as a list does), not only work on the CPU."""
    z = tensor([0.0, 2.0])
    expected = F.binary_cross_entropy_with_logits(z, tensor([1.0, 0.0])).item()
    assert F.binary_cross_entropy_with_logits(z, np.array([1.0, 0.0])).item() == pytest.approx(expected, rel=1e-12)
    assert F.mse_loss(z, np.array([1.0, 0.0])).item() == pytest.approx(2.5, rel=1e-12)


def test_bce_with_logits_rejects_mismatched_targets_and_reductions():
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits.*\(3,\).*\(3, 1\)"):
        F.binary_cross_entropy_with_logits(tensor(np.zeros((3, 1))), tensor(np.zeros(3)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: reduction.*'average'"):
        F.binary_cross_entropy_with_logits(tensor(np.zeros(3)), tensor(np.zeros(3)), reduction="average")


@FEW
@given(logits_and_targets(max_dims=2, max_side=3), st.booleans())
def test_bce_with_logits_gradcheck_and_gradgradcheck(data, with_pos_weight):
    z, y = data
    target = tensor(y)
    pos_weight = tensor(np.full(z.shape[-1], 2.5)) if with_pos_weight else None

    def fn(z):
        return F.binary_cross_entropy_with_logits(z, target, pos_weight=pos_weight)

    assert minigan.gradcheck(fn, (tensor(z, True),))
    assert minigan.gradgradcheck(fn, (tensor(z, True),))


# ---------------------------------------------------------------- log_softmax, softmax, cross entropy

def _np_logsumexp(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=st.floats(-50, 50)), st.data())
def test_log_softmax_is_x_minus_logsumexp(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    out = F.log_softmax(tensor(x), dim).numpy()
    np.testing.assert_allclose(out, x - _np_logsumexp(x, dim), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.exp(out).sum(axis=dim), 1.0, rtol=1e-12)
    np.testing.assert_allclose(F.softmax(tensor(x), dim).numpy().sum(axis=dim), 1.0, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log_softmax_does_not_overflow(dtype):
    x = minigan.tensor([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4]], dtype=dtype, requires_grad=True)
    out = F.log_softmax(x, 1)
    out.sum().backward()
    np.testing.assert_allclose(out.numpy(), [[0.0, -1e4, -2e4], [-np.log(3)] * 3], rtol=1e-6)
    assert np.all(np.isfinite(x.grad.numpy()))


@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**32 - 1), st.sampled_from(REDUCTIONS))
def test_cross_entropy_is_minus_log_softmax_at_the_target(n, classes, seed, reduction):
    rng = np.random.default_rng(seed)
    logits, target = rng.uniform(-10, 10, (n, classes)), rng.integers(0, classes, n)
    log_p = logits - _np_logsumexp(logits, 1)
    expected = _reduce(-log_p[np.arange(n), target], reduction)
    np.testing.assert_allclose(F.cross_entropy(tensor(logits), target.tolist(), reduction=reduction).numpy(), expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(F.nll_loss(tensor(log_p), target.tolist(), reduction=reduction).numpy(), expected, rtol=1e-10, atol=1e-14)
    # the gradient of the mean: (softmax - one_hot) / N
    z = tensor(logits, True)
    F.cross_entropy(z, minigan.tensor(target)).backward()
    one_hot = np.eye(classes)[target]
    np.testing.assert_allclose(z.grad.numpy(), (np.exp(log_p) - one_hot) / n, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("target", [[0, 3, 1], [0, -1, 1], [4, 0, 1]], ids=["too big", "negative", "first too big"])
def test_cross_entropy_rejects_class_indices_outside_the_range(target):
    with pytest.raises(ValueError, match=r"\[0, 3\)") as error:
        F.cross_entropy(tensor(np.zeros((3, 3))), target)
    assert str(min(target)) in str(error.value) and str(max(target)) in str(error.value)


def test_cross_entropy_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"cross_entropy.*\(3,\)"):
        F.cross_entropy(tensor(np.zeros(3)), [0])
    with pytest.raises(ValueError, match=r"one-dimensional"):
        F.cross_entropy(tensor(np.zeros((2, 3))), [[0], [1]])
    with pytest.raises(ValueError, match=r"nll_loss: 3 targets for 2 rows"):
        F.cross_entropy(tensor(np.zeros((2, 3))), [0, 1, 2])


def test_cross_entropy_gradcheck_and_gradgradcheck():
    z = tensor(np.random.default_rng(5).standard_normal((4, 3)), True)
    for reduction in ("mean", "sum"):
        fn = lambda z: F.cross_entropy(z, [2, 0, 1, 2], reduction=reduction)  # noqa: E731
        assert minigan.gradcheck(fn, (z,)) and minigan.gradgradcheck(fn, (z,))
    fn = lambda z: F.log_softmax(z, 0)  # noqa: E731
    assert minigan.gradcheck(fn, (z,)) and minigan.gradgradcheck(fn, (z,))


# ---------------------------------------------------------------- mean squared error

@given(logits_and_targets(), st.sampled_from(REDUCTIONS))
def test_mse_loss_and_its_gradient(data, reduction):
    x, y = data
    loss = F.mse_loss(tensor(x), tensor(y), reduction=reduction)
    np.testing.assert_allclose(loss.numpy(), _reduce((x - y) ** 2, reduction), rtol=1e-12)
    t = tensor(x, True)
    F.mse_loss(t, tensor(y)).backward()
    np.testing.assert_allclose(t.grad.numpy(), 2 * (x - y) / x.size, rtol=1e-12)


def test_mse_loss_rejects_mismatched_shapes_and_reductions():
    with pytest.raises(ValueError, match=r"mse_loss.*\(2, 2\).*\(4,\)"):
        F.mse_loss(tensor(np.zeros(4)), tensor(np.zeros((2, 2))))
    with pytest.raises(ValueError, match=r"mse_loss: reduction"):
        F.mse_loss(tensor(np.zeros(4)), tensor(np.zeros(4)), reduction="max")


def test_mse_loss_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(6)
    inputs = (tensor(rng.standard_normal((2, 3)), True), tensor(rng.standard_normal((2, 3)), True))
    assert minigan.gradcheck(F.mse_loss, inputs) and minigan.gradgradcheck(F.mse_loss, inputs)


# ---------------------------------------------------------------- dropout

def _positive(shape, dtype="float32"):
    """Values in [1, 2): a dropped element (0) cannot be confused with a kept one."""
    return minigan.tensor(1.0 + np.random.default_rng(7).uniform(size=shape), dtype=dtype)


def test_dropout_in_eval_returns_the_input_unchanged():
    x = _positive((4, 5))
    x.requires_grad_()
    y = F.dropout(x, 0.5, training=False)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((4, 5)))


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_dropout_zeroes_about_p_and_scales_the_rest(p):
    x = _positive((400, 500))
    y = F.dropout(x, p, training=True).numpy()
    dropped = y == 0
    # 200,000 Bernoulli(p) draws: the fraction's standard deviation is below 0.0012
    assert abs(dropped.mean() - p) < 0.01, dropped.mean()
    np.testing.assert_allclose(y[~dropped], x.numpy()[~dropped] / (1 - p), rtol=1e-6)


def test_dropout_gradient_is_the_mask_over_one_minus_p():
    x = _positive((50, 40), dtype="float64")
    x.requires_grad_()
    y = F.dropout(x, 0.25, training=True)
    y.sum().backward()
    kept = y.numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.75, rtol=1e-12)


def test_dropout_is_reproducible_under_manual_seed():
    x = _positive((30, 30))
    minigan.manual_seed(123)
    first = F.dropout(x, 0.5).numpy()
    minigan.manual_seed(123)
    again = F.dropout(x, 0.5).numpy()
    minigan.manual_seed(124)
    other = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first == 0, other == 0)


def test_dropout_with_p_zero_or_one():
    x = _positive((3, 4))
    np.testing.assert_array_equal(F.dropout(x, 0.0).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), np.zeros((3, 4)))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_p_outside_zero_one(p):
    with pytest.raises(ValueError, match=rf"dropout.*{p}"):
        F.dropout(_positive((2, 2)), p)
