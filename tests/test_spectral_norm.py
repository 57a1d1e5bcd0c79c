"""spectral_norm: the normalized weight's top singular value, PyTorch's keys and modes, gradients, removal, errors.

The forward pre-hook it stands on (``Module.register_forward_pre_hook``) is tested first.
"""

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
from minigan import nn


def matrix(weight, dim=0):
    """A weight as PyTorch's spectral_norm sees it: (weight.shape[dim], -1)."""
    weight = np.moveaxis(np.asarray(weight), dim, 0)
    return weight.reshape(weight.shape[0], -1)


def top_singular_value(weight, dim=0):
    return np.linalg.svd(matrix(weight, dim), compute_uv=False)[0]


def normalize(x, eps=1e-12):
    return x / max(np.linalg.norm(x), eps)


LAYERS = {
    "Linear": (lambda: nn.Linear(5, 3), (2, 5), 0),
    "Conv2d": (lambda: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 5, 5), 0),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2), (2, 3, 3, 3), 1),
}


# ---------------------------------------------------------------- forward pre-hooks

def test_forward_pre_hooks_can_replace_the_inputs_and_be_removed():
    layer, seen = nn.Linear(2, 3), []
    first = layer.register_forward_pre_hook(lambda module, inputs: seen.append((module, inputs[0].shape)))
    doubled = layer.register_forward_pre_hook(lambda module, inputs: inputs[0] * 2.0)  # one value, not a tuple
    x = minigan.ones(4, 2)
    np.testing.assert_allclose(layer(x).numpy(), layer.forward(x * 2.0).numpy(), rtol=1e-6)
    assert seen == [(layer, (4, 2))]
    doubled.remove()
    as_tuple = layer.register_forward_pre_hook(lambda module, inputs: (inputs[0] * 0.0,))
    np.testing.assert_allclose(layer(x).numpy(), np.broadcast_to(layer.bias.numpy(), (4, 3)), rtol=1e-6)
    first.remove()
    as_tuple.remove()
    layer(x)
    assert len(seen) == 2 and not layer._forward_pre_hooks


# ---------------------------------------------------------------- the normalized weight

@pytest.mark.parametrize("kind", LAYERS)
def test_the_top_singular_value_of_the_normalized_weight_is_one(kind):
    make, input_shape, dim = LAYERS[kind]
    layer = nn.spectral_norm(make()).double()
    x = minigan.randn(*input_shape, dtype="float64")
    for _ in range(50):  # one power-iteration step per call, as in training
        layer(x)
    assert top_singular_value(layer.weight.numpy(), dim) == pytest.approx(1.0, abs=1e-6)
    # and sigma is the top singular value of the raw weight
    sigma = layer.weight_orig.numpy() / layer.weight.numpy()
    np.testing.assert_allclose(sigma, top_singular_value(layer.weight_orig.numpy(), dim), rtol=1e-6)


