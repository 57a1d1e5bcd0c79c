"""The stabilization techniques: each does what its paper says, reaches the trainer, and has a CLI switch.

Instance noise, feature matching, historical averaging, unrolling, packing, D's
dropout / minibatch std / spectral norm, the saturating game, TTUR and n_critic,
clipping, and the time budget. What is tested elsewhere is not repeated here:
the five losses and label smoothing in test_gan_losses.py, the gradient penalties
and weight clipping in test_penalties.py, the optimizers, gradient clipping and EMA
in test_optim.py, the schedules in test_lr_scheduler.py, the layers themselves in
test_spectral_norm.py and test_minibatch_std.py, and the batch-size-must-divide-by-pack
check in test_trainer.py. Runs are tiny (MLPs of 16 units, a few steps).
"""

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

import minigan
from minigan import backend, nn
from minigan.cli import main
from minigan.config import resolve
from minigan.gan import get_loss
from minigan.gan.checkpoint import load_checkpoint
from minigan.gan.commands import OVERRIDES
from minigan.gan.losses import Minimax, NonSaturating
from minigan.gan.models import DCGANDiscriminator, MLPDiscriminator, apply_spectral_norm, build_models
from minigan.gan.techniques import HistoricalAverage, add_instance_noise, feature_matching_loss, instance_noise_std
from minigan.gan.trainer import Trainer
from minigan.gan.unrolled import unrolled_generator_loss
from minigan.nn.spectral_norm import SpectralNorm
from minigan.nn.stateless import functional_call


def tiny(preset="ring", **overrides):
    """A ring run small enough for a unit test, on the session's device; overrides as section__key=value."""
    base = {
        "train.steps": 6, "train.batch_size": 64, "train.progress": False, "train.eval_samples": 200,
        "train.checkpoint_every": 1000, "train.sample_every": 1000, "train.device": backend.get_device(),
        "optim.lr_schedule": "constant", "data.n_samples": 2000, "model.hidden": 16, "model.d_hidden": 16,
        "model.layers": 2,
    }
    return resolve(preset, overrides={**base, **{k.replace("__", "."): v for k, v in overrides.items()}})


def quiet_trainer(config, out, resume=False):
    return Trainer(config, out, resume=resume, log=lambda message: None)


def tensor(values, requires_grad=False):
    return minigan.tensor(np.asarray(values, dtype=np.float64), dtype="float64", requires_grad=requires_grad)


