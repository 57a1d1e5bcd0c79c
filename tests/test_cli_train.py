"""``python -m minigan train`` and ``python -m minigan sample``: what a user types and what comes back.

One real run goes through a subprocess (the true entry point); the rest call
``minigan.cli.main`` in this process, with the session's device. Bad input must
exit with status 2 and one clear line on stderr, before any run directory exists.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigan
from minigan import backend
from minigan.cli import main
from minigan.gan.checkpoint import load_checkpoint
from minigan.gan.models import build_models

ROOT = Path(__file__).resolve().parents[1]

# Small enough for a unit test: MLPs of 16 units on 2,000 ring points.
TINY = ["--set", "model.hidden=16", "--set", "model.d_hidden=16", "--set", "model.layers=2",
        "--set", "data.n_samples=2000", "--set", "train.eval_samples=500", "--batch-size", "64", "--no-progress"]


@pytest.fixture(autouse=True)
def _session_device_and_cwd(tmp_path, monkeypatch):
    """Each test runs in its own folder; the trainer sets the global device, so put the session's back after."""
    device = backend.get_device()
    monkeypatch.chdir(tmp_path)
    yield
    backend.set_device(device)


@pytest.fixture
def fast_plots(monkeypatch):
    from minigan.gan import plots

    def touch(path):
        Path(path).write_bytes(b"plot")

    monkeypatch.setattr(plots, "save_scatter", lambda samples, data, path, *args, **kwargs: touch(path))
    monkeypatch.setattr(plots, "save_image_grid", lambda images, path, *args, **kwargs: touch(path))
    monkeypatch.setattr(plots, "save_loss_plot", lambda metrics, path, *args, **kwargs: touch(path))


def cli(capsys, *args):
    """Run ``python -m minigan ARGS`` in this process: (exit status, stdout, stderr)."""
    try:
        status = main([str(a) for a in args])
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def train(capsys, *args):
    return cli(capsys, "train", "--device", backend.get_device(), *TINY, *args)


def one_line(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    return lines[0]


# ---------------------------------------------------------------- the real entry point

@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    """``python -m minigan train --preset ring --steps 20 --out DIR --no-progress`` in a subprocess.

    On the default device (the command as a user types it); the sample tests then load its
    checkpoint on the session's device.
    """
    cwd = tmp_path_factory.mktemp("cli")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, "-m", "minigan", "train", "--preset", "ring", "--steps", "20", "--out", "run", "--no-progress"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )
    return result, cwd / "run"


def test_train_exits_0_and_prints_the_summary_json(ring_run):
    result, out = ring_run
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["preset"] == "ring" and summary["steps"] == 20
    assert summary["mode_coverage"]["modes_total"] == 8
    assert summary == json.loads((out / "summary.json").read_text())
    assert "training ring for 20 steps" in result.stderr
    assert (out / "checkpoints" / "step-0000020.npz").exists() and (out / "config.toml").exists()


def test_sample_writes_npy(ring_run, capsys):
    _, out = ring_run
    status, stdout, stderr = cli(capsys, "sample", "--checkpoint", out, "--n", 100, "--out", "x.npy",
                                 "--device", backend.get_device())
    assert status == 0, stderr
    samples = np.load("x.npy")
    assert samples.shape == (100, 2) and samples.dtype == np.float32 and np.all(np.isfinite(samples))
    assert "wrote 100 samples" in stderr


