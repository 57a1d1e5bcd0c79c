"""The five GAN loss pairs on logits: each equals its formula, stays finite at any logit, and gradchecks.

The expected numbers are written here from the papers' formulas with NumPy
(log sigmoid through logaddexp, so the references are exact at moderate logits);
the losses themselves are computed on the session's device.
"""

import warnings

import numpy as np
import pytest

import minigan
from minigan.gan import LOSSES, get_loss
from minigan.gan.losses import GANLoss

NAMES = ["minimax", "non-saturating", "lsgan", "hinge", "wasserstein"]

REAL = np.array([2.0, -0.5, 0.3, 3.1, -1.7])
FAKE = np.array([-1.2, 0.4, -2.5, 0.9])


def tensor(values, dtype="float64", requires_grad=False):
    return minigan.tensor(np.asarray(values, dtype=dtype), dtype=dtype, requires_grad=requires_grad)


def log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def log_one_minus_sigmoid(z):
    return -np.logaddexp(0.0, z)


def expected_losses(name, r, f, s=0.0):
    """(D loss, G loss) from the papers' formulas; s is one-sided label smoothing (real target 1 - s)."""
    t = 1.0 - s
    if name in ("minimax", "non-saturating"):
        d = -np.mean(t * log_sigmoid(r) + (1 - t) * log_one_minus_sigmoid(r)) - np.mean(log_one_minus_sigmoid(f))
        g = np.mean(log_one_minus_sigmoid(f)) if name == "minimax" else -np.mean(log_sigmoid(f))
    elif name == "lsgan":
        d = 0.5 * np.mean((r - t) ** 2) + 0.5 * np.mean(f ** 2)
        g = 0.5 * np.mean((f - 1.0) ** 2)
    elif name == "hinge":
        d = np.mean(np.maximum(0.0, 1.0 - r)) + np.mean(np.maximum(0.0, 1.0 + f))
        g = -np.mean(f)
    else:
        d = np.mean(f) - np.mean(r)
        g = -np.mean(f)
    return d, g


# ---------------------------------------------------------------- formulas

def test_the_registry_holds_the_five_games():
    assert sorted(LOSSES) == sorted(NAMES)
    for name in NAMES:
        loss = get_loss(name)
        assert isinstance(loss, GANLoss) and loss.name == name


@pytest.mark.parametrize("name", NAMES)
def test_each_loss_equals_its_formula(name):
    d_expected, g_expected = expected_losses(name, REAL, FAKE)
    loss = get_loss(name)
    d = loss.discriminator(tensor(REAL), tensor(FAKE))
    g = loss.generator(tensor(FAKE))
    assert d.shape == () and g.shape == ()
    np.testing.assert_allclose(d.item(), d_expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.item(), g_expected, rtol=1e-12, atol=1e-12)


