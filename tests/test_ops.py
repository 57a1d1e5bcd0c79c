"""Every differentiable op: forward values against NumPy, gradcheck and gradgradcheck in float64.

Shapes, broadcasting, axes and values are drawn by hypothesis (see strategies.py);
tensors are made on the default device, so the same tests run on NumPy and on
array-api-strict.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import (
    arrays, broadcastable_shapes, dims, distinct_arrays, leaf, matmul_shapes, normalize, one_dim,
    positive_arrays, separated_pair, shapes,
)

import minigan

# Small tensors: a gradient check costs one backward pass per output element.
SMALL = 24


def check_op(fn, reference, *values, requires_grad=None):
    """fn's forward equals NumPy's ``reference``; its first and second derivatives pass the checks."""
    requires_grad = requires_grad or [True] * len(values)
    inputs = [leaf(v, requires_grad=r) for v, r in zip(values, requires_grad)]
    out = fn(*inputs)
    expected = np.asarray(reference(*[np.asarray(v, dtype=np.float64) for v in values]))
    assert out.shape == expected.shape
    assert out.dtype == "float64"
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert minigan.gradcheck(fn, inputs)
    assert minigan.gradgradcheck(fn, inputs)


# ---------------------------------------------------------------- binary arithmetic, broadcasting

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "truediv": (lambda a, b: a / b, np.divide),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_op_broadcasts_like_numpy(name, data):
    shape_a, shape_b = data.draw(broadcastable_shapes(max_numel=SMALL), label="shapes")
    a = data.draw(arrays(shape_a), label="a")
    b = data.draw(positive_arrays(shape_b) if name == "truediv" else arrays(shape_b), label="b")
    fn, reference = BINARY[name]
    check_op(fn, reference, a, b)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_op_gradients_have_each_inputs_shape(name, data):
    shape_a, shape_b = data.draw(broadcastable_shapes(max_numel=SMALL), label="shapes")
    a, b = leaf(data.draw(arrays(shape_a))), leaf(data.draw(positive_arrays(shape_b)))
    fn, _ = BINARY[name]
    fn(a, b).sum().backward()
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    if name == "add":  # d(sum(a + b))/da counts how many output elements each a element reached
        out_shape = np.broadcast_shapes(shape_a, shape_b)
        repeats = math.prod(out_shape) // max(math.prod(shape_a), 1)
        np.testing.assert_allclose(a.grad.numpy(), np.full(shape_a, float(repeats)))


def test_broadcast_gradient_sums_over_repeated_axes():
    a = leaf([[1.0], [2.0], [3.0]])  # (3, 1)
    b = leaf([10.0, 20.0, 30.0, 40.0])  # (4,)
    (a * b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), 100.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, 6.0))


SCALAR_OPS = {
    "x + s": (lambda x, s: x + s, lambda x, s: x + s),
    "s + x": (lambda x, s: s + x, lambda x, s: s + x),
    "x - s": (lambda x, s: x - s, lambda x, s: x - s),
    "s - x": (lambda x, s: s - x, lambda x, s: s - x),
    "x * s": (lambda x, s: x * s, lambda x, s: x * s),
    "s * x": (lambda x, s: s * x, lambda x, s: s * x),
    "x / s": (lambda x, s: x / s, lambda x, s: x / s),
    "s / x": (lambda x, s: s / x, lambda x, s: s / x),
}


@pytest.mark.parametrize("scalar", [2.5, 3, np.float64(-1.5)], ids=["float", "int", "numpy-float"])
@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
def test_python_scalars_on_either_side(name, scalar):
    fn, reference = SCALAR_OPS[name]
    values = np.array([[0.5, 1.5, 2.0], [1.0, 2.5, 0.75]])
    x = leaf(values)
    out = fn(x, scalar)
    assert isinstance(out, minigan.Tensor)
    assert out.dtype == "float64"
    np.testing.assert_allclose(out.numpy(), reference(values, scalar), rtol=1e-12)
    assert minigan.gradcheck(lambda t: fn(t, scalar), (x,))
    assert minigan.gradgradcheck(lambda t: fn(t, scalar), (x,))


@pytest.mark.parametrize("name", ["x + s", "s - x", "x * s", "s / x"])
def test_python_float_keeps_float32(name):
    fn, _ = SCALAR_OPS[name]
    assert fn(minigan.tensor([1.0, 2.0]), 0.5).dtype == "float32"


def test_int_tensor_times_python_float_is_float32_like_pytorch():
    # torch.tensor([1, 2, 3]) * 1.5 is a float32 tensor (the default float dtype) on every device.
    out = minigan.tensor([1, 2, 3]) * 1.5
    assert out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), [1.5, 3.0, 4.5])


def test_positive_base_to_tensor_power():
    x = leaf([0.5, -1.0, 2.0])
    np.testing.assert_allclose((2.0 ** x).numpy(), 2.0 ** np.array([0.5, -1.0, 2.0]), rtol=1e-12)
    assert minigan.gradcheck(lambda t: 2.0 ** t, (x,))
    assert minigan.gradgradcheck(lambda t: 2.0 ** t, (x,))


# ---------------------------------------------------------------- unary elementwise

@given(data=st.data())
def test_neg(data):
    check_op(lambda a: -a, np.negative, data.draw(arrays(data.draw(shapes(max_numel=SMALL)))))


@given(data=st.data())
def test_exp(data):
    check_op(minigan.exp, np.exp, data.draw(arrays(data.draw(shapes(max_numel=SMALL)))))


@given(data=st.data())
def test_log(data):
    check_op(minigan.log, np.log, data.draw(positive_arrays(data.draw(shapes(max_numel=SMALL)))))


@given(data=st.data())
def test_sqrt(data):
    check_op(minigan.sqrt, np.sqrt, data.draw(positive_arrays(data.draw(shapes(max_numel=SMALL)))))


@given(data=st.data())
def test_abs_away_from_zero(data):
    check_op(minigan.abs, np.abs, data.draw(arrays(data.draw(shapes(max_numel=SMALL)), away_from=(0.0,))))


def test_abs_gradient_at_zero_is_zero():
    x = leaf([-2.0, 0.0, 3.0])
    minigan.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("exponent", [0, 1, 2, 3, -1, -2])
@given(data=st.data())
def test_pow_integer_exponent(exponent, data):
    shape = data.draw(shapes(max_numel=SMALL))
    # Negative powers blow up at 0; keep the base away from it.
    values = data.draw(arrays(shape, away_from=(0.0,), margin=0.3) if exponent < 0 else arrays(shape))
    check_op(lambda a: a ** exponent, lambda a: a ** exponent, values)


@pytest.mark.parametrize("exponent", [0.5, -0.5, 1.5, -1.5, 2.5, 1 / 3])
@given(data=st.data())
def test_pow_fractional_exponent_positive_base(exponent, data):
    values = data.draw(positive_arrays(data.draw(shapes(max_numel=SMALL))))
    check_op(lambda a: a ** exponent, lambda a: a ** exponent, values)


def test_pow_rejects_a_tensor_exponent():
    with pytest.raises(TypeError, match="exponent"):
        leaf([1.0]) ** leaf([2.0])


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@given(data=st.data())
def test_maximum_minimum_broadcast(name, data):
    shape_a, shape_b = data.draw(broadcastable_shapes(max_numel=SMALL), label="shapes")
    a, b = data.draw(separated_pair(shape_a, shape_b))
    check_op(getattr(minigan, name), getattr(np, name), a, b)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_split_the_gradient_at_ties(name):
    a, b = leaf([1.0, 2.0, 3.0]), leaf([1.0, 5.0, 0.0])
    getattr(minigan, name)(a, b).sum().backward()
    wins = [0.5, 0.0, 1.0] if name == "maximum" else [0.5, 1.0, 0.0]
    np.testing.assert_array_equal(a.grad.numpy(), wins)
    np.testing.assert_array_equal(b.grad.numpy(), 1.0 - np.array(wins))


@pytest.mark.parametrize("bounds", ["min", "max", "both"])
@given(data=st.data())
def test_clamp(bounds, data):
    low = data.draw(st.floats(-1.0, 0.0), label="low") if bounds in ("min", "both") else None
    high = data.draw(st.floats(0.2, 1.0), label="high") if bounds in ("max", "both") else None
    points = tuple(p for p in (low, high) if p is not None)
    values = data.draw(arrays(data.draw(shapes(max_numel=SMALL)), away_from=points))
    check_op(lambda a: minigan.clamp(a, low, high), lambda a: np.clip(a, low, high), values)
    # The method and its alias say the same.
    x = leaf(values)
    np.testing.assert_array_equal(x.clamp(min=low, max=high).numpy(), x.clip(low, high).numpy())


def test_clamp_gradient_passes_at_the_bounds_like_pytorch():
    x = leaf([-1.0, 0.0, 0.5, 1.0, 2.0])
    minigan.clamp(x, 0.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0, 1.0, 0.0])


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="min and max"):
        minigan.clamp(leaf([1.0]))


# ---------------------------------------------------------------- matmul

@given(data=st.data())
def test_matmul(data):
    shape_a, shape_b = data.draw(matmul_shapes(), label="shapes")
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    check_op(minigan.matmul, np.matmul, a, b)
    np.testing.assert_allclose((leaf(a) @ leaf(b)).numpy(), a @ b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape_a, shape_b", [((64, 1), (1, 6272)), ((2, 1, 5, 1), (3, 1, 4)), ((1, 1), (1, 3))])
def test_matmul_over_one_inner_index_is_the_outer_product_matmul_makes(shape_a, shape_b):
    # matmul_arrays multiplies (k = 1: no sums) where NumPy's matmul is slow; the same numbers,
    # shape (broadcast batch dimensions) and dtype, forward and backward
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape_a).astype(np.float32), rng.standard_normal(shape_b).astype(np.float32)
    out = minigan.ops.linalg.matmul_arrays(a, b)
    assert out.shape == np.matmul(a, b).shape and out.dtype == np.float32
    np.testing.assert_array_equal(out, np.matmul(a, b))
    if a.size * b.size < 100:  # gradients checked on the small shapes
        check_op(minigan.matmul, np.matmul, a.astype(np.float64), b.astype(np.float64))


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 2)), ((3,), (2,)), ((2, 2, 3), (3, 3, 2))])
def test_matmul_shape_mismatch_names_both_shapes(shape_a, shape_b):
    with pytest.raises(ValueError) as err:
        minigan.matmul(leaf(np.ones(shape_a)), leaf(np.ones(shape_b)))
    # The shapes the user passed, not internal reshapes of them (a vector is not a (1, k) matrix).
    assert "matmul" in str(err.value)
    assert str(shape_a) in str(err.value) and str(shape_b) in str(err.value)


# ---------------------------------------------------------------- reductions

@pytest.mark.parametrize("name", ["sum", "mean"])
@given(data=st.data())
def test_sum_mean_over_dims(name, data):
    shape = data.draw(shapes(max_numel=SMALL), label="shape")
    dim = data.draw(dims(len(shape)), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    values = data.draw(arrays(shape))
    axes = normalize(dim, len(shape))
    reference = lambda a: getattr(np, name)(a, axis=axes, keepdims=keepdim)  # noqa: E731
    check_op(lambda a: getattr(minigan, name)(a, dim, keepdim=keepdim), reference, values)
    # The method form agrees with the function form.
    x = leaf(values)
    np.testing.assert_allclose(getattr(x, name)(dim, keepdim).numpy(), reference(values), rtol=1e-12)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "amax", "amin"])
@given(data=st.data())
def test_numpy_aliases_axis_keepdims(name, data):
    # Sides of 2 or more, so var and std reduce over n - 1 > 0 elements.
    shape = data.draw(shapes(min_dims=1, min_side=2, max_numel=SMALL), label="shape")
    dim = data.draw(dims(len(shape), allow_none=False), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    x = leaf(data.draw(distinct_arrays(shape)))
    by_torch_names = getattr(minigan, name)(x, dim, keepdim=keepdim)
    by_numpy_names = getattr(minigan, name)(x, axis=dim, keepdims=keepdim)
    by_method = getattr(x, name)(axis=dim, keepdims=keepdim)
    assert by_numpy_names.shape == by_torch_names.shape == by_method.shape
    np.testing.assert_array_equal(by_numpy_names.numpy(), by_torch_names.numpy())
    np.testing.assert_array_equal(by_method.numpy(), by_torch_names.numpy())


@st.composite
def var_case(draw):
    """A shape and dims reducing over at least two elements (n - 1 > 0 for the unbiased estimate)."""
    shape = draw(shapes(min_dims=1, max_numel=SMALL).filter(lambda s: math.prod(s) >= 2))
    dim = draw(dims(len(shape)).filter(lambda d: math.prod(shape[i] for i in normalize(d, len(shape))) >= 2))
    return shape, dim


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("correction", [1, 0])
@given(data=st.data())
def test_var_std_over_dims(name, correction, data):
    shape, dim = data.draw(var_case(), label="shape, dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    # Distinct values keep std away from 0, where its derivative blows up.
    values = data.draw(distinct_arrays(shape))
    axes = normalize(dim, len(shape))
    reference = lambda a: getattr(np, name)(a, axis=axes, keepdims=keepdim, ddof=correction)  # noqa: E731
    check_op(lambda a: getattr(minigan, name)(a, dim, keepdim=keepdim, correction=correction), reference, values)
    # unbiased=True/False is the older spelling of correction=1/0.
    x = leaf(values)
    np.testing.assert_allclose(
        getattr(x, name)(dim, keepdim, unbiased=bool(correction)).numpy(), reference(values), rtol=1e-12)


def test_var_is_unbiased_by_default_like_pytorch():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    assert x.var().item() == pytest.approx(np.var([1, 2, 3, 4], ddof=1))
    assert x.std().item() == pytest.approx(np.std([1, 2, 3, 4], ddof=1))


@pytest.mark.parametrize("name", ["amax", "amin"])
@given(data=st.data())
def test_amax_amin_over_dims(name, data):
    shape = data.draw(shapes(max_numel=SMALL), label="shape")
    dim = data.draw(dims(len(shape)), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    axes = normalize(dim, len(shape))
    reference = lambda a: getattr(np, name)(a, axis=axes, keepdims=keepdim)  # noqa: E731
    check_op(lambda a: getattr(minigan, name)(a, dim, keepdim=keepdim), reference, data.draw(distinct_arrays(shape)))


def test_amax_shares_the_gradient_between_ties():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    minigan.amax(x, 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize("name", ["max", "min"])
@given(data=st.data())
def test_max_min_along_dim_values_and_indices(name, data):
    shape = data.draw(shapes(min_dims=1, max_numel=SMALL), label="shape")
    dim = data.draw(one_dim(len(shape)), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    values = data.draw(distinct_arrays(shape))
    result = getattr(minigan, name)(leaf(values), dim, keepdim=keepdim)
    values_out, indices = result  # a (values, indices) pair, as torch.max returns
    assert result.values is values_out and result.indices is indices
    arg = np.argmax if name == "max" else np.argmin
    np.testing.assert_array_equal(indices.numpy(), arg(values, axis=dim, keepdims=keepdim))
    assert indices.dtype == "int64"
    reference = lambda a: getattr(np, name)(a, axis=dim, keepdims=keepdim)  # noqa: E731
    check_op(lambda a: getattr(minigan, name)(a, dim, keepdim=keepdim).values, reference, values)


@pytest.mark.parametrize("name", ["max", "min"])
@given(data=st.data())
def test_max_min_without_dim_reduce_everything(name, data):
    values = data.draw(distinct_arrays(data.draw(shapes(max_numel=SMALL))))
    check_op(lambda a: getattr(minigan, name)(a), getattr(np, name), values)


def test_max_along_dim_of_a_0d_tensor_like_pytorch():
    # torch.max(torch.tensor(3.), 0) is (tensor(3.), tensor(0)).
    values, indices = minigan.max(leaf(3.0), 0)
    assert values.shape == () and values.item() == 3.0
    assert indices.shape == () and indices.item() == 0


def test_reductions_of_an_empty_tensor_explain():
    with pytest.raises(ValueError, match="empty"):
        minigan.amax(leaf(np.zeros((0, 3))))


def test_reduction_dim_out_of_range_names_it():
    with pytest.raises(IndexError, match="dimension 2"):
        minigan.sum(leaf(np.ones((2, 3))), 2)


# ---------------------------------------------------------------- shape ops

@st.composite
def reshape_case(draw):
    """A shape and a new shape with the same elements, one side possibly given as -1."""
    shape = draw(shapes(max_numel=SMALL))
    sides = list(draw(st.permutations(list(shape)))) + [1] * draw(st.integers(0, 2))
    sides = list(draw(st.permutations(sides)))
    if sides and draw(st.booleans()):
        sides[draw(st.integers(0, len(sides) - 1))] = -1
    return shape, tuple(sides)


@given(data=st.data())
def test_reshape(data):
    shape, new_shape = data.draw(reshape_case(), label="shapes")
    values = data.draw(arrays(shape))
    check_op(lambda a: minigan.reshape(a, new_shape), lambda a: np.reshape(a, new_shape), values)
    check_op(lambda a: a.reshape(*new_shape), lambda a: np.reshape(a, new_shape), values)


def test_reshape_explains_a_bad_size():
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        leaf(np.ones((2, 3))).reshape(4, -1)


@given(data=st.data())
def test_permute(data):
    shape = data.draw(shapes(max_numel=SMALL), label="shape")
    order = data.draw(st.permutations(range(len(shape))), label="order")
    order = tuple(d - len(shape) if data.draw(st.booleans()) else d for d in order)
    check_op(lambda a: minigan.permute(a, order), lambda a: np.transpose(a, order), data.draw(arrays(shape)))


@given(data=st.data())
def test_transpose(data):
    shape = data.draw(shapes(min_dims=1, max_numel=SMALL), label="shape")
    d0, d1 = data.draw(one_dim(len(shape)), label="dim0"), data.draw(one_dim(len(shape)), label="dim1")
    check_op(lambda a: a.transpose(d0, d1), lambda a: np.swapaxes(a, d0, d1), data.draw(arrays(shape)))


def test_T_and_mT():
    values = np.arange(24.0).reshape(2, 3, 4)
    x = leaf(values)
    np.testing.assert_array_equal(x.T.numpy(), values.T)
    np.testing.assert_array_equal(x.mT.numpy(), np.swapaxes(values, -1, -2))


@st.composite
def broadcast_case(draw):
    """A shape and a shape it broadcasts to: size-1 sides grown, new leading sides added."""
    shape = draw(shapes(max_dims=3, max_numel=12))
    grown = tuple(draw(st.integers(1, 3)) if side == 1 else side for side in shape)
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    return shape, lead + grown


@given(data=st.data())
def test_broadcast_to(data):
    shape, target = data.draw(broadcast_case(), label="shapes")
    check_op(lambda a: minigan.broadcast_to(a, target), lambda a: np.broadcast_to(a, target), data.draw(arrays(shape)))


@given(data=st.data())
def test_expand_with_minus_one(data):
    shape, target = data.draw(broadcast_case(), label="shapes")
    lead = len(target) - len(shape)
    # -1 keeps a dimension as it is, as in torch.Tensor.expand.
    spelled = tuple(-1 if i >= lead and side == shape[i - lead] and data.draw(st.booleans()) else side
                    for i, side in enumerate(target))
    check_op(lambda a: a.expand(*spelled), lambda a: np.broadcast_to(a, target), data.draw(arrays(shape)))


def test_broadcast_to_explains_an_impossible_shape():
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        minigan.broadcast_to(leaf(np.ones((2, 3))), (4, 3))


@given(data=st.data())
def test_flatten(data):
    shape = data.draw(shapes(min_dims=1, max_numel=SMALL), label="shape")
    start = data.draw(st.integers(0, len(shape) - 1), label="start")
    end = data.draw(st.integers(start, len(shape) - 1), label="end")
    start_arg = start - len(shape) if data.draw(st.booleans()) else start
    end_arg = end - len(shape) if data.draw(st.booleans()) else end
    new_shape = shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]
    check_op(lambda a: a.flatten(start_arg, end_arg), lambda a: a.reshape(new_shape), data.draw(arrays(shape)))


def test_flatten_of_a_0d_tensor_is_1d():
    assert minigan.flatten(leaf(2.0)).shape == (1,)


@given(data=st.data())
def test_unsqueeze(data):
    shape = data.draw(shapes(max_numel=SMALL), label="shape")
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="dim")
    check_op(lambda a: minigan.unsqueeze(a, dim), lambda a: np.expand_dims(a, dim), data.draw(arrays(shape)))


@given(data=st.data())
def test_squeeze(data):
    shape = data.draw(shapes(max_side=2, max_numel=SMALL), label="shape")
    dim = data.draw(st.one_of(st.none(), one_dim(len(shape))) if shape else st.none(), label="dim")

    def reference(a):
        if dim is None:
            return np.squeeze(a)
        return np.squeeze(a, dim) if shape[dim] == 1 else a  # squeezing a side > 1 is a no-op, as in torch

    check_op(lambda a: minigan.squeeze(a, dim), reference, data.draw(arrays(shape)))


@given(data=st.data())
def test_getitem_basic_indices(data):
    shape = data.draw(shapes(min_dims=1, max_numel=SMALL), label="shape")
    # Integers (negative too), slices with steps (negative too), None and Ellipsis.
    key = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True), label="key")
    check_op(lambda a: a[key], lambda a: a[key], data.draw(arrays(shape)))


@pytest.mark.parametrize("key", [
    (1, slice(None, None, 2)),
    (slice(None, None, -1), -1),
    (Ellipsis, None, 0),
    (None, -2, Ellipsis, slice(1, None)),
    (slice(-3, None, 2), None, Ellipsis),
], ids=str)
def test_getitem_explicit_keys(key):
    values = np.arange(24.0).reshape(4, 3, 2) / 7.0
    check_op(lambda a: a[key], lambda a: a[key], values)


@given(data=st.data())
def test_getitem_integer_array_with_repeats(data):
    shape = data.draw(shapes(min_dims=1, max_numel=SMALL), label="shape")
    axis = data.draw(st.integers(0, min(1, len(shape) - 1)), label="axis")
    index = data.draw(st.lists(st.integers(0, shape[axis] - 1), min_size=1, max_size=5), label="index")
    key = (index,) if axis == 0 else (slice(None), index)
    reference = lambda a: np.take(a, index, axis=axis)  # noqa: E731
    values = data.draw(arrays(shape))
    check_op(lambda a: a[key], reference, values)
    # An integer Tensor index does the same as a list.
    check_op(lambda a: a[key[:-1] + (minigan.tensor(index),)], reference, values)


def test_getitem_integer_array_repeats_add_up_in_the_gradient():
    x = leaf([1.0, 2.0, 3.0])
    x[[2, 0, 2, 2]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 3.0])


def test_getitem_negative_integer_array():
    values = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    check_op(lambda a: a[[-1, 0, -1]], lambda a: a[[-1, 0, -1]], values)
    x = leaf(values)
    x[[-1, 0, -1]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]])


def test_getitem_refuses_boolean_masks_with_a_hint():
    x = leaf([1.0, 2.0])
    with pytest.raises(IndexError, match="where"):
        x[minigan.tensor([True, False])]


@given(data=st.data())
def test_index_select(data):
    shape = data.draw(shapes(min_dims=1, max_numel=SMALL), label="shape")
    dim = data.draw(one_dim(len(shape)), label="dim")
    index = data.draw(st.lists(st.integers(0, shape[dim] - 1), min_size=1, max_size=5), label="index")
    reference = lambda a: np.take(a, index, axis=dim)  # noqa: E731
    values = data.draw(arrays(shape))
    check_op(lambda a: minigan.index_select(a, dim, index), reference, values)
    check_op(lambda a: a.index_select(dim, minigan.tensor(index)), reference, values)


@st.composite
def join_case(draw, same_shape):
    """2-3 shapes that join along ``dim`` (equal elsewhere, or equal everywhere for stack)."""
    base = draw(shapes(min_dims=0 if same_shape else 1, max_dims=3, max_numel=12))
    count = draw(st.integers(2, 3))
    ndim = len(base) + (1 if same_shape else 0)
    dim = draw(st.integers(-ndim, ndim - 1))
    if same_shape:
        return [base] * count, dim
    axis = dim % ndim
    return [base[:axis] + (draw(st.integers(1, 3)),) + base[axis + 1:] for _ in range(count)], dim


@given(data=st.data())
def test_cat(data):
    shape_list, dim = data.draw(join_case(same_shape=False), label="shapes, dim")
    values = [data.draw(arrays(s)) for s in shape_list]
    check_op(lambda *xs: minigan.cat(xs, dim), lambda *xs: np.concatenate(xs, axis=dim), *values)


@given(data=st.data())
def test_stack(data):
    shape_list, dim = data.draw(join_case(same_shape=True), label="shapes, dim")
    values = [data.draw(arrays(s)) for s in shape_list]
    check_op(lambda *xs: minigan.stack(xs, dim), lambda *xs: np.stack(xs, axis=dim), *values)


def test_cat_explains_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        minigan.cat([leaf(np.ones((2, 3))), leaf(np.ones((2, 4)))], 0)


def test_cat_where_only_one_input_requires_grad():
    a, b = leaf([1.0, 2.0]), leaf([3.0], requires_grad=False)
    (minigan.cat([a, b]) * leaf([1.0, 2.0, 3.0], requires_grad=False)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 2.0])
    assert b.grad is None


@given(data=st.data())
def test_where(data):
    shape_a, shape_b = data.draw(broadcastable_shapes(max_dims=3, max_numel=12), label="shapes")
    out_shape = np.broadcast_shapes(shape_a, shape_b)
    condition_shape = data.draw(st.sampled_from([out_shape, out_shape[1:], ()]), label="condition shape")
    condition = data.draw(hnp.arrays(np.bool_, condition_shape), label="condition")
    mask = minigan.tensor(condition)
    check_op(lambda a, b: minigan.where(mask, a, b), lambda a, b: np.where(condition, a, b),
             data.draw(arrays(shape_a)), data.draw(arrays(shape_b)))


def test_where_with_a_python_scalar_branch():
    x = leaf([-1.0, 2.0, -3.0])
    out = minigan.where(x > 0, x, 0.0)
    np.testing.assert_array_equal(out.numpy(), [0.0, 2.0, 0.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0])


# ---------------------------------------------------------------- errors name the op and both shapes

@pytest.mark.parametrize("name, fn", [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("maximum", minigan.maximum),
    ("minimum", minigan.minimum),
    ("where", lambda a, b: minigan.where(minigan.tensor(True), a, b)),
])
def test_shape_mismatch_names_the_op_and_both_shapes(name, fn):
    with pytest.raises(ValueError) as err:
        fn(leaf(np.ones((2, 3))), leaf(np.ones((4,))))
    message = str(err.value)
    assert name in message and "(2, 3)" in message and "(4,)" in message
