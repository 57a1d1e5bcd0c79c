"""minigan against PyTorch (float64): random composites, their first and second derivatives.

Skipped where torch is not installed. PyTorch is the reference users will move to,
so where an op is not differentiable (ties, bounds, 0) minigan follows its convention.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import arrays, broadcastable_shapes, evaluate, expressions, leaf, well_scaled

import minigan

torch = pytest.importorskip("torch")


def torch_leaf(values):
    return torch.tensor(np.asarray(values, dtype=np.float64), dtype=torch.float64, requires_grad=True)


def close(ours, theirs, rtol=1e-10, atol=1e-12):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs.numpy()
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=rtol, atol=atol)


@given(data=st.data())
def test_random_composites_match_pytorch_to_second_order(data):
    steps = data.draw(expressions(n_inputs=2), label="steps")
    shape_a, shape_b = data.draw(broadcastable_shapes(min_dims=1, max_dims=3, max_side=3, max_numel=12), label="shapes")
    a_np, b_np = data.draw(arrays(shape_a), label="a"), data.draw(arrays(shape_b), label="b")
    a, b = leaf(a_np), leaf(b_np)
    with np.errstate(all="ignore"):
        assume(well_scaled([v.detach().numpy() for v in evaluate(steps, minigan, a, b, every_value=True)]))
    ta, tb = torch_leaf(a_np), torch_leaf(b_np)

    out, t_out = evaluate(steps, minigan, a, b), evaluate(steps, torch, ta, tb)
    close(out, t_out)

    # First derivatives: the vector-Jacobian product with a random weighting w of the output.
    rng = np.random.default_rng(0)
    w_np = rng.standard_normal(out.shape)
    grads = minigan.grad(out, [a, b], minigan.tensor(w_np, dtype="float64"), create_graph=True, allow_unused=True)
    t_grads = torch.autograd.grad(t_out, [ta, tb], torch.tensor(w_np), create_graph=True, allow_unused=True)
    for g, t_g, x in zip(grads, t_grads, (a_np, b_np)):
        close(or_zeros(g, x), or_zeros(t_g, x))

    # Second derivatives: differentiate <grad, v> again (a Hessian-vector product in each input).
    vs = [rng.standard_normal(x.shape) for x in (a_np, b_np)]
    inner = sum(((g * minigan.tensor(v, dtype="float64")).sum() for g, v in zip(grads, vs) if g is not None), 0.0)
    t_inner = sum(((t_g * torch.tensor(v)).sum() for t_g, v in zip(t_grads, vs) if t_g is not None), 0.0)
    # A gradient that is a constant (as for a + b) has no graph: its derivatives are zero.
    second = minigan.grad(inner, [a, b], allow_unused=True) if differentiable(inner) else (None, None)
    t_second = torch.autograd.grad(t_inner, [ta, tb], allow_unused=True) if differentiable(t_inner) else (None, None)
    for h, t_h, x in zip(second, t_second, (a_np, b_np)):
        close(or_zeros(h, x), or_zeros(t_h, x), rtol=1e-9, atol=1e-10)


def differentiable(value):
    return getattr(value, "requires_grad", False)


def or_zeros(gradient, like):
    """A gradient as a minigan Tensor or torch tensor, with None (unused input) read as zeros."""
    return minigan.tensor(np.zeros_like(like), dtype="float64") if gradient is None else gradient


def test_gradient_penalty_matches_pytorch():
    """WGAN-GP's term on a tiny critic: differentiate ||d D / d x||, then differentiate that."""
    rng = np.random.default_rng(3)
    x_np, w1_np, w2_np = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((5, 1))

    def penalty(lib, x, w1, w2, grad_fn):
        hidden = lib.log(1.0 + lib.exp(x @ w1))  # softplus: smooth, so second derivatives exist
        critic = (hidden @ w2).sum()
        (g,) = grad_fn(critic, x)
        return ((((g * g).sum(1)) ** 0.5 - 1.0) ** 2).mean()

    x, w1, w2 = leaf(x_np), leaf(w1_np), leaf(w2_np)
    ours = penalty(minigan, x, w1, w2, lambda y, x: minigan.grad(y, x, create_graph=True))
    ours.backward()
    tx, tw1, tw2 = torch_leaf(x_np), torch_leaf(w1_np), torch_leaf(w2_np)
    theirs = penalty(torch, tx, tw1, tw2, lambda y, x: torch.autograd.grad(y, x, create_graph=True))
    theirs.backward()
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12)
    for p, tp in ((w1, tw1), (w2, tw2), (x, tx)):
        close(p.grad, tp.grad)


# Where the derivative is a convention (ties, bounds, 0), the same convention as PyTorch.
CONVENTIONS = {
    "abs at 0": (lambda m, x: m.abs(x), [-1.0, 0.0, 2.0]),
    "clamp at its bounds": (lambda m, x: m.clamp(x, -1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 3.0]),
    "maximum at ties": (lambda m, x: m.maximum(x, m.zeros_like(x) + 1.0), [0.0, 1.0, 2.0]),
    "minimum at ties": (lambda m, x: m.minimum(x, m.zeros_like(x) + 1.0), [0.0, 1.0, 2.0]),
    "amax with ties": (lambda m, x: m.amax(x.reshape(2, 3), 1), [1.0, 3.0, 3.0, 2.0, 2.0, 2.0]),
    "amin with ties": (lambda m, x: m.amin(x.reshape(2, 3), 0), [1.0, 3.0, 3.0, 1.0, 2.0, 0.0]),
    "max of everything with ties": (lambda m, x: m.max(x), [4.0, 1.0, 4.0]),
    "sqrt of 1 + square at 0": (lambda m, x: m.sqrt(1.0 + x * x), [0.0, 1.0]),
    "pow 0": (lambda m, x: x ** 0, [0.0, 2.0]),
    "std unbiased": (lambda m, x: x.reshape(2, 3).std(1), [1.0, 2.0, 4.0, 0.5, 0.5, 3.0]),
    "var biased": (lambda m, x: x.reshape(2, 3).var(0, correction=0), [1.0, 2.0, 4.0, 0.5, 0.5, 3.0]),
}


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_conventions_match_pytorch(name):
    fn, values = CONVENTIONS[name]
    x, tx = leaf(values), torch_leaf(values)
    out, t_out = fn(minigan, x), fn(torch, tx)
    close(out, t_out)
    out.sum().backward()
    t_out.sum().backward()
    close(x.grad, tx.grad)


def test_var_and_std_default_to_unbiased_like_pytorch():
    values = [1.0, 2.0, 4.0, 7.0]
    assert leaf(values).var().item() == pytest.approx(torch.tensor(values, dtype=torch.float64).var().item())
    assert leaf(values).std().item() == pytest.approx(torch.tensor(values, dtype=torch.float64).std().item())


def test_max_along_dim_returns_what_torch_returns():
    values = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    ours = minigan.max(leaf(values), 1, keepdim=True)
    theirs = torch.max(torch.tensor(values), 1, keepdim=True)
    close(ours.values, theirs.values)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