def weights(trainer):
    arrays = {f"generator/{k}": v.numpy() for k, v in trainer.generator.state_dict().items()}
    arrays.update({f"discriminator/{k}": v.numpy() for k, v in trainer.discriminator.state_dict().items()})
    return arrays


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def read_metrics(out):
    return [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(autouse=True)
def fast_plots(monkeypatch):
    """matplotlib costs more than a tiny run: stand-ins write a marker file at the same paths."""
    from minigan.gan import plots

    def touch(path):
        Path(path).write_bytes(b"plot")

    monkeypatch.setattr(plots, "save_scatter", lambda samples, data, path, *args, **kwargs: touch(path))
    monkeypatch.setattr(plots, "save_image_grid", lambda images, path, *args, **kwargs: touch(path))
    monkeypatch.setattr(plots, "save_loss_plot", lambda metrics, path, *args, **kwargs: touch(path))
    monkeypatch.setattr(plots, "save_eval_plot", lambda metrics, path, *args, **kwargs: None)


@pytest.fixture(autouse=True)
def _session_device():
    """The trainer sets the global device: put the session's back after each test."""
    device = backend.get_device()
    yield
    backend.set_device(device)


def spy_on_inputs(module):
    """Every input ``module`` is called with, as a NumPy array, in call order."""
    seen = []
    module.register_forward_pre_hook(lambda m, inputs: seen.append(np.array(inputs[0].numpy(), copy=True)))
    return seen


# ---------------------------------------------------------------- instance noise (Sønderby et al. 2017)

def test_instance_noise_anneals_linearly_from_sigma0_to_zero():
    sigmas = [instance_noise_std(0.4, t, 10) for t in range(11)]
    np.testing.assert_allclose(sigmas, 0.4 * (1 - np.arange(11) / 10), rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.diff(sigmas), -0.04, atol=1e-15)  # linear: equal decrements
    assert sigmas[0] == 0.4 and sigmas[-1] == 0.0
    assert instance_noise_std(0.4, 12, 10) == 0.0  # past the end it stays off, never negative
    assert instance_noise_std(0.0, 3, 10) == 0.0


def test_instance_noise_has_the_requested_std_and_zero_std_changes_nothing():
    x = minigan.full((200_000,), 3.0, dtype="float64")
    noise = add_instance_noise(x, 0.3).numpy() - 3.0
    assert add_instance_noise(x, 0.3).dtype == "float64"
    # 200,000 draws: the sample std is within 0.3 / sqrt(400,000) ~ 5e-4 of 0.3 (one s.e.); allow 6.
    assert abs(noise.std() - 0.3) < 3e-3 and abs(noise.mean()) < 5e-3
    assert add_instance_noise(x, 0.0) is x


def test_instance_noise_comes_from_the_seeded_generator():
    x = minigan.zeros(5, 2)
    minigan.manual_seed(3)
    a = add_instance_noise(x, 1.0).numpy()
    minigan.manual_seed(3)
    np.testing.assert_array_equal(a, add_instance_noise(x, 1.0).numpy())


def _inputs_of_one_step(tmp_path, sigma0, step):
    """(real batch, what D saw in one train_step) for a run with instance noise sigma0, at ``step`` of 10."""
    trainer = quiet_trainer(tiny(loss__instance_noise=sigma0, train__batch_size=1024, train__steps=10), tmp_path)
    seen = spy_on_inputs(trainer.discriminator)
    real = minigan.tensor(trainer.data[:1024])
    trainer.step = step
    trainer.train_step(iter([real]))
    return real.numpy(), seen


@pytest.mark.parametrize("step, sigma", [(0, 0.5), (5, 0.25)])
def test_the_discriminator_sees_noisy_inputs_with_the_annealed_std(step, sigma, tmp_path):
    """D's calls in one step: real (D step), fake (D step), fake again (G step), each with fresh noise."""
    real, seen = _inputs_of_one_step(tmp_path, 0.5, step)
    assert len(seen) == 3
    # 2,048 draws: the std is within ~1.6% (one s.e.) of sigma; allow 10%.
    assert abs((seen[0] - real).std() - sigma) < 0.1 * sigma
    # Both players' steps see the same fakes, each with its own noise: the difference has std sigma sqrt(2).
    assert abs((seen[2] - seen[1]).std() - sigma * math.sqrt(2)) < 0.1 * sigma


def test_without_instance_noise_the_discriminator_sees_the_samples_themselves(tmp_path):
    real, seen = _inputs_of_one_step(tmp_path, 0.0, 0)
    np.testing.assert_array_equal(seen[0], real)
    np.testing.assert_array_equal(seen[1], seen[2])


# ---------------------------------------------------------------- feature matching (Salimans et al. 2016)

def test_feature_matching_is_the_squared_distance_between_mean_features():
    rng = np.random.default_rng(0)
    fr, ff = rng.standard_normal((8, 5)), rng.standard_normal((6, 5))
    loss = feature_matching_loss(tensor(fr), tensor(ff))
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), np.sum((fr.mean(0) - ff.mean(0)) ** 2), rtol=1e-12)
    assert feature_matching_loss(tensor(fr), tensor(fr)).item() == 0.0


def test_feature_matching_pulls_only_the_fakes():
    """The real features are a fixed target: d/d f_fake = -2 (mean_r - mean_f) / n_fake, and nothing for real."""
    rng = np.random.default_rng(1)
    fr, ff = rng.standard_normal((8, 5)), rng.standard_normal((6, 5))
    real, fake = tensor(fr, requires_grad=True), tensor(ff, requires_grad=True)
    feature_matching_loss(real, fake).backward()
    assert real.grad is None
    expected = np.broadcast_to(-2 * (fr.mean(0) - ff.mean(0)) / 6, ff.shape)
    np.testing.assert_allclose(fake.grad.numpy(), expected, rtol=1e-12)
    assert minigan.gradcheck(lambda f: feature_matching_loss(tensor(fr), f), (fake,))