def test_hand_computed_values_at_zero_logits():
    """D outputs 0 everywhere (sigmoid 1/2): the textbook starting values, by hand."""
    zeros = np.zeros(4)
    log2 = np.log(2.0)
    by_hand = {
        "minimax": (2 * log2, -log2),
        "non-saturating": (2 * log2, log2),
        "lsgan": (0.5, 0.5),
        "hinge": (2.0, 0.0),
        "wasserstein": (0.0, 0.0),
    }
    for name, (d_value, g_value) in by_hand.items():
        loss = get_loss(name)
        assert loss.discriminator(tensor(zeros), tensor(zeros)).item() == pytest.approx(d_value, abs=1e-15)
        assert loss.generator(tensor(zeros)).item() == pytest.approx(g_value, abs=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_float32_losses_keep_float32_and_agree(name):
    d_expected, g_expected = expected_losses(name, REAL, FAKE)
    loss = get_loss(name)
    d = loss.discriminator(tensor(REAL, "float32"), tensor(FAKE, "float32"))
    g = loss.generator(tensor(FAKE, "float32"))
    assert d.dtype == "float32" and g.dtype == "float32"
    np.testing.assert_allclose(d.item(), d_expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(g.item(), g_expected, rtol=1e-6, atol=1e-6)


def test_losses_live_on_the_session_device(device):
    for name in NAMES:
        loss = get_loss(name)
        assert loss.discriminator(tensor(REAL), tensor(FAKE)).device == device
        assert loss.generator(tensor(FAKE)).device == device


# ---------------------------------------------------------------- extreme logits

def _losses_and_grads(name, values, dtype):
    """D and G losses at the given logits, their gradients, all as float64 NumPy, with overflow as an error."""
    loss = get_loss(name)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        warnings.simplefilter("error")
        real = tensor(values, dtype, requires_grad=True)
        fake = tensor(values[::-1].copy(), dtype, requires_grad=True)
        d = loss.discriminator(real, fake)
        d.backward()
        fake_g = tensor(values, dtype, requires_grad=True)
        g = loss.generator(fake_g)
        g.backward()
    return [np.asarray(a, dtype=np.float64) for a in (d.numpy(), g.numpy(), real.grad.numpy(), fake.grad.numpy(), fake_g.grad.numpy())]


@pytest.mark.parametrize("name", NAMES)
def test_logits_of_1e4_give_finite_losses_and_gradients_in_float32(name):
    values = np.array([1e4, -1e4, 0.0, 30.0, -30.0])
    for array in _losses_and_grads(name, values, "float32"):
        assert np.all(np.isfinite(array)), f"{name}: {array}"
    d, g, *_ = _losses_and_grads(name, values, "float32")
    d_expected, g_expected = expected_losses(name, values, values[::-1])
    np.testing.assert_allclose(d, d_expected, rtol=1e-5)
    np.testing.assert_allclose(g, g_expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_logits_of_1e30_give_finite_losses_and_gradients_in_float64(name):
    values = np.array([1e30, -1e30, 0.0, 1e4, -1e4])
    for array in _losses_and_grads(name, values, "float64"):
        assert np.all(np.isfinite(array)), f"{name}: {array}"
    d, g, *_ = _losses_and_grads(name, values, "float64")
    d_expected, g_expected = expected_losses(name, values, values[::-1])
    np.testing.assert_allclose(d, d_expected, rtol=1e-12)
    np.testing.assert_allclose(g, g_expected, rtol=1e-12)


def test_bce_gradients_at_extreme_logits_are_the_sigmoid_limits():
    """d/dr of the minimax D loss is (sigmoid(r) - 1)/N: -1/N at r = -1e4, 0 at r = +1e4."""
    real = tensor([-1e4, 1e4], "float32", requires_grad=True)
    fake = tensor([1e4, -1e4], "float32", requires_grad=True)
    get_loss("minimax").discriminator(real, fake).backward()
    np.testing.assert_allclose(real.grad.numpy(), [-0.5, 0.0], atol=1e-7)
    np.testing.assert_allclose(fake.grad.numpy(), [0.5, 0.0], atol=1e-7)


# ---------------------------------------------------------------- the saturation that motivates the non-saturating loss

def _generator_gradient(name, logit):
    fake = tensor([logit], requires_grad=True)
    get_loss(name).generator(fake).backward()
    return float(fake.grad.numpy()[0])


def test_saturating_generator_gradient_vanishes_when_d_rejects_the_fakes():
    grad = _generator_gradient("minimax", -10.0)
    assert abs(grad) < 1e-4
    assert grad == pytest.approx(-1.0 / (1.0 + np.exp(10.0)), rel=1e-9)  # -sigmoid(-10)


def test_non_saturating_generator_gradient_stays_near_one_when_d_rejects_the_fakes():
    grad = _generator_gradient("non-saturating", -10.0)
    assert abs(grad) > 0.99
    assert grad == pytest.approx(-1.0 / (1.0 + np.exp(-10.0)), rel=1e-9)  # -(1 - sigmoid(-10))


def test_both_generator_losses_have_the_same_fixed_point_direction():
    """Both push the fake logit up (negative gradient) at any logit."""
    for logit in (-10.0, -1.0, 0.0, 1.0, 10.0):
        assert _generator_gradient("minimax", logit) < 0
        assert _generator_gradient("non-saturating", logit) < 0


# ---------------------------------------------------------------- one-sided label smoothing

@pytest.mark.parametrize("name", ["minimax", "non-saturating", "lsgan"])
def test_label_smoothing_changes_only_the_real_term(name):
    s = 0.1
    plain, smooth = get_loss(name), get_loss(name, label_smoothing=s)
    assert smooth.label_smoothing == s and smooth.real_target == pytest.approx(0.9)
    d_expected, _ = expected_losses(name, REAL, FAKE, s)
    np.testing.assert_allclose(smooth.discriminator(tensor(REAL), tensor(FAKE)).item(), d_expected, rtol=1e-12)
    # The difference between the smoothed and plain D losses depends on the real logits alone ...
    other_fake = FAKE * 3.0 - 1.0
    diff_1 = smooth.discriminator(tensor(REAL), tensor(FAKE)).item() - plain.discriminator(tensor(REAL), tensor(FAKE)).item()
    diff_2 = (smooth.discriminator(tensor(REAL), tensor(other_fake)).item()
              - plain.discriminator(tensor(REAL), tensor(other_fake)).item())
    assert diff_1 != 0.0
    assert diff_1 == pytest.approx(diff_2, abs=1e-12)
    # ... so the gradient with respect to the fake logits is unchanged, and so is the generator's loss.
    grads = []
    for loss in (plain, smooth):
        fake = tensor(FAKE, requires_grad=True)
        loss.discriminator(tensor(REAL), fake).backward()
        grads.append(fake.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    assert smooth.generator(tensor(FAKE)).item() == plain.generator(tensor(FAKE)).item()


def test_label_smoothing_moves_the_optimum_of_d_on_real_data():
    """With target 1 - s, the BCE real term is minimal where sigmoid(r) = 1 - s (the gradient is zero there)."""
    s = 0.2
    r_star = np.log((1 - s) / s)
    real = tensor([r_star], requires_grad=True)
    get_loss("minimax", label_smoothing=s).discriminator(real, tensor([0.0])).backward()
    assert abs(real.grad.numpy()[0]) < 1e-12


@pytest.mark.parametrize("name", ["hinge", "wasserstein"])
def test_label_smoothing_is_refused_for_critic_losses(name):
    with pytest.raises(ValueError, match=name) as info:
        get_loss(name, label_smoothing=0.1)
    assert "smoothing" in str(info.value) and "--label-smoothing 0" in str(info.value)  # and how to turn it off
    assert get_loss(name, label_smoothing=0.0).label_smoothing == 0.0


@pytest.mark.parametrize("smoothing", [-0.1, 1.0, 1.5])
def test_label_smoothing_outside_0_1_is_refused(smoothing):
    with pytest.raises(ValueError, match="label_smoothing"):
        get_loss("non-saturating", label_smoothing=smoothing)


def test_get_loss_with_an_unknown_name_names_the_choices():
    with pytest.raises(ValueError) as info:
        get_loss("wgan")
    message = str(info.value)
    assert "'wgan'" in message
    for name in NAMES:
        assert name in message


def test_repr_names_the_loss_and_its_smoothing():
    assert repr(get_loss("lsgan")) == "LeastSquares()"
    assert repr(get_loss("minimax", 0.1)) == "Minimax(label_smoothing=0.1)"


def test_uses_probabilities_only_for_the_bce_games():
    assert {name for name in NAMES if get_loss(name).uses_probabilities} == {"minimax", "non-saturating"}


# ---------------------------------------------------------------- gradient checks

# Away from hinge's kinks at r = 1 and f = -1.
GC_REAL = np.array([1.7, -0.6, 0.2])
GC_FAKE = np.array([-1.4, 0.5, -0.3, 2.2])


@pytest.mark.parametrize("name, smoothing", [(name, 0.0) for name in NAMES]
                         + [("minimax", 0.1), ("non-saturating", 0.1), ("lsgan", 0.1)])
def test_gradcheck_every_loss(name, smoothing):
    loss = get_loss(name, smoothing)
    real, fake = tensor(GC_REAL, requires_grad=True), tensor(GC_FAKE, requires_grad=True)
    assert minigan.gradcheck(loss.discriminator, (real, fake))
    assert minigan.gradcheck(loss.generator, (fake,))


@pytest.mark.parametrize("name", NAMES)
def test_gradgradcheck_every_loss(name):
    loss = get_loss(name)
    real, fake = tensor(GC_REAL, requires_grad=True), tensor(GC_FAKE, requires_grad=True)
    assert minigan.gradgradcheck(loss.discriminator, (real, fake))
    assert minigan.gradgradcheck(loss.generator, (fake,))
