"""WGAN-GP and R1 penalties (double backprop) and weight clipping.

A linear critic D(x) = <w, x> has the same input gradient w at every point, so
both penalties have closed forms there: GP = lambda (||w|| - 1)^2 and
R1 = gamma/2 ||w||^2, whatever the interpolation. Through a small conv critic the
penalties' own derivatives (with respect to the critic's weights, which is what
training uses) are checked against finite differences in float64; the function
reseeds minigan each call, so the random interpolation e is the same in every
evaluation of the finite difference.
"""

import numpy as np
import pytest

import minigan
import minigan.nn.functional as F
from minigan import nn
from minigan.gan import clip_weights, gradient_penalty, r1_penalty


def tensor(values, dtype="float64", requires_grad=False):
    return minigan.tensor(np.asarray(values, dtype=dtype), dtype=dtype, requires_grad=requires_grad)


def linear_critic(w):
    """D(x) = sum over features of w * x, for x of any shape (N, ...) and w of shape x.shape[1:]."""
    w_t = tensor(w)

    def critic(x):
        return (x * w_t).reshape(x.shape[0], -1).sum(1)

    return critic


RNG = np.random.default_rng(7)
REAL = RNG.standard_normal((6, 3))
FAKE = RNG.standard_normal((6, 3))


# ---------------------------------------------------------------- WGAN-GP

@pytest.mark.parametrize("w", [[3.0, -4.0, 0.0], [0.1, 0.2, -0.2], [1.0, 1.0, 1.0]])
def test_gradient_penalty_of_a_linear_critic_is_weight_times_norm_minus_one_squared(w):
    penalty = gradient_penalty(linear_critic(np.array(w)), tensor(REAL), tensor(FAKE), weight=10.0)
    expected = 10.0 * (np.linalg.norm(w) - 1.0) ** 2
    assert penalty.shape == ()
    assert penalty.item() == pytest.approx(expected, rel=1e-9)


def test_gradient_penalty_scales_with_its_weight():
    critic = linear_critic(np.array([2.0, 0.0, 0.0]))
    one = gradient_penalty(critic, tensor(REAL), tensor(FAKE), weight=1.0).item()
    assert one == pytest.approx(1.0, rel=1e-9)
    assert gradient_penalty(critic, tensor(REAL), tensor(FAKE), weight=2.5).item() == pytest.approx(2.5, rel=1e-9)


def test_gradient_penalty_on_images_uses_the_norm_over_all_pixels():
    w = RNG.standard_normal((1, 4, 4))
    real, fake = tensor(RNG.standard_normal((3, 1, 4, 4))), tensor(RNG.standard_normal((3, 1, 4, 4)))
    penalty = gradient_penalty(linear_critic(w), real, fake, weight=10.0)
    assert penalty.item() == pytest.approx(10.0 * (np.linalg.norm(w) - 1.0) ** 2, rel=1e-9)


def test_gradient_penalty_is_zero_for_a_unit_gradient():
    penalty = gradient_penalty(linear_critic(np.array([0.6, 0.8, 0.0])), tensor(REAL), tensor(FAKE))
    assert 0.0 <= penalty.item() < 1e-12


def test_gradient_penalty_is_evaluated_between_real_and_fake():
    """For D(x) = ||x||^2 / 2 the gradient at x_hat is x_hat itself: every x_hat lies on the segment real-fake."""
    real = tensor(np.tile([[2.0, 0.0]], (64, 1)))
    fake = tensor(np.tile([[4.0, 0.0]], (64, 1)))
    minigan.manual_seed(3)
    penalty = gradient_penalty(lambda x: 0.5 * (x * x).sum(1), real, fake, weight=1.0).item()
    # ||x_hat|| = 2 e + 4 (1 - e) lies in [2, 4]: the penalty (||x_hat|| - 1)^2 in [1, 9]; its mean over U(0,1) is 13/3.
    assert 1.0 < penalty < 9.0
    assert penalty == pytest.approx(13.0 / 3.0, abs=0.6)


