"""The training loop: its outputs, exact reproducibility, exact resumption, and stopping on NaN.

Runs here are tiny (a ring of 2,000 points, MLPs of 16 units, 20 steps), so each
takes about a second; they check what a user relies on: the files a run writes,
that the same seed gives bit-identical weights, that a run stopped half way and
resumed ends with exactly the weights of a run that was never stopped, and that a
NaN stops the run with a message naming the step, the quantity and the last good
checkpoint.
"""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import minigan
from minigan import backend
from minigan.config import resolve
from minigan.gan import trainer as trainer_module
from minigan.gan.checkpoint import load_checkpoint
from minigan.gan.losses import LeastSquares, NonSaturating
from minigan.gan.trainer import Trainer, TrainingDiverged

METRIC_KEYS = {"step", "epoch", "d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "sec_per_step"}


def tiny(preset="ring", **overrides):
    """A ring run small enough for a unit test, on the session's device; overrides as {'section.key': value}."""
    base = {
        "train.steps": 20, "train.batch_size": 64, "train.progress": False, "train.eval_samples": 500,
        "train.checkpoint_every": 1000, "train.sample_every": 1000, "train.device": backend.get_device(),
        "data.n_samples": 2000, "model.hidden": 16, "model.d_hidden": 16, "model.layers": 2,
    }
    return resolve(preset, overrides={**base, **{k.replace("__", "."): v for k, v in overrides.items()}})


def run(config, out, resume=False, log=None):
    trainer = Trainer(config, out, resume=resume, log=log or (lambda message: None))
    trainer.train()
    return trainer


def weights(trainer):
    """Every array of the generator, the discriminator and the EMA copy, by name, on the host."""
    arrays = {f"generator/{k}": v.numpy() for k, v in trainer.generator.state_dict().items()}
    arrays.update({f"discriminator/{k}": v.numpy() for k, v in trainer.discriminator.state_dict().items()})
    if trainer.ema is not None:
        arrays.update({f"ema/{k}": v.numpy() for k, v in trainer.ema.module.state_dict().items()})
    return arrays


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def read_metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(autouse=True)
def fast_plots(monkeypatch):
    """matplotlib figures cost more than a tiny run: stand-ins write a marker file at the same paths.

    The module-scoped ``finished`` run is made before this fixture applies, with the real plots.
    """
    from minigan.gan import plots

    def touch(path):
        from pathlib import Path

        Path(path).write_bytes(b"plot")

    monkeypatch.setattr(plots, "save_scatter", lambda samples, data, path, *args, **kwargs: touch(path))
    monkeypatch.setattr(plots, "save_image_grid", lambda images, path, *args, **kwargs: touch(path))
    monkeypatch.setattr(plots, "save_loss_plot", lambda metrics, path, *args, **kwargs: touch(path))


# ---------------------------------------------------------------- a finished run and what it leaves behind

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = tiny(train__checkpoint_every=10)
    trainer = run(config, out)
    return config, out, trainer


def test_a_run_writes_its_resolved_config(finished):
    config, out, _ = finished
    assert resolve(config_file=out / "config.toml") == config


def test_a_run_logs_one_line_per_step(finished):
    _, out, _ = finished
    rows = read_metrics(out)
    assert [r["step"] for r in rows] == list(range(1, 21))
    for row in rows:
        assert METRIC_KEYS <= set(row)
        assert all(math.isfinite(row[k]) for k in METRIC_KEYS)
        assert 0.0 <= row["d_real"] <= 1.0 and 0.0 <= row["d_fake"] <= 1.0  # probabilities for the BCE games
        assert row["grad_norm_d"] > 0 and row["grad_norm_g"] > 0 and row["sec_per_step"] > 0
    assert rows[0]["epoch"] == 0


def test_a_run_writes_checkpoints_samples_and_plots(finished):
    _, out, trainer = finished
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-0000010.npz", "step-0000020.npz"]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-0000020.png"]
    for png in [out / "losses.png", out / "samples" / "step-0000020.png"]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    state = load_checkpoint(out / "checkpoints" / "step-0000020.npz")
    assert state["step"] == 20 and state["format"] == "minigan-checkpoint-1"
    np.testing.assert_array_equal(state["generator"]["net.0.weight"], trainer.generator.net[0].weight.numpy())


