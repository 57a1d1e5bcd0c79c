"""Engine semantics, with PyTorch's meaning: accumulation, retain_graph, grad, no_grad, graphs.

Also the Tensor API a learner touches first (shape, dtype, device, item, repr).
"""

import gc
import time
import weakref

import numpy as np
import pytest
from strategies import leaf

import minigan
from minigan import Tensor


# ---------------------------------------------------------------- .grad and backward

def test_grad_is_none_before_the_first_backward():
    x = leaf([1.0, 2.0])
    assert x.grad is None
    (x * 3.0).sum()
    assert x.grad is None  # building the graph computes no gradient


def test_grad_accumulates_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    (x * x).sum().backward()  # a new graph: 2x is added to what is there
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 7.0])
    x.grad.zero_()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def _writes_do_not_leak(grads, others):
    """Adding to each grad in place (as optimizers do) changes none of ``others``."""
    before = [o.numpy().copy() for o in others]
    for g in grads:
        g.data += 1.0
    for o, b in zip(others, before):
        np.testing.assert_array_equal(o.numpy(), b)


def test_leaves_that_shared_a_gradient_get_arrays_of_their_own():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()  # Add hands one array to both; sum's backward broadcasts a view
    assert a.grad.data is not b.grad.data
    _writes_do_not_leak([a.grad], [b.grad])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


def test_the_callers_gradient_is_not_handed_to_a_leaf():
    x = leaf([1.0, 2.0])
    g = minigan.tensor([5.0, 6.0])
    (x + 0.0).backward(g)  # Add's backward returns g itself for x
    assert x.grad.data is not g.data
    _writes_do_not_leak([x.grad], [g])
    np.testing.assert_array_equal(g.numpy(), [5.0, 6.0])


class _Handing(minigan.autograd.Function):
    """y = x1 + x2, whose backward returns an array it made, once or for both inputs."""

    def __init__(self, share):
        self.share = share

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        xp = g.get_namespace()
        self.made = [xp.asarray(g.data, copy=True) for _ in range(2)]
        first = self.made[0]
        return Tensor(first), Tensor(first if self.share else self.made[1])


@pytest.mark.parametrize("share", [False, True])
def test_a_fresh_gradient_is_handed_over_without_a_copy(share, device):
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    op = _Handing(share)
    op(a, b).backward(minigan.tensor([1.0, 1.0]))
    handed = minigan.backend.owns_memory(op.made[0])  # False on array-api-strict: no views there, so always a copy
    assert (a.grad.data is op.made[0]) == (handed and not share)
    assert (b.grad.data is op.made[1]) == (handed and not share)
    assert a.grad.data is not b.grad.data
    _writes_do_not_leak([a.grad], [b.grad])


def test_a_second_backward_without_retain_graph_explains():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward_that_doubles_the_grads():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2.0).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    np.testing.assert_allclose(first, 2 * np.exp([1.0, 2.0]))


def test_backward_of_a_non_scalar_needs_a_gradient_and_names_the_shape():
    y = leaf(np.ones((2, 3))) * 2.0
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        y.backward()


def test_backward_with_an_explicit_gradient():
    x = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = x * x
    weights = minigan.tensor([[1.0, 0.0, -1.0], [0.5, 2.0, 1.0]], dtype="float64")
    y.backward(weights)
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() * weights.numpy())


def test_backward_with_a_gradient_of_the_wrong_shape_names_both_shapes():
    y = leaf(np.ones((2, 3))) * 2.0
    with pytest.raises(RuntimeError) as err:
        y.backward(minigan.ones(3, 2, dtype="float64"))
    assert "(3, 2)" in str(err.value) and "(2, 3)" in str(err.value)


def test_backward_of_a_tensor_that_does_not_require_grad_explains():
    with pytest.raises(RuntimeError, match="requires_grad"):
        minigan.tensor([1.0, 2.0]).sum().backward()


# ---------------------------------------------------------------- minigan.grad

def test_create_graph_gives_a_differentiable_gradient():
    x = leaf([-1.5, 0.5, 2.0])
    y = (x ** 3).sum()
    (dy_dx,) = minigan.grad(y, x, create_graph=True)
    np.testing.assert_allclose(dy_dx.numpy(), 3 * x.numpy() ** 2)
    assert dy_dx.requires_grad
    (d2y_dx2,) = minigan.grad(dy_dx.sum(), x)
    np.testing.assert_allclose(d2y_dx2.numpy(), 6 * x.numpy())