def test_a_few_sgd_steps_of_a_generator_reduce_feature_matching():
    from minigan.data import mixture_modes, sample_mixture

    discriminator = MLPDiscriminator(2, 8, 2).double().requires_grad_(False)
    generator = nn.Linear(2, 2).double()
    modes, std = mixture_modes("ring")
    real = tensor(sample_mixture(modes, std, 256, seed=0))
    z = minigan.randn(256, 2, dtype="float64")
    optimizer = minigan.optim.SGD(generator.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        loss = feature_matching_loss(discriminator.features(real), discriminator.features(generator(z)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def _last_linear(d):
    return [m for m in d.modules() if isinstance(m, nn.Linear)][-1]


@pytest.mark.parametrize("arch, shape", [("mlp", (8, 2)), ("image-mlp", (8, 1, 28, 28)), ("dcgan", (8, 1, 28, 28))])
def test_features_are_the_input_of_the_last_linear_layer(arch, shape):
    config = tiny(model__architecture=arch, model__width=2, model__minibatch_std=4, model__d_dropout=0.5)
    _, d = build_models(config)
    d.eval()
    x = minigan.randn(*shape)
    last_input = spy_on_inputs(_last_linear(d))
    scores = d(x)
    features = d.features(x)
    assert features.shape == (8, _last_linear(d).in_features)
    np.testing.assert_array_equal(features.numpy(), last_input[0])
    np.testing.assert_allclose(scores.numpy(), _last_linear(d)(features).reshape(-1).numpy(), rtol=1e-6, atol=1e-6)


def test_the_trainer_gives_the_generator_the_feature_matching_loss(tmp_path):
    trainer = quiet_trainer(tiny(loss__feature_matching=True), tmp_path)
    d, captured = trainer.discriminator, []
    original = d.features

    def features(x):
        out = original(x)
        captured.append(out.numpy().copy())
        return out

    d.features = features
    numbers = trainer.train_step(iter([minigan.tensor(trainer.data[:64])]))
    real_features, fake_features = captured
    expected = np.sum((real_features.mean(0) - fake_features.mean(0)) ** 2)
    np.testing.assert_allclose(numbers["g_loss"], expected, rtol=1e-4)


# ---------------------------------------------------------------- historical averaging (Salimans et al. 2016)

def _move(module, rng):
    with minigan.no_grad():
        for p in module.parameters():
            p.data = p.data + backend.asarray(rng.standard_normal(p.shape), dtype=p.dtype, device=p.device)


def test_historical_means_are_the_mean_of_every_value_after_each_update():
    layer, rng = nn.Linear(3, 2).double(), np.random.default_rng(0)
    history, seen = HistoricalAverage(layer), []
    for _ in range(4):
        _move(layer, rng)
        history.update()
        seen.append([p.numpy().copy() for p in layer.parameters()])
        for mean, values in zip(history.means, zip(*seen)):
            np.testing.assert_allclose(backend.to_numpy(mean), np.mean(values, axis=0), rtol=1e-12, atol=1e-14)
    assert history.count == 4


def test_the_historical_penalty_and_its_gradient():
    """penalty = sum ||theta - mean||^2, so its gradient is 2 (theta - mean)."""
    layer, rng = nn.Linear(3, 2).double(), np.random.default_rng(1)
    history = HistoricalAverage(layer)
    for _ in range(3):
        _move(layer, rng)
        history.update()
    _move(layer, rng)
    means = [backend.to_numpy(m) for m in history.means]
    penalty = history.penalty()
    expected = sum(np.sum((p.numpy() - m) ** 2) for p, m in zip(layer.parameters(), means))
    np.testing.assert_allclose(penalty.item(), expected, rtol=1e-12)
    penalty.backward()
    for p, m in zip(layer.parameters(), means):
        np.testing.assert_allclose(p.grad.numpy(), 2 * (p.numpy() - m), rtol=1e-12)


def test_historical_average_state_dict_round_trip():
    layer, rng = nn.Linear(3, 2).double(), np.random.default_rng(2)
    history = HistoricalAverage(layer)
    for _ in range(3):
        _move(layer, rng)
        history.update()
    restored = HistoricalAverage(copy.deepcopy(layer))
    restored.load_state_dict(history.state_dict())
    assert restored.count == 3
    for a, b in zip(history.means, restored.means):
        np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b))
    _move(layer, rng)
    with minigan.no_grad():
        for p, q in zip(restored.module.parameters(), layer.parameters()):
            p.data = q.data
    history.update()
    restored.update()
    for a, b in zip(history.means, restored.means):
        np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b))
    np.testing.assert_array_equal(history.penalty().numpy(), restored.penalty().numpy())


@pytest.mark.parametrize("forget", [False, True], ids=["exact", "forgetting-the-averages-shows"])
def test_a_historical_averaging_run_resumes_exactly(forget, tmp_path, monkeypatch):
    """Stopped at step 4 of 8 and resumed: the same weights as a run never stopped, averages included."""
    options = dict(loss__historical_averaging=0.1)
    whole = quiet_trainer(tiny(train__steps=8, **options), tmp_path / "whole")
    whole.train()
    quiet_trainer(tiny(train__steps=4, train__checkpoint_every=4, **options), tmp_path / "split").train()
    state = load_checkpoint(tmp_path / "split" / "checkpoints" / "step-0000004.npz")
    assert [h["count"] for h in state["historical_averages"]] == [4, 4]
    if forget:
        monkeypatch.setattr(HistoricalAverage, "load_state_dict", lambda self, saved: None)
    resumed = quiet_trainer(tiny(train__steps=8, train__checkpoint_every=4, **options), tmp_path / "split", resume=True)
    resumed.train()
    a, b = weights(whole), weights(resumed)
    if forget:
        assert not all(np.array_equal(a[k], b[k]) for k in a)
    else:
        assert_identical(a, b)


