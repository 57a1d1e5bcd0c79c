"""batch_norm: batch statistics in training, running ones in eval, and right second derivatives.

Training normalizes with the biased batch variance and moves the running
statistics towards the batch mean and the *unbiased* variance (PyTorch's rule);
eval uses the running statistics. Inputs are (N, C), (N, C, L) or (N, C, H, W).
"""

import importlib
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigan
import minigan.nn.functional as F
import reference

batchnorm_module = importlib.import_module("minigan.nn.functional.batchnorm")


def tensor(array, requires_grad=False):
    return minigan.tensor(np.asarray(array, dtype=np.float64), dtype="float64", requires_grad=requires_grad)


@st.composite
def batches(draw, max_batch=4, max_channels=3, max_side=3):
    """(x, running_mean, running_var, weight, bias) as NumPy float64, x with at least 2 values per channel.

    Each channel gets its own scale and offset, so a normalization over the wrong axes shows.
    """
    ndim = draw(st.sampled_from([2, 3, 4]))
    n, c = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels))
    spatial = tuple(draw(st.integers(1, max_side)) for _ in range(ndim - 2))
    assume(n * math.prod(spatial) >= 2)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    stat_shape = (1, c) + (1,) * len(spatial)
    scale, offset = rng.uniform(0.1, 10.0, stat_shape), rng.uniform(-5.0, 5.0, stat_shape)
    x = rng.standard_normal((n, c) + spatial) * scale + offset
    running_mean, running_var = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    weight, bias = rng.uniform(0.5, 2.0, c), rng.standard_normal(c)
    return x, running_mean, running_var, weight, bias


def _per_channel(x):
    """x with the channel axis first and everything else flattened: (C, N*H*W)."""
    return np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)


# ---------------------------------------------------------------- forward

@given(batches())
def test_training_normalizes_with_the_biased_batch_variance(batch):
    x, running_mean, running_var, _, _ = batch
    y = F.batch_norm(tensor(x), tensor(running_mean), tensor(running_var), training=True).numpy()
    values = _per_channel(y)
    biased = _per_channel(x).var(axis=1)  # ddof=0
    np.testing.assert_allclose(values.mean(axis=1), 0.0, atol=1e-10)
    # var(y) = var_b / (var_b + eps): exactly 1 up to eps; dividing by the unbiased std would give (m-1)/m
    np.testing.assert_allclose(values.var(axis=1), biased / (biased + 1e-5), rtol=1e-9)


@given(batches())
def test_training_matches_the_reference_with_weight_and_bias(batch):
    x, running_mean, running_var, weight, bias = batch
    y = F.batch_norm(tensor(x), tensor(running_mean), tensor(running_var), tensor(weight), tensor(bias), training=True)
    expected, _, _ = reference.batch_norm_train(x, running_mean, running_var, weight, bias)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)


@given(batches(), st.sampled_from([None, 0.0, 0.3, 1.0]))
def test_running_statistics_move_by_momentum_towards_mean_and_unbiased_variance(batch, momentum):
    x, running_mean, running_var, weight, bias = batch
    rm, rv = tensor(running_mean), tensor(running_var)
    options = {} if momentum is None else {"momentum": momentum}
    F.batch_norm(tensor(x), rm, rv, tensor(weight), tensor(bias), training=True, **options)
    m = 0.1 if momentum is None else momentum  # PyTorch's default
    values = _per_channel(x)
    np.testing.assert_allclose(rm.numpy(), (1 - m) * running_mean + m * values.mean(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rv.numpy(), (1 - m) * running_var + m * values.var(axis=1, ddof=1), rtol=1e-12, atol=1e-12)
    _, ref_mean, ref_var = reference.batch_norm_train(x, running_mean, running_var, weight, bias, momentum=m)
    np.testing.assert_allclose(rm.numpy(), ref_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rv.numpy(), ref_var, rtol=1e-12, atol=1e-12)


def test_running_statistics_keep_their_dtype_and_accumulate_over_steps():
    rng = np.random.default_rng(0)
    rm, rv = minigan.zeros(3, dtype="float32"), minigan.ones(3, dtype="float32")
    expected_mean, expected_var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.standard_normal((8, 3, 2, 2)) * 2 + 1
        F.batch_norm(minigan.tensor(x, dtype="float32"), rm, rv, training=True)
        expected_mean = 0.9 * expected_mean + 0.1 * _per_channel(x).mean(axis=1)
        expected_var = 0.9 * expected_var + 0.1 * _per_channel(x).var(axis=1, ddof=1)
    assert rm.dtype == rv.dtype == "float32"
    np.testing.assert_allclose(rm.numpy(), expected_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv.numpy(), expected_var, rtol=1e-5, atol=1e-6)


@given(batches())
def test_eval_uses_the_running_statistics_and_leaves_them_alone(batch):
    x, running_mean, running_var, weight, bias = batch
    rm, rv = tensor(running_mean), tensor(running_var)
    y = F.batch_norm(tensor(x), rm, rv, tensor(weight), tensor(bias), training=False)
    np.testing.assert_allclose(y.numpy(), reference.batch_norm_eval(x, running_mean, running_var, weight, bias), rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(rm.numpy(), running_mean)
    np.testing.assert_array_equal(rv.numpy(), running_var)


def test_eval_accepts_a_batch_of_one():
    x = np.array([[1.0, 2.0, 3.0]])
    y = F.batch_norm(tensor(x), tensor([1.0, 0.0, 1.0]), tensor([4.0, 1.0, 0.25]), training=False, eps=0.0)
    np.testing.assert_allclose(y.numpy(), [[0.0, 2.0, 4.0]])


def test_training_without_running_statistics_uses_the_batch():
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    y = F.batch_norm(tensor(x), None, None, training=True, eps=0.0)
    np.testing.assert_allclose(y.numpy(), [[-1.0, -1.0], [1.0, 1.0]])


# ---------------------------------------------------------------- bad arguments

@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1), (1, 3, 1, 1)])
@pytest.mark.parametrize("with_running_stats", [True, False])
def test_training_on_one_value_per_channel_raises(shape, with_running_stats):
    stats = (tensor(np.zeros(3)), tensor(np.ones(3))) if with_running_stats else (None, None)
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel") as error:
        F.batch_norm(tensor(np.ones(shape)), *stats, training=True)
    assert str(shape) in str(error.value)