def test_without_create_graph_the_gradient_is_a_constant():
    x = leaf([1.0, 2.0])
    (g,) = minigan.grad((x ** 3).sum(), x)
    assert not g.requires_grad and g.grad_fn is None


def test_gradient_penalty_differentiated_with_respect_to_the_weights():
    """P = sum_n (||d f / d x_n|| - 1)^2 with f = sum_n u_n^3 / 3, u = x @ w (the WGAN-GP shape of it).

    d f / d x_n = u_n^2 w, so ||.|| = u_n^2 |w| and
    dP/dw = sum_n 2 (u_n^2 |w| - 1) (2 u_n |w| x_n + u_n^2 w / |w|).
    """
    rng = np.random.default_rng(0)
    x_np, w_np = rng.standard_normal((5, 3)), rng.standard_normal(3)
    x, w = leaf(x_np), leaf(w_np)
    f = ((x @ w) ** 3 / 3.0).sum()
    (g,) = minigan.grad(f, x, create_graph=True)
    penalty = (((g * g).sum(1).sqrt() - 1.0) ** 2).sum()
    penalty.backward()

    u, norm_w = x_np @ w_np, np.linalg.norm(w_np)
    np.testing.assert_allclose(g.numpy(), (u ** 2)[:, None] * w_np, rtol=1e-12)
    expected = (2 * (u ** 2 * norm_w - 1))[:, None] * (
        2 * (u * norm_w)[:, None] * x_np + (u ** 2)[:, None] * w_np / norm_w)
    np.testing.assert_allclose(w.grad.numpy(), expected.sum(0), rtol=1e-10)
    # x took part in the penalty too: its grad was accumulated by the same backward.
    assert x.grad is not None and x.grad.shape == (5, 3)


def test_grad_with_respect_to_a_non_leaf():
    x = leaf([1.0, -2.0, 3.0])
    h = x * 2.0
    y = (h * h + h).sum()  # h reaches y along two paths: dy/dh = 2h + 1
    dy_dh, dy_dx = minigan.grad(y, [h, x])
    np.testing.assert_allclose(dy_dh.numpy(), 2 * h.numpy() + 1)
    np.testing.assert_allclose(dy_dx.numpy(), 2 * (2 * h.numpy() + 1))


def test_grad_of_an_output_with_respect_to_itself_is_one():
    y = (leaf([1.0, 2.0]) * 2.0).sum()
    (g,) = minigan.grad(y, y)
    assert g.item() == 1.0


def test_grad_allow_unused():
    x, unused = leaf([1.0, 2.0]), leaf([3.0])
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        minigan.grad(y, [x, unused], retain_graph=True)
    gx, gu = minigan.grad(y, [x, unused], allow_unused=True)
    np.testing.assert_array_equal(gx.numpy(), [2.0, 4.0])
    assert gu is None


def test_grad_does_not_touch_dot_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    w.grad = minigan.tensor([7.0, 7.0], dtype="float64")
    minigan.grad((x * w).sum(), [x])
    assert x.grad is None
    np.testing.assert_array_equal(w.grad.numpy(), [7.0, 7.0])


def test_grad_with_several_outputs_and_weights():
    x = leaf([1.0, 2.0])
    a, b = x * x, x * 3.0
    (g,) = minigan.grad([a, b], x, [minigan.tensor([1.0, 1.0], dtype="float64"),
                                    minigan.tensor([2.0, 0.0], dtype="float64")])
    np.testing.assert_array_equal(g.numpy(), [2.0 + 6.0, 4.0])


