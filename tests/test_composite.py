"""Gradients of whole functions against formulas derived by hand, and of random compositions.

Single ops can each be right while their composition is wrong (a shape reduced
twice, a branch dropped), so these tests differentiate small models end to end.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import arrays, broadcastable_shapes, evaluate, expressions, leaf, well_scaled

import minigan


def tanh(z):
    """tanh written with exp, so that its gradient exercises exp, div and broadcasting of scalars."""
    e = minigan.exp(-2.0 * z)
    return (1.0 - e) / (1.0 + e)


def test_two_layer_mlp_gradients_match_hand_derived_backprop():
    rng = np.random.default_rng(0)
    x_np, t_np = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    w1_np, b1_np = rng.standard_normal((3, 5)), rng.standard_normal(5)
    w2_np, b2_np = rng.standard_normal((5, 2)), rng.standard_normal(2)
    x, t = leaf(x_np, requires_grad=False), leaf(t_np, requires_grad=False)
    w1, b1, w2, b2 = leaf(w1_np), leaf(b1_np), leaf(w2_np), leaf(b2_np)

    y = tanh(x @ w1 + b1) @ w2 + b2
    loss = ((y - t) ** 2).mean()
    loss.backward()

    # By hand: the chain rule, layer by layer, from L = mean((y - t)^2).
    h = np.tanh(x_np @ w1_np + b1_np)
    y_np = h @ w2_np + b2_np
    dy = 2 * (y_np - t_np) / y_np.size
    dz1 = (dy @ w2_np.T) * (1 - h ** 2)
    assert loss.item() == pytest.approx(np.mean((y_np - t_np) ** 2), rel=1e-12)
    np.testing.assert_allclose(w2.grad.numpy(), h.T @ dy, rtol=1e-10)
    np.testing.assert_allclose(b2.grad.numpy(), dy.sum(0), rtol=1e-10)
    np.testing.assert_allclose(w1.grad.numpy(), x_np.T @ dz1, rtol=1e-10)
    np.testing.assert_allclose(b1.grad.numpy(), dz1.sum(0), rtol=1e-10)


def test_mlp_with_softplus_passes_gradcheck_for_every_parameter():
    rng = np.random.default_rng(1)
    x = leaf(rng.standard_normal((3, 2)), requires_grad=False)
    params = [leaf(rng.standard_normal(s)) for s in [(2, 4), (4,), (4, 1), (1,)]]

    def loss(w1, b1, w2, b2):
        hidden = minigan.log(1.0 + minigan.exp(x @ w1 + b1))  # softplus
        return ((hidden @ w2 + b2) ** 2).mean()

    assert minigan.gradcheck(loss, params)
    assert minigan.gradgradcheck(loss, params)


def binary_cross_entropy_with_logits(z, y):
    """sum of softplus(-z) for y = 1 and softplus(z) for y = 0, as max(z, 0) - z y + log(1 + e^-|z|)."""
    return (minigan.maximum(z, 0.0) - z * y + minigan.log(1.0 + minigan.exp(-minigan.abs(z)))).sum()


def test_binary_cross_entropy_on_logits_has_gradient_sigmoid_minus_label():
    z_np = np.array([-40.0, -3.0, -0.5, 0.0, 0.25, 2.0, 40.0, 0.0])
    y_np = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    z = leaf(z_np)
    loss = binary_cross_entropy_with_logits(z, leaf(y_np, requires_grad=False))
    loss.backward()
    # Stable and finite for large |z|, where the naive -log(sigmoid(z)) overflows.
    np.testing.assert_allclose(loss.item(), np.sum(np.logaddexp(0.0, z_np) - z_np * y_np), rtol=1e-12)
    # At z = 0 the kinks of max and |.| cancel: the gradient is still 1/2 - y.
    np.testing.assert_allclose(z.grad.numpy(), 1.0 / (1.0 + np.exp(-z_np)) - y_np, atol=1e-15)


@given(data=st.data())
def test_binary_cross_entropy_gradient_for_drawn_logits(data):
    n = data.draw(st.integers(1, 6))
    z_np = data.draw(arrays((n,), -8.0, 8.0))
    y_np = data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n))
    z = leaf(z_np)
    binary_cross_entropy_with_logits(z, leaf(y_np, requires_grad=False)).backward()
    np.testing.assert_allclose(z.grad.numpy(), 1.0 / (1.0 + np.exp(-z_np)) - np.array(y_np), atol=1e-12)


def test_hessian_vector_product_matches_the_hand_derived_hessian():
    """f(x) = sum x_i^3 + (sum x_i)^2 + log sum exp(x_i);  H = diag(6x) + 2 11^T + diag(p) - p p^T."""
    x_np = np.array([0.3, -1.2, 0.8, 2.0])
    v_np = np.array([1.0, 0.5, -2.0, 0.25])
    x, v = leaf(x_np), leaf(v_np, requires_grad=False)

    f = (x ** 3).sum() + x.sum() ** 2 + minigan.log(minigan.exp(x).sum())
    (g,) = minigan.grad(f, x, create_graph=True)
    (hv,) = minigan.grad((g * v).sum(), x)

    p = np.exp(x_np) / np.exp(x_np).sum()
    hessian = np.diag(6 * x_np) + 2 * np.ones((4, 4)) + np.diag(p) - np.outer(p, p)
    np.testing.assert_allclose(g.numpy(), 3 * x_np ** 2 + 2 * x_np.sum() + p, rtol=1e-12)
    np.testing.assert_allclose(hv.numpy(), hessian @ v_np, rtol=1e-10)


def test_full_hessian_row_by_row():
    """f(x, y) = x^2 y + exp(x y): the mixed partials of two inputs, one HVP per basis vector."""
    x_np, y_np = 0.7, -0.4
    x, y = leaf(x_np), leaf(y_np)
    f = x * x * y + minigan.exp(x * y)
    gx, gy = minigan.grad(f, [x, y], create_graph=True)
    rows = [minigan.grad(g, [x, y], retain_graph=True) for g in (gx, gy)]
    e = np.exp(x_np * y_np)
    expected = [[2 * y_np + y_np ** 2 * e, 2 * x_np + e + x_np * y_np * e],
                [2 * x_np + e + x_np * y_np * e, x_np ** 2 * e]]
    np.testing.assert_allclose([[h.item() for h in row] for row in rows], expected, rtol=1e-12)


@given(data=st.data())
def test_random_composite_expressions_pass_gradcheck_and_gradgradcheck(data):
    steps = data.draw(expressions(n_inputs=2), label="steps")
    shape_a, shape_b = data.draw(broadcastable_shapes(min_dims=1, max_dims=3, max_side=3, max_numel=8), label="shapes")
    a, b = leaf(data.draw(arrays(shape_a))), leaf(data.draw(arrays(shape_b)))
    with minigan.no_grad(), np.errstate(all="ignore"):
        assume(well_scaled([v.numpy() for v in evaluate(steps, minigan, a, b, every_value=True)]))

    def fn(a, b):
        return evaluate(steps, minigan, a, b)

    assert minigan.gradcheck(fn, (a, b))
    assert minigan.gradgradcheck(fn, (a, b))
