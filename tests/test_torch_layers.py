"""Every layer against PyTorch's, when torch is installed: same weights in, same outputs and gradients out.

Weights travel through state dicts (minigan -> torch), which also checks that the
keys and shapes match. Everything runs in float64, so the tolerances are tight.
minigan never imports torch; only this test file does.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
from minigan import nn

torch = pytest.importorskip("torch")
from test_layer_gradcheck import conv_configs  # noqa: E402  (the valid-configuration strategy, shared)


def to_torch_state(module):
    return {key: torch.from_numpy(np.array(value.numpy())) for key, value in module.state_dict().items()}


def close(mine, theirs, name="", rtol=1e-9, atol=1e-10):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(mine.numpy(), theirs, rtol=rtol, atol=atol, err_msg=name)


def compare(mine, theirs, x_shape, training=True, seed=0):
    """Copy minigan's (randomized) weights into the torch layer, run both forward and backward, compare all."""
    rng = np.random.default_rng(seed)
    mine.double().train(training)
    theirs.double().train(training)
    for p in mine.parameters():  # away from the default init, so a swapped or transposed weight shows
        p.data = minigan.tensor(rng.standard_normal(p.shape), dtype="float64", device=p.device).data
    for name, b in mine.named_buffers():
        if name.endswith("running_mean"):
            b.data = minigan.tensor(rng.standard_normal(b.shape), dtype="float64", device=b.device).data
        elif name.endswith("running_var"):
            b.data = minigan.tensor(rng.uniform(0.5, 2.0, b.shape), dtype="float64", device=b.device).data
    theirs.load_state_dict(to_torch_state(mine), strict=True)

    x = rng.standard_normal(x_shape)
    x_mine = minigan.tensor(x, dtype="float64", requires_grad=True)
    x_theirs = torch.tensor(x, requires_grad=True)
    y_mine, y_theirs = mine(x_mine), theirs(x_theirs)
    assert y_mine.shape == tuple(y_theirs.shape)
    close(y_mine, y_theirs, "output")

    g = rng.standard_normal(y_mine.shape)
    y_mine.backward(minigan.tensor(g, dtype="float64"))
    y_theirs.backward(torch.tensor(g))
    close(x_mine.grad, x_theirs.grad, "input gradient")
    their_parameters = dict(theirs.named_parameters())
    assert [name for name, _ in mine.named_parameters()] == list(their_parameters)
    for name, p in mine.named_parameters():
        close(p.grad, their_parameters[name].grad, name)
    their_state = theirs.state_dict()
    for name, value in mine.state_dict().items():  # running statistics after the step
        close(value, their_state[name], name, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- one layer at a time

@settings(max_examples=10)
@given(conv_configs())
def test_conv2d(drawn):
    config, shape = drawn
    compare(nn.Conv2d(**config), torch.nn.Conv2d(**config), shape)


@settings(max_examples=10)
@given(conv_configs(transposed=True))
def test_conv_transpose2d(drawn):
    config, shape = drawn
    compare(nn.ConvTranspose2d(**config), torch.nn.ConvTranspose2d(**config), shape)


@settings(max_examples=10)
@given(st.integers(1, 5), st.integers(1, 5), st.booleans(), st.lists(st.integers(1, 3), max_size=2))
def test_linear(in_features, out_features, bias, lead):
    compare(nn.Linear(in_features, out_features, bias), torch.nn.Linear(in_features, out_features, bias), (*lead, in_features))


@settings(max_examples=20)
@given(
    kind=st.sampled_from(["1d", "1d with length", "2d"]), n=st.integers(2, 4), c=st.integers(1, 3),
    training=st.booleans(), affine=st.booleans(), track=st.booleans(),
    momentum=st.sampled_from([0.1, 0.5, None]), eps=st.sampled_from([1e-5, 1e-3]),
)
def test_batchnorm(kind, n, c, training, affine, track, momentum, eps):
    options = dict(eps=eps, momentum=momentum, affine=affine, track_running_stats=track)
    if kind == "2d":
        mine, theirs, shape = nn.BatchNorm2d(c, **options), torch.nn.BatchNorm2d(c, **options), (n, c, 3, 2)
    else:
        mine, theirs = nn.BatchNorm1d(c, **options), torch.nn.BatchNorm1d(c, **options)
        shape = (n, c, 3) if kind == "1d with length" else (n, c)
    compare(mine, theirs, shape, training)
    if track and training:  # a second step, so momentum=None's cumulative average is exercised
        compare(mine, theirs, shape, training, seed=1)


@pytest.mark.parametrize("mine, theirs", [
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Flatten(), torch.nn.Flatten()),
    (nn.Flatten(0, 2), torch.nn.Flatten(0, 2)),
    (nn.Unflatten(1, (2, 3)), torch.nn.Unflatten(1, (2, 3))),
], ids=repr)
@pytest.mark.parametrize("training", [True, False])
def test_parameter_free_layers(mine, theirs, training):
    compare(mine, theirs, (4, 6, 2), training)