@pytest.mark.parametrize("name", ["running_mean", "running_var", "weight", "bias"])
@pytest.mark.parametrize("training", [True, False])
def test_wrongly_shaped_statistics_or_affine_parameters_raise(name, training):
    arguments = dict(running_mean=tensor(np.zeros(3)), running_var=tensor(np.ones(3)), weight=tensor(np.ones(3)), bias=tensor(np.zeros(3)))
    arguments[name] = tensor(np.ones(4))
    with pytest.raises(ValueError) as error:
        F.batch_norm(tensor(np.ones((5, 3, 2, 2))), training=training, **arguments)
    message = str(error.value)
    assert all(fragment in message for fragment in ("batch_norm", name, "(3,)", "(4,)", "(5, 3, 2, 2)")), message


@pytest.mark.parametrize("shape", [(5,), (2, 3, 2, 2, 2)])
def test_inputs_of_the_wrong_rank_raise(shape):
    with pytest.raises(ValueError, match=r"batch_norm") as error:
        F.batch_norm(tensor(np.ones(shape)), None, None, training=True)
    assert str(shape) in str(error.value)


# ---------------------------------------------------------------- gradients

GRAD_SHAPES = [(5, 3), (4, 2, 3), (3, 2, 2, 2), (1, 2, 2, 3)]


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", GRAD_SHAPES, ids=str)
def test_gradcheck_and_gradgradcheck(shape, training):
    rng = np.random.default_rng(3)
    c = shape[1]
    running_mean, running_var = tensor(rng.standard_normal(c)), tensor(rng.uniform(0.5, 2.0, c))
    x = tensor(rng.standard_normal(shape) * 2 + 1, True)
    weight, bias = tensor(rng.uniform(0.5, 2.0, c), True), tensor(rng.standard_normal(c), True)

    def fn(x, weight, bias):
        # momentum 0: the running statistics stay fixed across the check's many evaluations
        return F.batch_norm(x, running_mean, running_var, weight, bias, training=training, momentum=0.0)

    assert minigan.gradcheck(fn, (x, weight, bias))
    assert minigan.gradgradcheck(fn, (x, weight, bias))


def _hessian_vector_error(shape, seed=4, h=1e-5, affine=True):
    """|H v - (g(x + h v) - g(x - h v)) / 2h| for L(x) = sum(r * batch_norm(x)) in training.

    g = dL/dx by autograd; H v by differentiating <g, v> again (create_graph=True).
    Returns (max error, max |H v|).
    """
    rng = np.random.default_rng(seed)
    x0, r, v = rng.standard_normal(shape) * 1.5 + 0.5, rng.standard_normal(shape), rng.standard_normal(shape)
    c = shape[1]
    weight, bias = tensor(rng.uniform(0.5, 2.0, c)), tensor(rng.standard_normal(c))
    if not affine:  # BatchNormalize alone (the reference op), not the fused BatchNormAffine
        weight = bias = None

    def gradient(x_values, create_graph=False):
        x = tensor(x_values, True)
        loss = (F.batch_norm(x, None, None, weight, bias, training=True) * tensor(r)).sum()
        (g,) = minigan.grad(loss, [x], create_graph=create_graph)
        return x, g

    x, g = gradient(x0, create_graph=True)
    (hv,) = minigan.grad((g * tensor(v)).sum(), [x])
    numeric = (gradient(x0 + h * v)[1].numpy() - gradient(x0 - h * v)[1].numpy()) / (2 * h)
    return float(np.abs(hv.numpy() - numeric).max()), float(np.abs(numeric).max())