def test_sample_writes_png(ring_run, capsys):
    _, out = ring_run
    status, _, stderr = cli(capsys, "sample", "--checkpoint", out, "--n", 100, "--out", "plots/x.png",
                            "--device", backend.get_device())
    assert status == 0, stderr
    assert Path("plots/x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sample_from_a_checkpoint_file_is_seeded(ring_run, capsys):
    _, out = ring_run
    path = out / "checkpoints" / "step-0000020.npz"
    for name, seed in [("a.npy", 3), ("b.npy", 3), ("c.npy", 4)]:
        status, _, stderr = cli(capsys, "sample", "--checkpoint", path, "--n", 10, "--out", name, "--seed", seed,
                                "--device", backend.get_device())
        assert status == 0, stderr
    np.testing.assert_array_equal(np.load("a.npy"), np.load("b.npy"))
    assert not np.array_equal(np.load("a.npy"), np.load("c.npy"))


def test_sample_uses_the_ema_generator_when_there_is_one(capsys, fast_plots):
    status, _, stderr = train(capsys, "--preset", "ring", "--steps", 4, "--ema-decay", 0.5, "--out", "ema")
    assert status == 0, stderr
    status, _, stderr = cli(capsys, "sample", "--checkpoint", "ema", "--n", 7, "--out", "s.npy", "--seed", 1,
                            "--device", backend.get_device())
    assert status == 0, stderr
    state = load_checkpoint(sorted(Path("ema/checkpoints").glob("*.npz"))[-1])
    generator, _ = build_models(state["config"])
    generator.load_state_dict(state["ema"]["module"])
    generator.eval()
    z = np.random.default_rng(1).standard_normal((7, state["config"]["model"]["latent_dim"])).astype(np.float32)
    with minigan.no_grad():
        expected = generator(minigan.tensor(z)).numpy()
    np.testing.assert_allclose(np.load("s.npy"), expected, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- bad input: exit 2, one line, no run directory

@pytest.mark.parametrize("args, words", [
    (["--preset", "nope"], ["unknown preset 'nope'", "ring"]),
    (["--steps", "-5"], ["--steps", "-5"]),
    (["--steps", "0"], ["--steps", "0"]),
    (["--set", "train.stpes=3"], ["train.stpes"]),
    (["--set", "nosuch.key=3"], ["[nosuch]"]),
    (["--set", "train.steps"], ["SECTION.KEY=VALUE"]),
    (["--lr-g", "not-a-number"], ["optim.lr_g", "not-a-number"]),
    (["--batch-size", "lots"], ["train.batch_size", "lots"]),
    (["--steps", "abc"], ["--steps", "abc"]),
    (["--epochs", "0"], ["--epochs"]),
    (["--preset", "ring", "--config", "x.toml"], ["--config", "--preset"]),
    (["--config", "missing.toml"], ["missing.toml", "does not exist"]),
    (["--loss", "wgan"], ["'wgan'"]),
    (["--latent", "cauchy"], ["model.latent", "'cauchy'", "uniform"]),
])
def test_bad_train_arguments_exit_2_with_one_line(args, words, capsys):
    status, stdout, stderr = cli(capsys, "train", "--out", "run", "--no-progress", *args)
    assert status == 2
    assert stdout == ""
    line = one_line(stderr)
    assert line.startswith("python -m minigan train")
    for word in words:
        assert word in line
    assert not Path("run").exists()


def test_device_cuda_without_a_gpu_exits_2_with_one_line(capsys):
    try:
        backend.check_device("cuda")
    except (RuntimeError, ValueError):
        pass
    else:
        pytest.skip("a GPU is available here")
    status, stdout, stderr = cli(capsys, "train", "--device", "cuda", "--steps", "3", "--out", "run", "--no-progress")
    assert status == 2 and stdout == ""
    line = one_line(stderr)
    assert "cuda" in line and line.startswith("python -m minigan train")
    assert not Path("run").exists()
    status, _, stderr = cli(capsys, "sample", "--checkpoint", "nowhere", "--out", "x.npy", "--device", "cuda")
    assert status == 2
    one_line(stderr)


@pytest.mark.parametrize("args, words", [
    (["--checkpoint", "nowhere", "--out", "x.npy"], ["nowhere"]),
    (["--checkpoint", "nowhere/step-0000001.npz", "--out", "x.npy"], ["step-0000001.npz"]),
    (["--checkpoint", ".", "--out", "x.npy"], ["no checkpoint"]),
    (["--out", "x.npy"], ["--checkpoint"]),
])
def test_bad_sample_arguments_exit_2_with_one_line(args, words, capsys):
    status, stdout, stderr = cli(capsys, "sample", *args)
    assert status == 2 and stdout == ""
    line = one_line(stderr)
    for word in words:
        assert word in line
    assert not Path("x.npy").exists()


def test_sample_refuses_a_damaged_checkpoint_and_bad_outputs(ring_run, capsys, tmp_path):
    bad = tmp_path / "step-0000001.npz"
    bad.write_bytes(b"not a checkpoint")
    status, _, stderr = cli(capsys, "sample", "--checkpoint", bad, "--out", "x.npy")
    assert status == 2 and "step-0000001.npz" in one_line(stderr)
    _, out = ring_run
    status, _, stderr = cli(capsys, "sample", "--checkpoint", out, "--out", "x.txt")
    assert status == 2 and ".npy or .png" in one_line(stderr)
    status, _, stderr = cli(capsys, "sample", "--checkpoint", out, "--out", "x.npy", "--n", 0)
    assert status == 2 and "--n" in one_line(stderr)


# ---------------------------------------------------------------- resume, epochs, config files

def test_resume_continues_from_the_latest_checkpoint(capsys, fast_plots):
    common = ["--preset", "ring", "--out", "run", "--set", "train.checkpoint_every=3"]
    status, _, stderr = train(capsys, *common, "--steps", 6)
    assert status == 0, stderr
    status, stdout, stderr = train(capsys, *common, "--steps", 12, "--resume")
    assert status == 0, stderr
    assert "resumed from" in stderr and "step-0000006.npz" in stderr and "at step 6" in stderr
    assert json.loads(stdout)["steps"] == 12
    steps = [json.loads(line)["step"] for line in Path("run/metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 13))


def test_resume_without_a_checkpoint_starts_at_zero(capsys, fast_plots):
    status, stdout, stderr = train(capsys, "--preset", "ring", "--out", "fresh", "--steps", 3, "--resume")
    assert status == 0, stderr
    assert "no checkpoint" in stderr and "step 0" in stderr
    assert json.loads(stdout)["steps"] == 3


def test_epochs_are_accepted(capsys, fast_plots):
    status, stdout, stderr = train(capsys, "--preset", "ring", "--out", "ep", "--epochs", 1,
                                   "--set", "data.n_samples=640")
    assert status == 0, stderr
    summary = json.loads(stdout)
    assert summary["steps"] == 10 and summary["epochs"] == 1  # 640 points in batches of 64
    assert "for 10 steps" in stderr


def test_a_config_file_and_overrides(capsys, fast_plots, tmp_path):
    Path("mine.toml").write_text('[data]\ndataset = "grid"\n\n[model]\nlatent_dim = 3\n\n[train]\nsteps = 2\n')
    status, stdout, stderr = train(capsys, "--config", "mine.toml", "--out", "cfg", "--seed", 5)
    assert status == 0, stderr
    summary = json.loads(stdout)
    assert summary["steps"] == 2 and summary["mode_coverage"]["modes_total"] == 25
    written = Path("cfg/config.toml").read_text()
    assert 'dataset = "grid"' in written and "seed = 5" in written and "latent_dim = 3" in written


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_a_diverging_run_exits_1_naming_the_step(capsys, fast_plots):
    status, stdout, stderr = train(capsys, "--preset", "ring", "--out", "boom", "--steps", 5,
                                   "--optimizer", "sgd", "--lr-d", "1e30", "--lr-g", "1e30")
    assert status == 1 and stdout == ""
    assert "training stopped at step 1" in stderr


def test_ctrl_c_exits_130_and_points_at_resume(capsys, fast_plots, monkeypatch):
    from minigan.gan.trainer import Trainer

    original = Trainer.train_step

    def interrupted(self, batches):
        if self.step == 4:
            raise KeyboardInterrupt
        return original(self, batches)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    status, stdout, stderr = train(capsys, "--preset", "ring", "--out", "stop", "--steps", 10,
                                   "--set", "train.checkpoint_every=2")
    assert status == 130 and stdout == ""
    assert "interrupted at step 4" in stderr and "step-0000004.npz" in stderr and "--resume" in stderr


def test_sample_from_an_image_run(capsys, monkeypatch):
    from minigan.gan import trainer as trainer_module

    images = np.tanh(np.random.default_rng(0).standard_normal((64, 1, 28, 28))).astype(np.float32)
    monkeypatch.setattr(trainer_module, "build_data", lambda config: (images, {"kind": "image"}))
    status, _, stderr = cli(capsys, "train", "--device", backend.get_device(), "--preset", "mnist-dcgan",
                            "--out", "img", "--steps", 2, "--batch-size", 16, "--no-progress",
                            "--set", "model.width=4", "--set", "model.latent_dim=8")
    assert status == 0, stderr
    status, _, stderr = cli(capsys, "sample", "--checkpoint", "img", "--n", 9, "--out", "img.npy",
                            "--device", backend.get_device())
    assert status == 0, stderr
    samples = np.load("img.npy")
    assert samples.shape == (9, 1, 28, 28) and np.abs(samples).max() <= 1.0
    status, _, stderr = cli(capsys, "sample", "--checkpoint", "img", "--n", 9, "--out", "img.png",
                            "--device", backend.get_device())
    assert status == 0, stderr
    assert Path("img.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