def test_dropout_in_eval_mode_and_with_p_zero():
    compare(nn.Dropout(0.5), torch.nn.Dropout(0.5), (4, 5), training=False)
    compare(nn.Dropout(0.0), torch.nn.Dropout(0.0), (4, 5), training=True)
    # In training with p > 0 the masks come from different generators; the scale must agree.
    ours = nn.Dropout(0.25)(minigan.ones(1000)).numpy()
    theirs = torch.nn.Dropout(0.25)(torch.ones(1000)).numpy()
    np.testing.assert_allclose(np.unique(ours), np.unique(theirs), rtol=1e-6)


def test_fans_and_default_init_bounds_agree_with_torch():
    for shape in [(20, 30), (64, 3, 4, 4), (128, 64, 4, 4)]:
        ours = nn.init._calculate_fan_in_and_fan_out(minigan.zeros(*shape))
        assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape)), shape
    for mine, theirs in [(nn.ConvTranspose2d(64, 16, 4, 2, 1), torch.nn.ConvTranspose2d(64, 16, 4, 2, 1)),
                         (nn.Conv2d(8, 4, 3), torch.nn.Conv2d(8, 4, 3)), (nn.Linear(50, 7), torch.nn.Linear(50, 7))]:
        fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(theirs.weight)
        bound = 1 / np.sqrt(fan_in)  # both the weight's and the bias's bound, in PyTorch's reset_parameters
        for (name, p), q in zip(mine.named_parameters(), theirs.parameters()):
            ours, their_max = np.abs(p.numpy()).max(), float(q.detach().abs().max())
            assert ours <= bound and their_max <= bound, (mine, name)
            if name == "weight":  # enough samples to come close to the bound
                assert ours > 0.9 * bound and their_max > 0.9 * bound, (mine, name)


# ---------------------------------------------------------------- whole models

def dcgan(lib):
    return lib.Sequential(
        lib.Linear(100, 128 * 7 * 7), lib.Unflatten(1, (128, 7, 7)), lib.BatchNorm2d(128), lib.ReLU(),
        lib.ConvTranspose2d(128, 64, 4, 2, 1), lib.BatchNorm2d(64), lib.ReLU(),
        lib.ConvTranspose2d(64, 1, 4, 2, 1), lib.Tanh(),
    )


def critic(lib):
    return lib.Sequential(
        lib.Conv2d(1, 8, 4, 2, 1, bias=False), lib.LeakyReLU(0.2), lib.Dropout(0.0),
        lib.Conv2d(8, 16, 4, 2, 1, bias=False), lib.BatchNorm2d(16), lib.LeakyReLU(0.2),
        lib.Flatten(), lib.Linear(16 * 7 * 7, 1),
    )


@pytest.mark.parametrize("build, x_shape", [(dcgan, (3, 100)), (critic, (3, 1, 28, 28))], ids=["generator", "critic"])
@pytest.mark.parametrize("training", [True, False])
def test_whole_models_match(build, x_shape, training):
    compare(build(nn), build(torch.nn), x_shape, training)


def test_a_minigan_state_dict_loads_into_torch_with_the_same_keys(tmp_path):
    mine, theirs = dcgan(nn), dcgan(torch.nn)
    mine(minigan.randn(4, 100))  # running statistics and num_batches_tracked move
    assert list(mine.state_dict()) == list(theirs.state_dict())
    nn.save(mine, tmp_path / "g.npz")
    saved = nn.load(tmp_path / "g.npz")
    result = theirs.load_state_dict({k: torch.from_numpy(v) for k, v in saved.items()}, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert theirs[2].num_batches_tracked.dtype == torch.int64 and int(theirs[2].num_batches_tracked) == 1
    mine.eval(), theirs.eval()
    z = np.random.default_rng(0).standard_normal((2, 100)).astype(np.float32)
    np.testing.assert_allclose(mine(minigan.tensor(z)).numpy(), theirs(torch.from_numpy(z)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_a_torch_state_dict_loads_into_minigan():
    mine, theirs = critic(nn), critic(torch.nn)
    mine.load_state_dict(theirs.state_dict())
    for name, value in mine.state_dict().items():
        close(value, theirs.state_dict()[name], name, rtol=0, atol=0)