@pytest.mark.parametrize("kind", LAYERS)
def test_the_layer_computes_with_the_normalized_weight(kind):
    make, input_shape, _ = LAYERS[kind]
    layer = nn.spectral_norm(make())
    x = minigan.randn(*input_shape)
    out = layer(x)
    plain = make()
    plain.load_state_dict({"weight": layer.weight, "bias": layer.bias})
    np.testing.assert_allclose(out.numpy(), plain(x).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", LAYERS)
def test_pytorch_state_dict_keys_and_shapes(kind):
    make, _, dim = LAYERS[kind]
    layer = nn.spectral_norm(make())
    weight = layer.weight_orig
    rows, columns = matrix(weight.numpy(), dim).shape
    assert list(layer.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert [name for name, _ in layer.named_parameters()] == ["bias", "weight_orig"]
    assert layer.weight_u.shape == (rows,) and layer.weight_v.shape == (columns,)
    assert not isinstance(layer.weight, nn.Parameter)
    np.testing.assert_allclose(np.linalg.norm(layer.weight_u.numpy()), 1.0, rtol=1e-6)
    v = normalize(matrix(weight.numpy(), dim).T @ layer.weight_u.numpy())  # computed from u, not drawn
    np.testing.assert_allclose(layer.weight_v.numpy(), v, rtol=1e-5, atol=1e-7)
    assert nn.utils.spectral_norm is nn.spectral_norm and nn.utils.remove_spectral_norm is nn.remove_spectral_norm


def test_a_state_dict_round_trip_gives_the_same_layer():
    source = nn.spectral_norm(nn.Linear(4, 3))
    for _ in range(3):
        source(minigan.randn(2, 4))
    target = nn.spectral_norm(nn.Linear(4, 3))
    target.load_state_dict(source.state_dict())
    x = minigan.randn(2, 4)
    np.testing.assert_allclose(target.eval()(x).numpy(), source.eval()(x).numpy(), rtol=1e-6)


def test_eval_mode_keeps_u_and_v_and_training_mode_moves_them():
    layer = nn.spectral_norm(nn.Linear(6, 4))
    x = minigan.randn(3, 6)
    u, v = layer.weight_u.numpy().copy(), layer.weight_v.numpy().copy()
    layer.eval()
    first = layer(x).numpy()
    np.testing.assert_array_equal(layer.weight_u.numpy(), u)
    np.testing.assert_array_equal(layer.weight_v.numpy(), v)
    np.testing.assert_array_equal(layer(x).numpy(), first)
    layer.train()
    layer(x)
    assert not np.allclose(layer.weight_u.numpy(), u)
    w = layer.weight_orig.numpy()
    np.testing.assert_allclose(layer.weight_v.numpy(), normalize(w.T @ u), rtol=1e-5)  # one step from the old u
    np.testing.assert_allclose(layer.weight_u.numpy(), normalize(w @ layer.weight_v.numpy()), rtol=1e-5)


def test_u_comes_from_the_seeded_generator():
    minigan.manual_seed(3)
    a = nn.spectral_norm(nn.Linear(4, 3))
    minigan.manual_seed(3)
    b = nn.spectral_norm(nn.Linear(4, 3))
    np.testing.assert_array_equal(a.weight_u.numpy(), b.weight_u.numpy())


# ---------------------------------------------------------------- gradients

def test_gradients_flow_into_weight_orig():
    """d/dW of L(W / sigma), sigma = u^T W v with u, v constant: G / sigma - <G, W> / sigma^2 u v^T."""
    layer = nn.spectral_norm(nn.Linear(4, 3)).double()
    x = minigan.randn(5, 4, dtype="float64")
    out = layer(x)
    out.sum().backward()
    w, u, v = layer.weight_orig.numpy(), layer.weight_u.numpy(), layer.weight_v.numpy()
    sigma = u @ w @ v
    g = np.ones((5, 3)).T @ x.numpy()  # the gradient with respect to the normalized weight
    expected = g / sigma - (g * w).sum() / sigma ** 2 * np.outer(u, v)
    np.testing.assert_allclose(layer.weight_orig.grad.numpy(), expected, rtol=1e-10)
    assert layer.bias.grad is not None


def test_a_graph_keeps_the_u_and_v_of_its_own_call():
    """D(real) and D(fake) before one backward: the second call moves u, v, but not the first graph's."""
    layer = nn.spectral_norm(nn.Linear(4, 3)).double()
    x = minigan.randn(5, 4, dtype="float64")
    first = layer(x)
    u, v = layer.weight_u.numpy().copy(), layer.weight_v.numpy().copy()
    layer(minigan.randn(5, 4, dtype="float64"))
    assert not np.allclose(layer.weight_u.numpy(), u)
    first.sum().backward()
    w = layer.weight_orig.numpy()
    sigma = u @ w @ v
    g = np.ones((5, 3)).T @ x.numpy()
    np.testing.assert_allclose(layer.weight_orig.grad.numpy(), g / sigma - (g * w).sum() / sigma ** 2 * np.outer(u, v), rtol=1e-10)


def test_a_gradient_penalty_reaches_weight_orig():
    critic = nn.Sequential(nn.spectral_norm(nn.Linear(3, 4)), nn.Tanh(), nn.spectral_norm(nn.Linear(4, 1))).double()
    x = minigan.randn(6, 3, dtype="float64", requires_grad=True)
    (g,) = minigan.grad(critic(x).sum(), [x], create_graph=True)
    (((g * g).sum(1).sqrt() - 1.0) ** 2).mean().backward()  # WGAN-GP's penalty: a second derivative
    for layer in (critic[0], critic[2]):
        assert layer.weight_orig.grad is not None and np.all(np.isfinite(layer.weight_orig.grad.numpy()))
        assert np.abs(layer.weight_orig.grad.numpy()).max() > 0


def test_requires_grad_false_freezes_weight_orig():
    layer = nn.spectral_norm(nn.Linear(4, 3)).requires_grad_(False)
    assert layer(minigan.randn(2, 4)).requires_grad is False


# ---------------------------------------------------------------- copies, devices, removal

def test_a_deep_copy_has_its_own_u_and_v():
    """EMA deep-copies the generator: the copy's hook must update the copy's buffers, not the original's."""
    layer = nn.spectral_norm(nn.Linear(4, 3))
    layer(minigan.randn(2, 4))
    twin = copy.deepcopy(layer)
    u = layer.weight_u.numpy().copy()
    twin.weight_orig.data = (twin.weight_orig * 2.0).data
    twin(minigan.randn(2, 4))
    np.testing.assert_array_equal(layer.weight_u.numpy(), u)
    assert not np.allclose(twin.weight_u.numpy(), u)
    w, twin_u, twin_v = twin.weight_orig.numpy(), twin.weight_u.numpy(), twin.weight_v.numpy()
    np.testing.assert_allclose(twin.weight.numpy(), w / (twin_u @ w @ twin_v), rtol=1e-5)


def test_double_gives_a_float64_weight_at_the_next_call():
    layer = nn.spectral_norm(nn.Linear(4, 3)).double()
    assert layer.weight_orig.dtype == layer.weight_u.dtype == layer.weight_v.dtype == "float64"
    layer(minigan.randn(2, 4, dtype="float64"))
    assert layer.weight.dtype == "float64"


@pytest.mark.parametrize("kind", LAYERS)
def test_remove_spectral_norm_leaves_the_normalized_weight_as_a_parameter(kind):
    make, input_shape, _ = LAYERS[kind]
    layer = nn.spectral_norm(make())
    x = minigan.randn(*input_shape)
    for _ in range(3):
        layer(x)
    layer.eval()
    expected = layer(x).numpy()
    normalized = layer.weight.numpy()
    assert nn.remove_spectral_norm(layer) is layer
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.requires_grad
    np.testing.assert_allclose(layer.weight.numpy(), normalized, rtol=1e-6)
    assert list(layer.state_dict()) == ["bias", "weight"]
    assert not layer._forward_pre_hooks and not hasattr(layer, "weight_orig")
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    nn.spectral_norm(layer)  # and it can be applied again


def test_spectral_norm_of_another_parameter_and_dim():
    layer = nn.spectral_norm(nn.Conv2d(2, 3, 2), name="bias")
    assert list(layer.state_dict()) == ["weight", "bias_orig", "bias_u", "bias_v"]
    conv = nn.spectral_norm(nn.Conv2d(2, 3, 2), dim=1, n_power_iterations=40)
    conv(minigan.randn(1, 2, 3, 3))
    assert conv.weight_u.shape == (2,)
    assert top_singular_value(conv.weight.numpy(), 1) == pytest.approx(1.0, abs=1e-4)


# ---------------------------------------------------------------- errors

def test_errors_name_the_module_and_say_what_to_do():
    layer = nn.spectral_norm(nn.Linear(4, 3))
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=4, out_features=3, bias=True\) already has spectral "
                                           r"normalization on 'weight'.*remove_spectral_norm"):
        nn.spectral_norm(layer)
    with pytest.raises(ValueError, match=r"parameter 'kernel' of Linear\(.*\) does not exist \(its parameters: 'weight', 'bias'\)"):
        nn.spectral_norm(nn.Linear(4, 3), name="kernel")
    with pytest.raises(ValueError, match=r"parameter 'bias' of Linear\(.*bias=False\) is None"):
        nn.spectral_norm(nn.Linear(4, 3, bias=False), name="bias")
    with pytest.raises(ValueError, match="n_power_iterations must be a positive int, got 0"):
        nn.spectral_norm(nn.Linear(4, 3), n_power_iterations=0)
    with pytest.raises(ValueError, match=r"dim=2 is out of range for 'weight' of Linear\(.*\), of shape \(3, 4\)"):
        nn.spectral_norm(nn.Linear(4, 3), dim=2)
    with pytest.raises(TypeError, match="expected an nn.Module"):
        nn.spectral_norm(minigan.zeros(3, 4))
    with pytest.raises(ValueError, match=r"spectral_norm was not applied to 'weight' of Conv2d\(.*\), so there is nothing to remove"):
        nn.remove_spectral_norm(nn.Conv2d(1, 1, 1))