def test_a_run_writes_its_summary_with_mode_coverage(finished):
    _, out, _ = finished
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 20 and summary["preset"] == "ring"
    assert summary["checkpoint"].endswith("step-0000020.npz")
    assert set(summary["final"]) == {"d_loss", "g_loss", "d_real", "d_fake"}
    coverage = summary["mode_coverage"]
    assert coverage["modes_total"] == 8 and coverage["samples"] == 500
    assert 0 <= coverage["modes_covered"] <= 8 and 0.0 <= coverage["high_quality"] <= 1.0


def test_the_summary_is_strict_json(tmp_path):
    """summary.json is read by other tools (jq, JavaScript): NaN or Infinity, which JSON has not, must not appear.

    An untrained generator (lr 0) puts no sample within 3 std of a ring mode, so the
    reverse KL of its samples is infinite: the case every short or collapsed run hits.
    """
    out = tmp_path / "untrained"
    run(tiny(train__steps=2, optim__lr_g=0.0, optim__lr_d=0.0), out)

    def refuse(constant):
        raise ValueError(f"summary.json contains {constant}, which is not JSON")

    summary = json.loads((out / "summary.json").read_text(), parse_constant=refuse)
    assert summary["mode_coverage"]["high_quality"] == 0.0


def test_samples_come_from_a_private_stream_in_eval_mode(finished):
    _, _, trainer = finished
    state = backend.get_rng_state()
    a, b = trainer.sample(300), trainer.sample(300)
    assert a.shape == (300, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert backend.get_rng_state() == state
    assert trainer.generator.training


# ---------------------------------------------------------------- reproducibility

def test_same_seed_and_config_give_bit_identical_weights(finished, tmp_path):
    config, out, first = finished
    second = run(config, tmp_path / "again")
    assert_identical(weights(first), weights(second))
    rows_a, rows_b = read_metrics(out), read_metrics(tmp_path / "again")
    for a, b in zip(rows_a, rows_b):
        assert {k: v for k, v in a.items() if k != "sec_per_step"} == {k: v for k, v in b.items() if k != "sec_per_step"}


def test_different_seeds_give_different_weights(finished, tmp_path):
    config, _, first = finished
    other = run(tiny(train__checkpoint_every=10, train__seed=1), tmp_path / "seed1")
    a, b = weights(first), weights(other)
    assert all(not np.array_equal(a[k], b[k]) for k in a if k.endswith("weight"))


# ---------------------------------------------------------------- exact resumption

HARD = dict(loss__name="lsgan", optim__n_critic=2, loss__penalty="gp", optim__ema_decay=0.9)


@pytest.mark.parametrize("options", [{}, HARD], ids=["default", "lsgan-ncritic2-gp-ema"])
def test_a_run_stopped_half_way_and_resumed_ends_with_identical_weights(options, tmp_path):
    """train.steps = N/2 (checkpoint at N/2), then a new Trainer with steps = N and resume=True.

    With a constant learning rate: a schedule that decays over train.steps decays over N/2
    steps in the first half, which no resume can undo (the interrupted run below covers it).
    """
    n = 20
    options = dict(options, optim__lr_schedule="constant")
    whole = run(tiny(train__steps=n, **options), tmp_path / "whole")
    run(tiny(train__steps=n // 2, train__checkpoint_every=n // 2, **options), tmp_path / "split")
    log = []
    resumed = run(tiny(train__steps=n, train__checkpoint_every=n // 2, **options), tmp_path / "split", resume=True,
                  log=log.append)
    assert resumed.step == n
    assert any("resumed" in message and "step 10" in message for message in log)
    assert_identical(weights(whole), weights(resumed))
    steps = [r["step"] for r in read_metrics(tmp_path / "split")]
    assert steps == list(range(1, n + 1))


class Interrupt(Exception):
    """Stands for Ctrl-C: raised by a patched train_step at a chosen step."""


def test_an_interrupted_run_resumes_exactly_with_every_option(tmp_path, monkeypatch):
    """lsgan + n_critic 2 + gp + EMA + linear lr decay, interrupted at step 16 of 20 (last checkpoint: 10).

    The resumed run repeats steps 11-16 from the checkpoint: its weights and every logged
    number must equal those of a run that was never interrupted, and the log keeps each step once.
    """
    options = dict(HARD, optim__lr_schedule="linear", train__checkpoint_every=10)
    whole = run(tiny(**options), tmp_path / "whole")

    original_step = Trainer.train_step

    def interrupted_step(self, batches):
        if self.step == 15:
            raise Interrupt
        return original_step(self, batches)

    monkeypatch.setattr(Trainer, "train_step", interrupted_step)
    with pytest.raises(Interrupt):
        run(tiny(**options), tmp_path / "split")
    assert len(read_metrics(tmp_path / "split")) == 15
    monkeypatch.setattr(Trainer, "train_step", original_step)

    resumed = run(tiny(**options), tmp_path / "split", resume=True)
    assert_identical(weights(whole), weights(resumed))
    assert resumed.opt_g.param_groups[0]["lr"] == whole.opt_g.param_groups[0]["lr"] == 0.0
    rows_whole, rows_split = read_metrics(tmp_path / "whole"), read_metrics(tmp_path / "split")
    assert [r["step"] for r in rows_split] == list(range(1, 21))
    for a, b in zip(rows_whole, rows_split):
        assert {k: v for k, v in a.items() if k != "sec_per_step"} == {k: v for k, v in b.items() if k != "sec_per_step"}


@pytest.mark.parametrize("forget", ["rng", "loader", "optimizer"])
def test_a_resume_that_forgets_a_piece_of_state_does_not_match(forget, tmp_path, monkeypatch):
    """The resume tests can fail: leaving out the random state, the data position or the optimizer's moments shows."""
    options = dict(optim__lr_schedule="constant", train__steps=10)
    whole = run(tiny(**options), tmp_path / "whole")
    run(tiny(**dict(options, train__steps=5, train__checkpoint_every=5)), tmp_path / "split")
    target = {"rng": (trainer_module.backend, "set_rng_state"),
              "loader": (trainer_module.DataLoader, "load_state_dict"),
              "optimizer": (minigan.optim.Optimizer, "load_state_dict")}[forget]
    monkeypatch.setattr(*target, lambda *args: None)
    resumed = run(tiny(**dict(options, train__checkpoint_every=5)), tmp_path / "split", resume=True)
    assert resumed.step == 10
    a, b = weights(whole), weights(resumed)
    assert not all(np.array_equal(a[k], b[k]) for k in a)


def test_resume_with_no_checkpoint_starts_from_zero_with_a_message(tmp_path):
    log = []
    trainer = Trainer(tiny(train__steps=3), tmp_path / "new", resume=True, log=log.append)
    assert trainer.step == 0
    assert len(log) == 1 and "no checkpoint" in log[0] and "step 0" in log[0]
    trainer.train()
    assert trainer.step == 3


def test_a_fresh_run_in_a_used_directory_does_not_mix_with_the_old_run(tmp_path):
    """Without resume, a second run into the same folder must either refuse (pointing at --resume) or start clean.

    Otherwise its log holds both runs' steps, and the old run's later checkpoint
    (step 30 here) is taken as the new run's latest: summary.json names it, and
    ``sample --checkpoint DIR`` and ``--resume`` would use the old model.
    """
    out = tmp_path / "reused"
    run(tiny(train__steps=30, train__checkpoint_every=10), out)
    try:
        second = run(tiny(train__steps=20, train__checkpoint_every=10, train__seed=3), out)
    except (ValueError, RuntimeError, FileExistsError) as err:
        assert "resume" in str(err)
        return
    assert second.latest_checkpoint().name == "step-0000020.npz"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["checkpoint"].endswith("step-0000020.npz")
    assert [r["step"] for r in read_metrics(out)] == list(range(1, 21))


def test_keep_checkpoints_deletes_old_ones(tmp_path):
    run(tiny(train__checkpoint_every=4, train__keep_checkpoints=2), tmp_path / "keep")
    assert sorted(p.name for p in (tmp_path / "keep" / "checkpoints").iterdir()) == ["step-0000016.npz", "step-0000020.npz"]


# ---------------------------------------------------------------- divergence

def _nan_at_call(monkeypatch, cls, method, k):
    """Make ``cls.method`` return NaN on its k-th call (1-based)."""
    original = getattr(cls, method)
    calls = {"n": 0}

    def patched(self, *args):
        calls["n"] += 1
        loss = original(self, *args)
        return loss * float("nan") if calls["n"] == k else loss

    monkeypatch.setattr(cls, method, patched)


def test_a_nan_generator_loss_stops_the_run_naming_step_quantity_and_checkpoint(tmp_path, monkeypatch):
    _nan_at_call(monkeypatch, NonSaturating, "generator", 7)
    out = tmp_path / "nan"
    trainer = Trainer(tiny(train__checkpoint_every=5), out, log=lambda m: None)
    with pytest.raises(TrainingDiverged) as info:
        trainer.train()
    message = str(info.value)
    assert "step 7" in message and "g_loss" in message and "nan" in message
    last_good = out / "checkpoints" / "step-0000005.npz"
    assert "last good checkpoint" in message and str(last_good) in message
    state = load_checkpoint(last_good)
    assert state["step"] == 5
    assert all(np.all(np.isfinite(v)) for v in state["generator"].values())
    assert [r["step"] for r in read_metrics(out)] == list(range(1, 7))  # the NaN step is not logged


def test_a_nan_discriminator_loss_is_named_too(tmp_path, monkeypatch):
    _nan_at_call(monkeypatch, LeastSquares, "discriminator", 3)
    with pytest.raises(TrainingDiverged, match=r"step 3: d_loss is nan; no checkpoint had been written yet"):
        run(tiny(loss__name="lsgan"), tmp_path / "nan")


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_an_absurd_learning_rate_diverges(tmp_path):
    with pytest.raises(TrainingDiverged) as info:
        run(tiny(optim__name="sgd", optim__lr_d=1e30, optim__lr_g=1e30), tmp_path / "boom")
    assert "training stopped at step 1" in str(info.value)
    assert any(key in str(info.value) for key in ("d_loss", "g_loss", "grad_norm_d", "grad_norm_g"))


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_the_checkpoint_called_last_good_holds_finite_weights(tmp_path):
    """An absurd generator lr breaks G's weights in the last update of step 1, after that step's numbers were taken.

    The run must not save those weights and then call them "the last good checkpoint".
    """
    out = tmp_path / "inf"
    with pytest.raises(TrainingDiverged) as info:
        run(tiny(optim__lr_g=1e39, train__checkpoint_every=1), out)
    message = str(info.value)
    named = [p for p in (out / "checkpoints").glob("*.npz") if str(p) in message]
    if "no checkpoint had been written yet" in message:
        assert named == []
        return
    assert len(named) == 1, message
    state = load_checkpoint(named[0])
    for network in ("generator", "discriminator"):
        for name, value in state[network].items():
            assert np.all(np.isfinite(value)), f"{named[0].name}: {network} {name} is not finite"


def test_the_last_good_checkpoint_resumes_after_a_divergence(tmp_path, monkeypatch):
    healthy = NonSaturating.generator
    _nan_at_call(monkeypatch, NonSaturating, "generator", 7)
    out = tmp_path / "nan"
    with pytest.raises(TrainingDiverged):
        run(tiny(train__checkpoint_every=5), out)
    monkeypatch.setattr(NonSaturating, "generator", healthy)
    resumed = run(tiny(train__checkpoint_every=5), out, resume=True)
    assert resumed.step == 20
    assert [r["step"] for r in read_metrics(out)] == list(range(1, 21))


# ---------------------------------------------------------------- the other options reach the loop

@pytest.mark.parametrize("options", [
    dict(loss__name="minimax"),
    dict(loss__name="hinge"),
    dict(loss__name="wasserstein", loss__clip_value=0.01, optim__name="rmsprop", optim__n_critic=3),
    dict(loss__penalty="r1", loss__label_smoothing=0.1),
    dict(optim__name="sgd", optim__momentum=0.9, optim__grad_clip_norm=0.5, optim__grad_clip_value=0.1),
    dict(model__pack=2, optim__lr_schedule="cosine"),
], ids=["minimax", "hinge", "wgan-clip-rmsprop", "r1-smoothing", "sgd-clipping", "pack-cosine"])
def test_options_train_with_finite_numbers(options, tmp_path):
    trainer = run(tiny(train__steps=4, **options), tmp_path / "opt")
    rows = read_metrics(tmp_path / "opt")
    assert len(rows) == 4 and all(math.isfinite(r[k]) for r in rows for k in METRIC_KEYS)
    if options.get("loss__clip_value"):
        for p in trainer.discriminator.parameters():
            assert np.abs(p.numpy()).max() <= 0.01 + 1e-9
    if options.get("loss__penalty") == "r1":
        assert all(r["penalty"] > 0 for r in rows)
    if options.get("optim__lr_schedule") == "cosine":
        assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-15)


def test_the_gradient_penalty_is_logged(tmp_path):
    run(tiny(train__steps=3, loss__name="wasserstein", loss__penalty="gp"), tmp_path / "gp")
    assert all(r["penalty"] > 0 for r in read_metrics(tmp_path / "gp"))


@pytest.mark.parametrize("overrides, words", [
    (dict(model__pack=3), "multiple of model.pack"),
    (dict(data__dataset="cifar"), "'cifar'"),
    (dict(optim__name="lbfgs"), "'lbfgs'"),
    (dict(optim__lr_schedule="step"), "'step'"),
    (dict(train__steps=0, train__epochs=0), "nothing to train"),
    (dict(model__latent="cauchy"), "model.latent = 'cauchy'"),
])
def test_bad_configs_are_refused_at_construction(overrides, words, tmp_path):
    with pytest.raises(ValueError, match=words):
        Trainer(tiny(**overrides), tmp_path / "bad")


def test_a_uniform_latent_reaches_the_generator_in_training_plots_and_samples(tmp_path, monkeypatch):
    """model.latent = uniform: every z the generator sees lies in [-1, 1]^d and fills it (not N(0, 1))."""
    from minigan.gan.sampling import draw_samples

    trainer = Trainer(tiny(train__steps=2, model__latent="uniform", model__latent_dim=3), tmp_path / "u")
    seen = []
    forward = type(trainer.generator).forward
    monkeypatch.setattr(type(trainer.generator), "forward", lambda self, z: seen.append(z.numpy()) or forward(self, z))
    trainer.train()
    trainer.sample(4000)
    seen.append(trainer.fixed_noise)
    for z in seen:
        assert z.shape[1] == 3 and z.min() >= -1.0 and z.max() <= 1.0
    everything = np.concatenate(seen)
    assert everything.min() < -0.99 and everything.max() > 0.99 and abs(everything.std() - 3 ** -0.5) < 0.02
    identity = draw_samples(lambda z: z, 3000, {"latent": "uniform", "latent_dim": 2})
    assert identity.min() >= -1.0 and identity.max() <= 1.0 and abs(identity.std() - 3 ** -0.5) < 0.02
    normal = draw_samples(lambda z: z, 3000, {"latent_dim": 2})  # the default: N(0, I)
    assert normal.max() > 2.0 and abs(normal.std() - 1.0) < 0.05


def test_an_unknown_penalty_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'wgan'"):
        run(tiny(loss__penalty="wgan"), tmp_path / "bad")


def test_epochs_set_the_length_when_steps_is_zero(tmp_path):
    trainer = Trainer(tiny(train__steps=0, train__epochs=2, data__n_samples=640, optim__n_critic=2), tmp_path / "ep")
    assert trainer.steps_per_epoch == 5 and trainer.total_steps == 10  # 10 batches per epoch, 2 per step


# ---------------------------------------------------------------- images

def _random_images(config):
    rng = np.random.default_rng(0)
    return np.tanh(rng.standard_normal((96, 1, 28, 28))).astype(np.float32), {"kind": "image"}


@pytest.mark.parametrize("preset", ["mnist-dcgan", "mnist-wgan-gp"])
def test_dcgan_smoke_on_random_images(preset, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module, "build_data", _random_images)
    config = tiny(preset, model__width=4, model__latent_dim=8, train__batch_size=16, train__steps=3,
                  optim__n_critic=1)
    trainer = run(config, tmp_path / "dcgan")
    rows = read_metrics(tmp_path / "dcgan")
    assert len(rows) == 3 and all(math.isfinite(r[k]) for r in rows for k in METRIC_KEYS)
    if preset == "mnist-wgan-gp":
        assert all(r["penalty"] > 0 for r in rows)
    assert trainer.sample(5).shape == (5, 1, 28, 28)
    assert (tmp_path / "dcgan" / "samples" / "step-0000003.png").exists()
    summary = json.loads((tmp_path / "dcgan" / "summary.json").read_text())
    assert "mode_coverage" not in summary and summary["steps"] == 3


def test_dcgan_resume_restores_batch_norm_statistics_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module, "build_data", _random_images)
    options = dict(model__width=4, model__latent_dim=8, train__batch_size=16, optim__ema_decay=0.5)
    whole = run(tiny("mnist-dcgan", train__steps=4, **options), tmp_path / "whole")
    run(tiny("mnist-dcgan", train__steps=2, train__checkpoint_every=2, **options), tmp_path / "split")
    resumed = run(tiny("mnist-dcgan", train__steps=4, train__checkpoint_every=2, **options), tmp_path / "split", resume=True)
    a, b = weights(whole), weights(resumed)
    assert any("running_mean" in k for k in a)
    assert_identical(a, b)


MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"  # ../shared beside the project root


@pytest.mark.skipif(not (MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason="no shared MNIST test images")
def test_dcgan_on_real_mnist_test_images(tmp_path):
    config = tiny("mnist-dcgan", data__split="test", data__data_dir=str(MNIST), data__download=False,
                  train__steps=3, train__batch_size=32, model__width=16)
    trainer = run(config, tmp_path / "mnist")
    assert trainer.data.shape == (10_000, 1, 28, 28)
    assert trainer.data.min() >= -1.0 and trainer.data.max() <= 1.0
    rows = read_metrics(tmp_path / "mnist")
    assert len(rows) == 3 and all(math.isfinite(r[k]) for r in rows for k in METRIC_KEYS)
    assert trainer.sample(4).shape == (4, 1, 28, 28)
    assert minigan.get_device() == backend.get_device()


@pytest.mark.parametrize("overrides, message", [
    ({"loss.name": "hinge"}, "--label-smoothing 0"),          # the preset smooths; hinge cannot
    ({"train.batch_size": 63}, "multiple of model.pack = 2"),  # the preset packs pairs
])
def test_settings_that_cannot_work_are_refused_before_the_data_is_read(overrides, message, tmp_path, monkeypatch):
    def no_data(config):
        raise AssertionError("the data was read (and maybe downloaded) before the settings were checked")

    monkeypatch.setattr(trainer_module, "build_data", no_data)
    config = resolve("mnist-dcgan", overrides={"train.device": backend.get_device(), **overrides})
    with pytest.raises(ValueError, match=re.escape(message)):
        Trainer(config, tmp_path / "run", log=lambda message: None)
    assert not (tmp_path / "run").exists()