@pytest.mark.parametrize("affine", [True, False], ids=["fused", "reference"])
@pytest.mark.parametrize("shape", [(6, 2), (3, 2, 2, 2)], ids=str)
def test_hessian_vector_product_matches_differences_of_the_gradient(shape, affine):
    error, size = _hessian_vector_error(shape, affine=affine)
    assert size > 1e-2  # the Hessian is far from zero, so agreement means something
    assert error < 1e-6 * max(1.0, size), (error, size)


def test_the_hessian_check_catches_a_constant_inverse_std(monkeypatch):
    """Treating 1/sqrt(var + eps) as a constant in backward (DeZero's shortcut) is caught."""
    monkeypatch.setattr(batchnorm_module, "is_grad_enabled", lambda: False)
    error, size = _hessian_vector_error((6, 2), affine=False)
    assert error > 1e-3 * size
    # the fused op with constants in its backward: its gradient would not depend on x at all
    with pytest.raises(RuntimeError, match="does not require grad"):
        _hessian_vector_error((6, 2), affine=True)


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3), (3, 2, 2, 2)], ids=str)
@pytest.mark.parametrize("frozen", [None, "x", "weight", "x and weight"])
def test_the_fused_op_matches_normalize_then_affine(shape, frozen):
    """BatchNormAffine (the fast path) against BatchNormalize, a multiply and an add (the reference)."""
    rng = np.random.default_rng(7)
    c = shape[1]
    values = (rng.standard_normal(shape) * 3 + 1, rng.uniform(0.5, 2.0, c), rng.standard_normal(c))
    gy = tensor(rng.standard_normal(shape))
    results = []
    for fused in (True, False):
        x, weight, bias = (tensor(v, requires_grad=not (frozen and name in frozen))
                           for v, name in zip(values, ("x", "weight", "bias")))
        axes = (0,) + tuple(range(2, len(shape)))
        stat = (1, c) + (1,) * (len(shape) - 2)
        if fused:
            y = batchnorm_module.BatchNormAffine(axes, 1e-5)(x, weight, bias)
        else:
            y = batchnorm_module.BatchNormalize(axes, 1e-5)(x) * weight.reshape(stat) + bias.reshape(stat)
        y.backward(gy)
        results.append([y.numpy()] + [t.grad.numpy() if t.grad is not None else None for t in (x, weight, bias)])
    for a, b in zip(*results):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def channels_last(a):
    """The same values, laid out channels-last in memory (what minigan's convolutions return)."""
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 2, 2, 2), (2, 5, 3, 4)], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels-last"])
def test_channel_sums_is_the_sum_over_every_axis_but_the_channels(shape, layout):
    a = np.random.default_rng(3).standard_normal(shape)
    a = channels_last(a) if layout == "channels-last" else a
    got = batchnorm_module.channel_sums(tensor(a).data)
    np.testing.assert_allclose(minigan.backend.to_numpy(got), a.sum(axis=(0,) + tuple(range(2, a.ndim))), rtol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 2, 2)], ids=str)
@pytest.mark.parametrize("frozen", [None, "x", "weight"])
@pytest.mark.parametrize("layout", ["contiguous", "channels-last"])
def test_the_fused_ops_first_order_arrays_match_its_double_backprop_branch(shape, frozen, layout):
    """BatchNormAffine.backward on raw arrays (no graph recorded) against its Tensor-op branch (create_graph)."""
    rng = np.random.default_rng(8)
    c = shape[1]
    x = rng.standard_normal(shape) * 2 - 1
    values = (channels_last(x) if layout == "channels-last" else x, rng.uniform(0.5, 2.0, c), rng.standard_normal(c))
    gy = tensor(rng.standard_normal(shape))
    grads = []
    for create_graph in (False, True):
        leaves = [tensor(v, requires_grad=not (frozen and name == frozen))
                  for v, name in zip(values, ("x", "weight", "bias"))]
        y = batchnorm_module.BatchNormAffine((0,) + tuple(range(2, len(shape))), 1e-5)(*leaves)
        wanted = [t for t in leaves if t.requires_grad]
        grads.append([g.numpy() for g in minigan.grad((y * gy).sum(), wanted, create_graph=create_graph)])
    for first_order, graph in zip(*grads):
        np.testing.assert_allclose(first_order, graph, rtol=1e-10, atol=1e-12)