# ---------------------------------------------------------------- unrolled GAN (Metz et al. 2017)

@pytest.fixture
def game():
    """A float64 MLP discriminator, real samples and fake samples that require a gradient."""
    rng = np.random.default_rng(0)
    d = MLPDiscriminator(2, 5, 2).double()
    real = tensor(rng.standard_normal((6, 2)))
    fake = tensor(rng.standard_normal((6, 2)), requires_grad=True)
    return d, get_loss("non-saturating"), real, fake


def unroll_by_hand(d, loss, real, fake, steps, lr):
    """A copy of D after ``steps`` plain gradient steps theta <- theta - lr grad L_D, made one by one."""
    d = copy.deepcopy(d)
    for _ in range(steps):
        params = list(d.parameters())
        grads = minigan.grad(loss.discriminator(d(real), d(fake.detach())), params)
        with minigan.no_grad():
            for p, g in zip(params, grads):
                p.data = p.data - lr * g.data
    return d


def test_zero_unrolled_steps_is_the_ordinary_generator_loss(game):
    d, loss, real, fake = game
    unrolled = unrolled_generator_loss(d, loss, real, fake, 0, 0.5)
    assert unrolled.item() == loss.generator(d(fake)).item()


@pytest.mark.parametrize("steps", [1, 3])
def test_the_unrolled_loss_is_the_loss_against_d_after_k_steps(game, steps):
    d, loss, real, fake = game
    unrolled = unrolled_generator_loss(d, loss, real, fake, steps, 0.5)
    ahead = unroll_by_hand(d, loss, real, fake, steps, 0.5)
    np.testing.assert_allclose(unrolled.item(), loss.generator(ahead(fake)).item(), rtol=1e-12)
    assert unrolled.item() != loss.generator(d(fake)).item()


def test_gradients_flow_through_the_unrolling(game):
    """gradcheck perturbs the fakes, which moves D's unrolled weights: it passes only with the second-order terms.

    The gradient is neither the ordinary one nor the first-order one (D's unrolled weights held fixed).
    """
    d, loss, real, fake = game
    assert minigan.gradcheck(lambda f: unrolled_generator_loss(d, loss, real, f, 2, 0.5), (fake,))
    (unrolled,) = minigan.grad(unrolled_generator_loss(d, loss, real, fake, 2, 0.5), [fake])
    (ordinary,) = minigan.grad(loss.generator(d(fake)), [fake])
    ahead = unroll_by_hand(d, loss, real, fake, 2, 0.5)
    (first_order,) = minigan.grad(loss.generator(ahead(fake)), [fake])
    assert np.abs(unrolled.numpy() - ordinary.numpy()).max() > 1e-4
    assert np.abs(unrolled.numpy() - first_order.numpy()).max() > 1e-6


def _adam_after_two_steps(d, loss, real, fake):
    """D's Adam after two real updates, so its moments and step count are not trivial."""
    opt = minigan.optim.Adam(d.parameters(), lr=0.05, betas=(0.5, 0.9))
    for _ in range(2):
        opt.zero_grad()
        loss.discriminator(d(real), d(fake.detach())).backward()
        opt.step()
    return opt


@pytest.mark.parametrize("steps", [1, 3])
def test_the_adam_look_ahead_is_where_d_s_own_adam_goes(game, steps):
    """With D's Adam, unrolling k steps lands where k more real Adam steps would take D."""
    d, loss, real, fake = game
    opt = _adam_after_two_steps(d, loss, real, fake)
    unrolled = unrolled_generator_loss(d, loss, real, fake, steps, 0.05, optimizer=opt)
    ahead, ahead_opt = copy.deepcopy(d), None
    ahead_opt = minigan.optim.Adam(ahead.parameters(), lr=0.05, betas=(0.5, 0.9))
    ahead_opt.load_state_dict(opt.state_dict())
    for _ in range(steps):
        ahead_opt.zero_grad()
        loss.discriminator(ahead(real), ahead(fake.detach())).backward()
        ahead_opt.step()
    np.testing.assert_allclose(unrolled.item(), loss.generator(ahead(fake)).item(), rtol=1e-10)
    plain = unrolled_generator_loss(d, loss, real, fake, steps, 0.05)
    assert abs(plain.item() - unrolled.item()) > 1e-6  # the rule matters