def test_grad_of_an_input_that_does_not_require_grad_explains():
    x, c = leaf([1.0]), leaf([2.0], requires_grad=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        minigan.grad((x * c).sum(), c)


# ---------------------------------------------------------------- no_grad, detach

def test_no_grad_context_records_no_graph():
    x = leaf([1.0, 2.0])
    with minigan.no_grad():
        assert not minigan.is_grad_enabled()
        y = x * 2.0 + 1.0
    assert minigan.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_as_decorator():
    @minigan.no_grad()
    def step(t):
        assert not minigan.is_grad_enabled()
        return t * 2.0

    x = leaf([1.0])
    y = step(x)
    assert not y.requires_grad and y.grad_fn is None
    assert minigan.is_grad_enabled()
    assert step.__name__ == "step"  # the decorator keeps the function's name and docstring


def test_no_grad_decorator_on_a_recursive_function_restores_on_the_way_out():
    @minigan.no_grad()
    def countdown(n):
        assert not minigan.is_grad_enabled()
        return 0 if n == 0 else countdown(n - 1)

    countdown(3)
    assert minigan.is_grad_enabled()


def test_grad_mode_nesting_and_restoring():
    assert minigan.is_grad_enabled()
    with minigan.no_grad():
        with minigan.enable_grad():
            assert minigan.is_grad_enabled()
            y = leaf([1.0]) * 2.0
        assert not minigan.is_grad_enabled()
        with minigan.no_grad():
            assert not minigan.is_grad_enabled()
        assert not minigan.is_grad_enabled()
    assert minigan.is_grad_enabled()
    assert y.requires_grad


def test_no_grad_restores_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with minigan.no_grad():
            1 / 0
    assert minigan.is_grad_enabled()


def test_detach_shares_values_and_leaves_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad
    np.testing.assert_array_equal(d.numpy(), y.numpy())
    (d * x).sum().backward()  # d is a constant: dx = d, not d + 3x
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 6.0])


# ---------------------------------------------------------------- graph shapes

def test_diamond_graph_gets_both_branches():
    """x -> a = exp(x), b = x^2 -> c = a * b: every node must see all its consumers first."""
    x = leaf([0.5, -1.0])
    h = x * 2.0
    a, b = minigan.exp(h), h * h
    y = (a * b + a).sum()
    y.backward()
    hv = 2 * x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp(hv) * hv * hv + np.exp(hv) * 2 * hv + np.exp(hv)))


def test_long_and_short_path_to_the_same_node():
    # x reaches y directly and through a chain of 5 ops; a DFS order that visits the short
    # path first and processes x's producer early would miss the long path's contribution.
    x = leaf([1.5])
    h = x * 1.0
    long = h
    for _ in range(5):
        long = long * 2.0
    y = (h + long).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0 + 32.0])


def test_same_tensor_twice_in_one_op():
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0, 6.0])
    x.grad = None
    (x / x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 0.0], atol=1e-15)


def test_a_chain_of_100000_ops_backpropagates_without_recursion():
    x = leaf(0.5)
    start = time.perf_counter()
    y = x
    for _ in range(100_001):
        y = -y  # the cheapest op, so the test measures the engine; an odd count ends at -x
    y.backward()
    assert y.item() == -0.5
    assert x.grad.item() == -1.0  # one node skipped or run twice would flip the sign
    assert time.perf_counter() - start < 300  # a few seconds when idle; a quadratic engine takes hours


def test_a_100000_op_graph_can_be_deleted_without_backward():
    x = leaf(0.5)
    y = x
    for _ in range(100_000):
        y = -y
    probe = weakref.ref(y.grad_fn)
    del y
    gc.collect()
    assert probe() is None


def test_saved_intermediates_are_freed_after_backward():
    x = leaf([1.0, 2.0])
    h = x.exp()
    alive = weakref.ref(h)
    y = (h * 2.0).sum()
    del h
    assert alive() is not None  # the graph holds it for backward
    y.backward()
    assert alive() is None


def test_retain_graph_keeps_saved_intermediates():
    x = leaf([1.0, 2.0])
    h = x.exp()
    alive = weakref.ref(h)
    y = (h * 2.0).sum()
    del h
    y.backward(retain_graph=True)
    assert alive() is not None
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp([1.0, 2.0]))


def test_under_no_grad_nothing_is_kept():
    x = leaf([1.0, 2.0])
    with minigan.no_grad():
        h = x.exp()
        alive = weakref.ref(h)
        y = h * 2.0
    del h
    assert alive() is None
    assert y.grad_fn is None


def test_two_leaves_of_one_add_get_independent_grads():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    weights = minigan.tensor([1.0, 2.0], dtype="float64")
    ((a + b) * weights).sum().backward()
    a.grad.data[0] = 100.0
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0])


def test_leaves_reached_through_views_of_one_gradient_get_independent_grads():
    # a.reshape and b.reshape hand back views of the same gradient array.
    a, b = leaf([[1.0, 2.0], [3.0, 4.0]]), leaf([[5.0, 6.0], [7.0, 8.0]])
    weights = minigan.tensor([1.0, 2.0, 3.0, 4.0], dtype="float64")
    ((a.reshape(4) + b.reshape(4)) * weights).sum().backward()
    a.grad.data[0, 0] = 100.0
    np.testing.assert_array_equal(b.grad.numpy(), [[1.0, 2.0], [3.0, 4.0]])


