"""minigan.nn.init: gains, fans, the statistics of each fill, PyTorch's default inits, DCGAN's, reproducibility."""

import math

import numpy as np
import pytest

import minigan
from minigan import nn
from minigan.nn import init


def big(*shape):
    return nn.Parameter(minigan.zeros(*shape))


# ---------------------------------------------------------------- gains and fans

@pytest.mark.parametrize("name, param, gain", [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("conv_transpose2d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)), ("selu", None, 0.75),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01 ** 2))), ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
    ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)),
])
def test_calculate_gain(name, param, gain):
    assert init.calculate_gain(name, param) == pytest.approx(gain)


def test_calculate_gain_rejects_unknown_nonlinearities():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("shape, fans", [
    ((20, 30), (30, 20)),  # Linear (out, in)
    ((64, 3, 4, 4), (48, 1024)),  # Conv2d (out, in, kh, kw)
    ((128, 64, 4, 4), (1024, 2048)),  # ConvTranspose2d (in, out, kh, kw): fan_in is out*kh*kw, as PyTorch computes it
])
def test_fans_follow_pytorchs_rule(shape, fans):
    assert init._calculate_fan_in_and_fan_out(minigan.zeros(*shape)) == fans


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="at least 2 dimensions, got shape \\(5,\\)"):
        init.xavier_uniform_(big(5))


# ---------------------------------------------------------------- the statistics of each fill

def stats(t):
    values = t.numpy().astype(np.float64)
    return values.mean(), values.std(), values.min(), values.max()


def test_uniform_and_normal():
    t = big(400, 500)
    assert init.uniform_(t, -2.0, 3.0) is t
    mean, std, low, high = stats(t)
    assert -2.0 <= low and high <= 3.0 and mean == pytest.approx(0.5, abs=0.02) and std == pytest.approx(5 / math.sqrt(12), rel=0.01)
    init.normal_(t, 1.5, 0.3)
    mean, std, _, _ = stats(t)
    assert mean == pytest.approx(1.5, abs=0.003) and std == pytest.approx(0.3, rel=0.01)


def test_constant_zeros_ones():
    t = big(3, 4)
    np.testing.assert_array_equal(init.constant_(t, 2.5).numpy(), np.full((3, 4), 2.5))
    np.testing.assert_array_equal(init.zeros_(t).numpy(), np.zeros((3, 4)))
    np.testing.assert_array_equal(init.ones_(t).numpy(), np.ones((3, 4)))
    assert t.dtype == "float32" and t.requires_grad


@pytest.mark.parametrize("fill, expected_std", [
    (lambda t: init.xavier_uniform_(t), math.sqrt(2 / (300 + 400))),
    (lambda t: init.xavier_uniform_(t, gain=init.calculate_gain("tanh")), 5 / 3 * math.sqrt(2 / 700)),
    (lambda t: init.xavier_normal_(t), math.sqrt(2 / 700)),
    (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2 / 400)),
    (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / 400)),
    (lambda t: init.kaiming_normal_(t, a=0.2, mode="fan_out"), math.sqrt(2 / 1.04) / math.sqrt(300)),
    (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / math.sqrt(3 * 400)),
])
def test_scaled_fills_have_the_formula_standard_deviation(fill, expected_std):
    t = big(300, 400)  # fan_in 400, fan_out 300
    assert fill(t) is t
    mean, std, _, _ = stats(t)
    assert abs(mean) < 0.02 * expected_std and std == pytest.approx(expected_std, rel=0.01)


def test_uniform_fills_reach_their_bound():
    t = big(300, 400)
    init.kaiming_uniform_(t, a=math.sqrt(5))
    _, _, low, high = stats(t)
    bound = 1 / math.sqrt(400)
    assert -bound <= low < -0.99 * bound and 0.99 * bound < high <= bound


def test_bad_mode_and_integer_tensors_are_rejected():
    with pytest.raises(ValueError, match="mode must be 'fan_in'"):
        init.kaiming_normal_(big(3, 3), mode="fan_avg")
    with pytest.raises(TypeError, match="floating-point"):
        init.normal_(minigan.zeros(3, dtype="int64"))


# ---------------------------------------------------------------- PyTorch's default layer init

@pytest.mark.parametrize("make, fan_in", [
    (lambda: nn.Linear(200, 300), 200),
    (lambda: nn.Conv2d(8, 64, 5), 8 * 25),
    (lambda: nn.ConvTranspose2d(64, 16, 4, 2, 1), 16 * 16),  # PyTorch's fan_in of an (in, out, kh, kw) weight
])
def test_default_init_bounds_are_pytorchs(make, fan_in):
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.5 * bound


def test_batchnorm_default_init():
    bn = nn.BatchNorm2d(5)
    np.testing.assert_array_equal(bn.weight.numpy(), np.ones(5))
    np.testing.assert_array_equal(bn.bias.numpy(), np.zeros(5))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(5))
    bn(minigan.randn(4, 5, 2, 2))
    bn.reset_parameters()
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(5))
    assert bn.num_batches_tracked.item() == 0


# ---------------------------------------------------------------- reproducibility

def test_manual_seed_makes_init_reproducible():
    minigan.manual_seed(7)
    a = nn.Sequential(nn.Linear(5, 4), nn.Conv2d(1, 2, 3))
    minigan.manual_seed(7)
    b = nn.Sequential(nn.Linear(5, 4), nn.Conv2d(1, 2, 3))
    minigan.manual_seed(8)
    c = nn.Sequential(nn.Linear(5, 4), nn.Conv2d(1, 2, 3))
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy(), err_msg=name)
        assert not np.array_equal(pa.numpy(), pc.numpy()), name


def test_init_is_the_same_on_the_cpu_and_the_test_device(device):
    if device == "cuda":
        pytest.skip("CuPy draws from its own generator")
    minigan.manual_seed(11)
    here = nn.Linear(6, 3)
    minigan.manual_seed(11)
    on_cpu = nn.Linear(6, 3, device="cpu")
    np.testing.assert_array_equal(here.weight.numpy(), on_cpu.weight.numpy())


# ---------------------------------------------------------------- DCGAN

def test_dcgan_init():
    model = nn.Sequential(
        nn.ConvTranspose2d(100, 64, 4, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Conv2d(64, 64, 4, bias=False), nn.BatchNorm2d(64), nn.Linear(30, 400),
    )
    bias_before = model[5].bias.numpy().copy()
    assert init.dcgan_(model) is model
    for i in (0, 3, 5):
        mean, std, _, _ = stats(model[i].weight)
        assert abs(mean) < 0.001 and std == pytest.approx(0.02, rel=0.03), i
    for i in (1, 4):
        mean, std, _, _ = stats(model[i].weight)
        assert mean == pytest.approx(1.0, abs=0.01) and std == pytest.approx(0.02, rel=0.3), i
        np.testing.assert_array_equal(model[i].bias.numpy(), np.zeros(64))
    np.testing.assert_array_equal(model[5].bias.numpy(), bias_before)  # biases keep their default, as in PyTorch's tutorial


def test_dcgan_weights_with_apply_is_the_same_as_dcgan_():
    minigan.manual_seed(1)
    a = init.dcgan_(nn.Sequential(nn.Conv2d(1, 8, 4), nn.BatchNorm2d(8)))
    minigan.manual_seed(1)
    b = nn.Sequential(nn.Conv2d(1, 8, 4), nn.BatchNorm2d(8)).apply(init.dcgan_weights)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy())