def test_gradients_flow_through_the_adam_look_ahead(game):
    d, loss, real, fake = game
    opt = _adam_after_two_steps(d, loss, real, fake)
    assert minigan.gradcheck(lambda f: unrolled_generator_loss(d, loss, real, f, 2, 0.05, optimizer=opt), (fake,))
    fresh = minigan.optim.Adam(d.parameters(), lr=0.05)  # no moments yet: the look-ahead starts them at zero
    assert minigan.gradcheck(lambda f: unrolled_generator_loss(d, loss, real, f, 2, 0.05, optimizer=fresh), (fake,))


def test_the_adam_look_ahead_refuses_amsgrad(game):
    d, loss, real, fake = game
    with pytest.raises(ValueError, match="amsgrad"):
        unrolled_generator_loss(d, loss, real, fake, 1, 0.1, optimizer=minigan.optim.Adam(d.parameters(), amsgrad=True))


@pytest.mark.parametrize("kind", ["spectral-norm", "batch-norm"])
def test_unrolling_leaves_the_discriminator_as_it_was(kind):
    """Its Parameters (the same objects, with no gradient), and buffers a training-mode call would move."""
    if kind == "spectral-norm":
        d, x_shape = apply_spectral_norm(MLPDiscriminator(2, 5, 2)), (8, 2)
    else:
        d, x_shape = DCGANDiscriminator(width=2), (4, 1, 28, 28)
    before = {k: v.numpy().copy() for k, v in d.state_dict().items()}
    params = list(d.parameters())
    real, fake = minigan.randn(*x_shape), minigan.randn(*x_shape, requires_grad=True)
    loss = unrolled_generator_loss(d, get_loss("non-saturating"), real, fake, 2, 0.1)
    loss.backward()
    assert fake.grad is not None
    assert all(a is b for a, b in zip(d.parameters(), params))
    assert all(p.grad is None and p.requires_grad for p in d.parameters())
    after = d.state_dict()
    assert after.keys() == before.keys()
    assert any("running_mean" in k or "weight_u" in k for k in after)
    for k in before:
        np.testing.assert_array_equal(after[k].numpy(), before[k], err_msg=k)


def test_functional_call_runs_the_module_with_the_given_weights():
    layer = nn.Linear(3, 2).double()
    rng = np.random.default_rng(0)
    w, b = tensor(rng.standard_normal((2, 3)), requires_grad=True), tensor(rng.standard_normal(2), requires_grad=True)
    x = rng.standard_normal((4, 3))
    out = functional_call(layer, {"weight": w, "bias": b}, tensor(x))
    np.testing.assert_allclose(out.numpy(), x @ w.numpy().T + b.numpy(), rtol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.broadcast_to(x.sum(0), (2, 3)), rtol=1e-12)
    assert layer.weight.grad is None and layer.bias.grad is None