def test_gradient_penalty_reaches_the_critic_weights_by_double_backprop():
    """d/dw of lambda (||w|| - 1)^2 is 2 lambda (||w|| - 1) w / ||w||."""
    w_np = np.array([3.0, -4.0, 1.0])
    w = tensor(w_np, requires_grad=True)
    penalty = gradient_penalty(lambda x: (x * w).sum(1), tensor(REAL), tensor(FAKE), weight=10.0)
    penalty.backward()
    norm = np.linalg.norm(w_np)
    np.testing.assert_allclose(w.grad.numpy(), 20.0 * (norm - 1.0) * w_np / norm, rtol=1e-9)


def test_gradient_penalty_does_not_backprop_into_real_or_fake():
    real, fake = tensor(REAL, requires_grad=True), tensor(FAKE, requires_grad=True)
    w = tensor([3.0, -4.0, 1.0], requires_grad=True)
    gradient_penalty(lambda x: (x * w).sum(1), real, fake).backward()
    assert real.grad is None and fake.grad is None
    assert w.grad is not None


def test_gradient_penalty_refuses_batches_of_different_shapes():
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(linear_critic(np.ones(3)), tensor(REAL), tensor(FAKE[:4]))


def _conv_critic(weight, bias, head):
    """x (N, 1, 5, 5) -> (N,): conv 3x3 (2 channels), softplus, then a linear head. Smooth to any order."""

    def critic(x):
        h = F.softplus(F.conv2d(x, weight, bias, stride=2, padding=1))  # (N, 2, 3, 3)
        return (h.reshape(h.shape[0], -1) * head).sum(1)

    return critic


CONV_REAL = np.random.default_rng(1).standard_normal((2, 1, 5, 5))
CONV_FAKE = np.random.default_rng(2).standard_normal((2, 1, 5, 5))
CONV_WEIGHT = 0.5 * np.random.default_rng(3).standard_normal((2, 1, 3, 3))
CONV_BIAS = np.array([0.1, -0.2])
CONV_HEAD = 0.5 * np.random.default_rng(4).standard_normal(18)


def _gp_of_conv_weights(weight, bias):
    minigan.manual_seed(11)  # the same interpolation e in every evaluation of the finite differences
    critic = _conv_critic(weight, bias, tensor(CONV_HEAD))
    return gradient_penalty(critic, tensor(CONV_REAL), tensor(CONV_FAKE), weight=10.0)


def test_gradient_penalty_gradcheck_through_a_conv_critics_weights():
    weight, bias = tensor(CONV_WEIGHT, requires_grad=True), tensor(CONV_BIAS, requires_grad=True)
    assert _gp_of_conv_weights(weight, bias).item() > 1e-3  # not trivially zero
    assert minigan.gradcheck(_gp_of_conv_weights, (weight, bias))


def test_gradient_penalty_gradgradcheck_through_a_conv_critic():
    weight, bias = tensor(CONV_WEIGHT, requires_grad=True), tensor(CONV_BIAS, requires_grad=True)
    assert minigan.gradgradcheck(_gp_of_conv_weights, (weight, bias))


def test_the_conv_critic_check_sees_a_changed_interpolation():
    """Without the reseed, two evaluations differ: that is why the check function reseeds."""
    weight, bias = tensor(CONV_WEIGHT), tensor(CONV_BIAS)
    critic = _conv_critic(weight, bias, tensor(CONV_HEAD))
    a = gradient_penalty(critic, tensor(CONV_REAL), tensor(CONV_FAKE)).item()
    b = gradient_penalty(critic, tensor(CONV_REAL), tensor(CONV_FAKE)).item()
    assert a != b
    assert _gp_of_conv_weights(weight, bias).item() == _gp_of_conv_weights(weight, bias).item()