def test_leaf_grad_is_a_writable_array():
    # In-place updates of .grad (gradient clipping, optimizers) need an array of its own,
    # not a read-only broadcast view of the gradient of a sum.
    x = leaf([1.0, 2.0, 3.0])
    x.sum().backward()
    x.grad.data[...] = x.grad.data * 0.5
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.5, 0.5])


def test_a_root_that_is_a_leaf():
    x = leaf(2.0)
    x.backward()
    assert x.grad.item() == 1.0


def test_grad_of_a_branch_that_does_not_require_grad_is_skipped():
    x, c = leaf([1.0, 2.0]), leaf([3.0, 4.0], requires_grad=False)
    (x * c + c.exp()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert c.grad is None


# ---------------------------------------------------------------- requires_grad and dtypes

def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        minigan.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        minigan.tensor([1, 2, 3]).requires_grad_()


def test_requires_grad_of_outputs_follows_inputs():
    x, c = leaf([1.0]), leaf([2.0], requires_grad=False)
    assert (x * c).requires_grad
    assert not (c * c).requires_grad
    assert (x * c).grad_fn is not None and (c * c).grad_fn is None
    assert x.is_leaf and not (x * c).is_leaf


def test_default_dtype_is_float32_and_float64_is_kept():
    assert minigan.tensor([1.0, 2.0]).dtype == "float32"
    assert minigan.tensor([1, 2]).dtype == "int64"
    assert minigan.tensor([True]).dtype == "bool"
    assert minigan.tensor(np.array([1.0, 2.0])).dtype == "float64"  # a NumPy array keeps its precision
    assert minigan.tensor([1.0], dtype="float64").dtype == "float64"
    assert minigan.tensor([1.0], dtype=minigan.float64).dtype == "float64"
    assert minigan.randn(2).dtype == minigan.zeros(2).dtype == "float32"
    x = leaf([1.0])
    assert (x * 2.0 + x.exp()).dtype == "float64"


def test_to_dtype_is_differentiable():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)  # float32
    y = x.to("float64")
    assert y.dtype == "float64"
    (y * y).sum().backward()
    assert x.grad.dtype == "float32"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    # And back: a float64 leaf through float32 gets a float64 gradient.
    z = leaf([1.0, 2.0])
    (z.float() * 3.0).sum().backward()
    assert z.grad.dtype == "float64"
    np.testing.assert_array_equal(z.grad.numpy(), [3.0, 3.0])


def test_double_and_float():
    x = minigan.tensor([1.5])
    assert x.double().dtype == "float64"
    assert x.double().float().dtype == "float32"
    assert x.to(dtype="float64").dtype == "float64"
    assert x.float().dtype == "float32"
    assert minigan.tensor([1, 2]).double().dtype == "float64"  # integers convert too (outside the graph)


# ---------------------------------------------------------------- the Tensor API

def test_tensor_api(device):
    values = np.arange(6.0).reshape(2, 3)
    x = minigan.tensor(values)
    assert x.shape == (2, 3) and isinstance(x.shape, tuple)
    assert x.ndim == 2 and x.dim() == 2
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.numel() == 6 and len(x) == 2
    assert x.device == device
    assert isinstance(x.numpy(), np.ndarray)
    np.testing.assert_array_equal(x.numpy(), values)
    assert x.tolist() == values.tolist()
    assert x[1, 2].item() == 5.0 and isinstance(x[1, 2].item(), float)
    assert minigan.tensor([7]).item() == 7 and isinstance(minigan.tensor([7]).item(), int)


def test_item_of_several_elements_names_the_shape():
    with pytest.raises(ValueError, match=r"\(2,\)"):
        minigan.tensor([1.0, 2.0]).item()


def test_repr_shows_values_dtype_and_grad():
    assert repr(minigan.tensor([1.0, 2.0])).startswith("tensor([1., 2.]")
    assert "dtype=float64" in repr(leaf([1.0]))
    assert "requires_grad=True" in repr(leaf([1.0]))
    assert "grad_fn=<Mul>" in repr(leaf([1.0]) * 2.0)
    assert "dtype" not in repr(minigan.tensor([1.0]))


def test_comparisons_give_boolean_tensors_outside_the_graph():
    x = leaf([1.0, 2.0, 3.0])
    mask = x > 1.5
    assert isinstance(mask, Tensor) and mask.dtype == "bool" and not mask.requires_grad
    assert mask.tolist() == [False, True, True]
    assert (x == 2.0).tolist() == [False, True, False]