class Boom(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(2, 2)

    def forward(self, x):
        self.inner(x)
        raise RuntimeError("boom")


def test_functional_call_restores_the_parameters_even_when_forward_raises():
    module = Boom()
    weight, bias = module.inner.weight, module.inner.bias
    with pytest.raises(RuntimeError, match="boom"):
        functional_call(module, {"inner.weight": minigan.zeros(2, 2)}, minigan.ones(1, 2))
    assert module.inner.weight is weight and module.inner.bias is bias
    with pytest.raises(KeyError, match="nope"):
        functional_call(module, {"inner.weight": minigan.zeros(2, 2), "inner.nope": minigan.zeros(2)}, minigan.ones(1, 2))
    with pytest.raises(KeyError, match="outer"):
        functional_call(module, {"outer.weight": minigan.zeros(2, 2)}, minigan.ones(1, 2))
    assert module.inner.weight is weight and list(module.parameters()) == [weight, bias]


# ---------------------------------------------------------------- packing (PacGAN, Lin et al. 2018)

def test_a_packed_discriminator_judges_pack_samples_at_once(tmp_path):
    _, d = build_models(tiny(model__pack=3))
    assert d.net[0].in_features == 3 * 2
    trainer = quiet_trainer(tiny(model__pack=2), tmp_path)
    seen = spy_on_inputs(trainer.discriminator.net[0])
    real = minigan.tensor(trainer.data[:64])
    trainer.train_step(iter([real]))
    assert [s.shape for s in seen] == [(32, 4)] * 3
    np.testing.assert_array_equal(seen[0], real.numpy().reshape(32, 4))  # consecutive pairs, side by side


@pytest.mark.parametrize("arch", ["dcgan", "dcgan-critic", "image-mlp"])
def test_a_packed_image_discriminator_sees_the_pack_as_channels(arch, tmp_path, monkeypatch):
    import minigan.gan.trainer as trainer_module

    images = np.tanh(np.random.default_rng(0).standard_normal((48, 1, 28, 28))).astype(np.float32)
    monkeypatch.setattr(trainer_module, "build_data", lambda config: (images, {"kind": "image"}))
    config = tiny("mnist-dcgan", model__architecture=arch, model__width=4, model__latent_dim=8, model__pack=3,
                  train__batch_size=12, optim__n_critic=1)
    _, d = build_models(config)
    first = d.net[1].in_features // (28 * 28) if arch == "image-mlp" else d.net[0].in_channels
    assert first == 3
    trainer = quiet_trainer(config, tmp_path)
    seen = spy_on_inputs(trainer.discriminator.net[0])
    real = minigan.tensor(images[:12])
    trainer.train_step(iter([real]))
    assert [s.shape for s in seen] == [(4, 3, 28, 28)] * 3  # real, fake for D; fake for G
    np.testing.assert_array_equal(seen[0][1, 2], images[5, 0])  # pack 1 holds images 3, 4, 5 as its channels


# ---------------------------------------------------------------- the discriminator's options

@pytest.mark.parametrize("arch", ["mlp", "image-mlp", "dcgan"])
def test_d_dropout_puts_dropout_after_each_hidden_activation(arch):
    g, d = build_models(tiny(model__architecture=arch, model__width=2, model__d_dropout=0.3))
    layers = list(d.net)
    dropouts = [i for i, m in enumerate(layers) if isinstance(m, nn.Dropout)]
    activations = [i for i, m in enumerate(layers) if isinstance(m, nn.LeakyReLU)]
    assert dropouts == [i + 1 for i in activations] and len(dropouts) == 2
    assert all(layers[i].p == 0.3 for i in dropouts)
    assert not any(isinstance(m, nn.Dropout) for m in g.modules())
    _, plain = build_models(tiny(model__architecture=arch, model__width=2))
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())


@pytest.mark.parametrize("arch, shape, features", [
    ("mlp", (8, 2), 16 + 1), ("image-mlp", (8, 1, 28, 28), 256 + 1), ("dcgan", (8, 1, 28, 28), (2 * 2 + 1) * 49)])