def test_gradient_penalty_with_a_dcgan_critic_module_gives_finite_weight_gradients(device):
    critic = nn.Sequential(
        nn.Conv2d(1, 4, 4, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 14 * 14, 1),
    )
    real, fake = minigan.randn(3, 1, 28, 28), minigan.randn(3, 1, 28, 28)
    penalty = gradient_penalty(lambda x: critic(x).reshape(-1), real, fake)
    assert penalty.device == device and penalty.dtype == "float32"
    penalty.backward()
    # The input gradient of a piecewise-linear critic does not depend on its biases: only weights get gradients.
    for p in (critic[0].weight, critic[3].weight):
        assert p.grad is not None and np.all(np.isfinite(p.grad.numpy()))
        assert np.any(p.grad.numpy() != 0)


# ---------------------------------------------------------------- R1

@pytest.mark.parametrize("w", [[3.0, -4.0, 0.0], [0.5, 0.5, 0.5]])
def test_r1_of_a_linear_critic_is_half_gamma_times_squared_norm(w):
    penalty = r1_penalty(linear_critic(np.array(w)), tensor(REAL), gamma=10.0)
    assert penalty.item() == pytest.approx(5.0 * np.sum(np.square(w)), rel=1e-12)


def test_r1_of_a_quadratic_critic_is_the_mean_squared_norm_of_the_data():
    """D(x) = ||x||^2 / 2 has gradient x: R1 = gamma/2 mean_n ||x_n||^2."""
    penalty = r1_penalty(lambda x: 0.5 * (x * x).sum(1), tensor(REAL), gamma=4.0)
    assert penalty.item() == pytest.approx(2.0 * np.mean(np.sum(REAL ** 2, axis=1)), rel=1e-12)


def _r1_of_conv_weights(weight, bias):
    critic = _conv_critic(weight, bias, tensor(CONV_HEAD))
    return r1_penalty(critic, tensor(CONV_REAL), gamma=10.0)


def test_r1_gradcheck_through_a_conv_critics_weights():
    weight, bias = tensor(CONV_WEIGHT, requires_grad=True), tensor(CONV_BIAS, requires_grad=True)
    assert _r1_of_conv_weights(weight, bias).item() > 1e-3
    assert minigan.gradcheck(_r1_of_conv_weights, (weight, bias))


def test_r1_gradgradcheck_through_a_conv_critic():
    weight, bias = tensor(CONV_WEIGHT, requires_grad=True), tensor(CONV_BIAS, requires_grad=True)
    assert minigan.gradgradcheck(_r1_of_conv_weights, (weight, bias))


def test_r1_does_not_backprop_into_the_data(device):
    real = tensor(REAL, requires_grad=True)
    w = tensor([1.0, 2.0, 3.0], requires_grad=True)
    penalty = r1_penalty(lambda x: (x * w).sum(1), real)
    assert penalty.device == device
    penalty.backward()
    assert real.grad is None
    np.testing.assert_allclose(w.grad.numpy(), 10.0 * np.array([1.0, 2.0, 3.0]), rtol=1e-12)  # d/dw gamma/2 ||w||^2


# ---------------------------------------------------------------- weight clipping

def test_clip_weights_clamps_every_parameter(device):
    module = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 1))
    for p in module.parameters():
        p.data = p.data * 0 + minigan.tensor(np.linspace(-1.0, 1.0, p.numel()).reshape(p.shape).astype(np.float32)).data
    before = [p.numpy().copy() for p in module.parameters()]
    clip_weights(module, 0.05)
    for p, old in zip(module.parameters(), before):
        assert p.device == device and p.dtype == "float32"
        assert p.requires_grad and p.is_leaf
        np.testing.assert_array_equal(p.numpy(), np.clip(old, -0.05, 0.05))
    assert np.max(np.abs(np.concatenate([p.numpy().ravel() for p in module.parameters()]))) == pytest.approx(0.05)


def test_clip_weights_leaves_small_weights_alone_and_records_no_graph():
    module = nn.Linear(2, 2)
    for p in module.parameters():
        p.data = p.data * 0.001
    before = [p.numpy().copy() for p in module.parameters()]
    clip_weights(module, 0.01)
    for p, old in zip(module.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), old)
        assert p.grad_fn is None