# ---------------------------------------------------------------- drawn layers, against NumPy's power iteration

@st.composite
def layers(draw):
    kind = draw(st.sampled_from(sorted(LAYERS)))
    a, b = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if kind == "Linear":
        return nn.Linear(a, b), (2, a), 0
    k = draw(st.integers(1, 3))
    if kind == "Conv2d":
        return nn.Conv2d(a, b, k, padding=k - 1), (1, a, 2, 2), 0
    return nn.ConvTranspose2d(a, b, k), (1, a, 2, 2), 1


@settings(max_examples=20)
@given(drawn=layers(), n_power_iterations=st.integers(1, 3), calls=st.integers(1, 3))
def test_any_layer_follows_the_power_iteration_and_never_overshoots(drawn, n_power_iterations, calls):
    layer, input_shape, dim = drawn
    layer = nn.spectral_norm(layer, n_power_iterations=n_power_iterations).double()
    w = matrix(layer.weight_orig.numpy(), dim)
    u = layer.weight_u.numpy()
    for _ in range(calls):
        layer(minigan.randn(*input_shape, dtype="float64"))
        for _ in range(n_power_iterations):
            v = normalize(w.T @ u)
            u = normalize(w @ v)
    np.testing.assert_allclose(layer.weight_u.numpy(), u, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(layer.weight_v.numpy(), v, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(matrix(layer.weight.numpy(), dim), w / (u @ w @ v), rtol=1e-9)
    # sigma = ||W v|| is at most the top singular value, so the normalized weight's is at least 1
    assert top_singular_value(layer.weight.numpy(), dim) >= 1.0 - 1e-9


# ---------------------------------------------------------------- against PyTorch

@pytest.mark.parametrize("kind", LAYERS)
def test_matches_torch_spectral_norm(kind):
    torch = pytest.importorskip("torch")
    make, input_shape, _ = LAYERS[kind]
    ours = nn.spectral_norm(make()).double()
    torch_layer = {
        "Linear": lambda: torch.nn.Linear(5, 3),
        "Conv2d": lambda: torch.nn.Conv2d(3, 4, 3, padding=1),
        "ConvTranspose2d": lambda: torch.nn.ConvTranspose2d(3, 4, 3, stride=2),
    }[kind]().double()
    theirs = torch.nn.utils.spectral_norm(torch_layer)
    with torch.no_grad():
        for key, value in ours.state_dict().items():  # v is recomputed from u by the first training call
            theirs.state_dict()[key].copy_(torch.from_numpy(value.numpy()))
    for _ in range(3):
        x = np.random.default_rng(0).standard_normal(input_shape)
        out = ours(minigan.tensor(x, dtype="float64"))
        expected = theirs(torch.from_numpy(x))
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(ours.weight_orig.grad.numpy(), theirs.weight_orig.grad.numpy(), rtol=1e-9, atol=1e-12)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-10, atol=1e-12)
    ours.eval(), theirs.eval()
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(minigan.tensor(x, dtype="float64")).numpy(), expected, rtol=1e-10)