def test_minibatch_std_is_one_more_feature_before_the_score(arch, shape, features):
    _, d = build_models(tiny(model__architecture=arch, model__width=2, model__minibatch_std=4))
    stds = [m for m in d.modules() if isinstance(m, nn.MinibatchStdDev)]
    assert len(stds) == 1 and stds[0].group_size == 4
    assert _last_linear(d).in_features == features
    layers = list(d.net)
    assert layers.index(stds[0]) > max(i for i, m in enumerate(layers) if isinstance(m, nn.LeakyReLU))
    assert d(minigan.randn(*shape)).shape == (8,)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_spectral_norm_wraps_every_weight_of_d_and_none_of_g(arch):
    g, d = build_models(tiny(model__architecture=arch, model__width=2, model__spectral_norm=True))
    layers = [m for m in d.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert layers
    for m in layers:
        assert "weight_orig" in m._parameters and "weight" not in m._parameters
        assert any(isinstance(h, SpectralNorm) for h in m._forward_pre_hooks.values())
    assert not any(k.endswith("weight_orig") for k in g.state_dict())


def test_a_spectrally_normalized_d_has_unit_top_singular_values_after_training_calls():
    _, d = build_models(tiny(model__spectral_norm=True))
    x = minigan.randn(32, 2)
    for _ in range(50):  # each training-mode call is one power iteration
        d(x)
    for m in [m for m in d.modules() if isinstance(m, nn.Linear)]:
        sigma = np.linalg.svd(m.weight.numpy().astype(np.float64), compute_uv=False)[0]
        assert abs(sigma - 1.0) < 1e-3


# ---------------------------------------------------------------- the saturating game (Goodfellow et al. 2014)

def test_the_minimax_generator_loss_saturates_and_the_non_saturating_one_does_not():
    """dL_G/df = -sigmoid(f) for minimax (vanishing as D rejects the fakes), -(1 - sigmoid(f)) non-saturating."""
    logits = np.array([-10.0, -2.0, 0.0, 3.0])
    sigmoid = 1 / (1 + np.exp(-logits))
    for loss, expected in [(Minimax(), -sigmoid), (NonSaturating(), -(1 - sigmoid))]:
        f = tensor(logits, requires_grad=True)
        loss.generator(f).backward()
        np.testing.assert_allclose(f.grad.numpy() * len(logits), expected, rtol=1e-10)
    f = tensor([-10.0], requires_grad=True)
    Minimax().generator(f).backward()
    assert abs(f.grad.item()) < 1e-4  # D confidently rejects the fake: almost no signal
    f = tensor([-10.0], requires_grad=True)
    NonSaturating().generator(f).backward()
    assert f.grad.item() < -0.9999


# ---------------------------------------------------------------- TTUR, n_critic, clipping, optimizer options

def test_n_critic_makes_that_many_discriminator_steps_per_generator_step(tmp_path):
    trainer = quiet_trainer(tiny(optim__n_critic=3, train__steps=2), tmp_path)
    counts = {"d": 0, "g": 0}
    for key, opt in (("d", trainer.opt_d), ("g", trainer.opt_g)):
        original = opt.step

        def counted(original=original, key=key):
            counts[key] += 1
            return original()

        opt.step = counted
    trainer.train()
    assert counts == {"d": 6, "g": 2}
    assert {s["step"] for s in trainer.opt_d.state.values()} == {6}  # Adam's own step counters agree
    assert {s["step"] for s in trainer.opt_g.state.values()} == {2}


@pytest.mark.parametrize("options, expected", [
    (dict(optim__name="adam", optim__weight_decay=1e-3), dict(weight_decay=1e-3, betas=(0.5, 0.999))),
    (dict(optim__name="sgd", optim__momentum=0.9, optim__weight_decay=1e-4), dict(momentum=0.9, weight_decay=1e-4)),
    (dict(optim__name="rmsprop", optim__momentum=0.5, optim__weight_decay=1e-2), dict(momentum=0.5, weight_decay=1e-2)),
], ids=["adam", "sgd", "rmsprop"])
def test_two_time_scales_and_optimizer_options_reach_the_optimizers(options, expected, tmp_path):
    trainer = quiet_trainer(tiny(optim__lr_g=1e-4, optim__lr_d=3e-3, **options), tmp_path)
    assert type(trainer.opt_g).__name__.lower() == options["optim__name"]
    assert trainer.opt_g.param_groups[0]["lr"] == 1e-4 and trainer.opt_d.param_groups[0]["lr"] == 3e-3
    assert trainer.opt_g.param_groups[0]["params"] == list(trainer.generator.parameters())
    assert trainer.opt_d.param_groups[0]["params"] == list(trainer.discriminator.parameters())
    for opt in (trainer.opt_g, trainer.opt_d):
        for key, value in expected.items():
            assert opt.param_groups[0][key] == value


def _norm(module):
    return math.sqrt(sum(float(np.sum(p.grad.numpy().astype(np.float64) ** 2)) for p in module.parameters()))


def test_gradient_clipping_by_norm_bounds_what_the_optimizers_use(tmp_path):
    trainer = quiet_trainer(tiny(optim__grad_clip_norm=1e-3), tmp_path)
    numbers = trainer.train_step(iter([minigan.tensor(trainer.data[:64])]))
    assert numbers["grad_norm_d"] > 1e-3 and numbers["grad_norm_g"] > 1e-3  # the logged norm is before clipping
    assert _norm(trainer.discriminator) <= 1e-3 * (1 + 1e-5)
    assert _norm(trainer.generator) <= 1e-3 * (1 + 1e-5)


def test_gradient_clipping_by_value_bounds_every_element(tmp_path):
    trainer = quiet_trainer(tiny(optim__grad_clip_value=1e-4), tmp_path)
    trainer.train_step(iter([minigan.tensor(trainer.data[:64])]))
    for module in (trainer.generator, trainer.discriminator):
        assert max(float(np.abs(p.grad.numpy()).max()) for p in module.parameters()) <= 1e-4


# ---------------------------------------------------------------- the time budget

def test_max_seconds_stops_early_with_a_checkpoint_and_the_run_resumes(tmp_path):
    out = tmp_path / "budget"
    trainer = quiet_trainer(tiny(train__steps=100_000, train__max_seconds=0.3), out)
    summary = trainer.train()
    stopped = trainer.step
    assert 0 < stopped < 100_000
    assert "max_seconds" in summary["stopped"]
    assert json.loads((out / "summary.json").read_text())["stopped"] == summary["stopped"]
    assert summary["checkpoint"].endswith(f"step-{stopped:07d}.npz") and Path(summary["checkpoint"]).exists()
    assert [r["step"] for r in read_metrics(out)] == list(range(1, stopped + 1))
    resumed = quiet_trainer(tiny(train__steps=stopped + 2), out, resume=True)
    summary = resumed.train()
    assert resumed.step == stopped + 2 and "stopped" not in summary
    assert [r["step"] for r in read_metrics(out)] == list(range(1, stopped + 3))


# ---------------------------------------------------------------- every option through the command line

TINY = ["--set", "model.hidden=16", "--set", "model.d_hidden=16", "--set", "model.layers=2",
        "--set", "data.n_samples=2000", "--set", "train.eval_samples=200", "--batch-size", "64", "--no-progress"]

NEW_FLAGS = ["--momentum", "--weight-decay", "--unrolled-steps", "--pack", "--d-dropout", "--spectral-norm",
             "--minibatch-std", "--instance-noise", "--feature-matching", "--historical-averaging", "--max-seconds"]


def cli(capsys, *args):
    try:
        status = main([str(a) for a in args])
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_train_help_lists_every_technique_flag(capsys):
    status, stdout, _ = cli(capsys, "train", "--help")
    assert status == 0
    for flag in NEW_FLAGS + ["--" + option.replace("_", "-") for option in OVERRIDES]:
        assert flag in stdout, flag


@pytest.mark.parametrize("args, expected", [
    (["--spectral-norm"], {"model.spectral_norm": True}),
    (["--spectral-norm", "false"], {"model.spectral_norm": False}),
    (["--feature-matching"], {"loss.feature_matching": True}),
    (["--instance-noise", "0.5"], {"loss.instance_noise": 0.5}),
    (["--historical-averaging", "0.01"], {"loss.historical_averaging": 0.01}),
    (["--unrolled-steps", "2", "--set", "optim.unrolled_lr=0.1"], {"optim.unrolled_steps": 2, "optim.unrolled_lr": 0.1}),
    (["--d-dropout", "0.2"], {"model.d_dropout": 0.2}),
    (["--minibatch-std", "4"], {"model.minibatch_std": 4}),
    (["--latent", "uniform"], {"model.latent": "uniform"}),
    (["--pack", "2"], {"model.pack": 2}),
    (["--loss", "minimax", "--label-smoothing", "0.1"], {"loss.name": "minimax", "loss.label_smoothing": 0.1}),
    (["--n-critic", "2", "--lr-d", "3e-3", "--lr-g", "1e-4"], {"optim.n_critic": 2, "optim.lr_d": 3e-3, "optim.lr_g": 1e-4}),
    (["--optimizer", "sgd", "--momentum", "0.9", "--weight-decay", "1e-4"],
     {"optim.name": "sgd", "optim.momentum": 0.9, "optim.weight_decay": 1e-4}),
    (["--grad-clip-norm", "1", "--grad-clip-value", "0.5"], {"optim.grad_clip_norm": 1.0, "optim.grad_clip_value": 0.5}),
    (["--ema-decay", "0.9", "--lr-schedule", "linear"], {"optim.ema_decay": 0.9, "optim.lr_schedule": "linear"}),
    (["--max-seconds", "600"], {"train.max_seconds": 600.0}),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_every_technique_trains_three_steps_from_the_command_line(args, expected, capsys, tmp_path):
    status, stdout, stderr = cli(capsys, "train", "--device", backend.get_device(), *TINY, "--preset", "ring",
                                 "--steps", 3, "--out", tmp_path / "run", *args)
    assert status == 0, stderr
    assert json.loads(stdout)["steps"] == 3
    config = resolve(config_file=tmp_path / "run" / "config.toml")
    for dotted, value in expected.items():
        section, _, key = dotted.partition(".")
        assert config[section][key] == value, dotted
    rows = [r for r in read_metrics(tmp_path / "run") if "d_loss" in r]
    assert len(rows) == 3 and all(math.isfinite(r["g_loss"]) and math.isfinite(r["d_loss"]) for r in rows)


# ---------------------------------------------------------------- combinations that cannot work

def test_feature_matching_with_unrolling_is_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="feature_matching.*unrolled_steps.*choose one"):
        Trainer(tiny(loss__feature_matching=True, optim__unrolled_steps=2), tmp_path / "bad")
    status, stdout, stderr = cli(capsys, "train", "--device", backend.get_device(), *TINY, "--steps", 3,
                                 "--out", tmp_path / "cli", "--feature-matching", "--unrolled-steps", 2)
    assert status == 2 and stdout == ""
    assert "choose one" in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cli").exists()
