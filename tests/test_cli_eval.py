"""``python -m minigan eval``, ``classifier train`` and ``sanity``: what a user types and what comes back.

The checkpoints are real but tiny (a ring MLP and a DCGAN of width 4, trained for
a few steps here); the images are synthetic, so nothing needs ../shared/data.
Results must be valid JSON on stdout; bad input exits 2 with one line on stderr.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic import synthetic_digits

import minigan
from minigan import backend
from minigan.cli import main
from minigan.config import resolve
from minigan.data import DownloadError
from minigan.gan import plots
from minigan.gan import trainer as trainer_module
from minigan.gan.trainer import Trainer
from minigan.metrics import classifier as classifier_module
from minigan.metrics.classifier import load_classifier, save_classifier, train_classifier

SMALL_RUN = {"train.batch_size": 16, "train.progress": False, "train.checkpoint_every": 1000,
             "train.sample_every": 1000, "train.eval_samples": 200}


@pytest.fixture(autouse=True)
def _session_device(tmp_path, monkeypatch):
    """The commands set the global device; put the session's back after. No test may touch the real ~/.cache."""
    device = backend.get_device()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    yield
    backend.set_device(device)


def touch(path):
    Path(path).write_bytes(b"plot")


# The plots a run draws, each replaced by a file of five bytes: matplotlib is not what is tested here.
FAST_PLOTS = {
    "save_scatter": lambda samples, data, path, *args, **kwargs: touch(path),
    "save_image_grid": lambda images, path, *args, **kwargs: touch(path),
    "save_loss_plot": lambda metrics, path, *args, **kwargs: touch(path),
    "save_eval_plot": lambda metrics, path, *args, **kwargs: touch(path),
}


def train_tiny(out, preset, overrides):
    config = resolve(preset, overrides={**SMALL_RUN, "train.device": backend.get_device(), **overrides})
    Trainer(config, out, log=lambda message: None).train()
    return out


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    """A ring run of 20 steps with MLPs of 16 units."""
    mp = pytest.MonkeyPatch()
    device = backend.get_device()
    try:
        for name, fake in FAST_PLOTS.items():
            mp.setattr(plots, name, fake, raising=False)
        return train_tiny(tmp_path_factory.mktemp("ring"), "ring", {
            "train.steps": 20, "data.n_samples": 500, "model.hidden": 16, "model.d_hidden": 16, "model.layers": 2})
    finally:
        mp.undo()
        backend.set_device(device)


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    """A DCGAN of width 4 trained for 2 steps, with an EMA generator, on 64 random 'images'."""
    mp = pytest.MonkeyPatch()
    device = backend.get_device()
    try:
        for name, fake in FAST_PLOTS.items():
            mp.setattr(plots, name, fake, raising=False)
        images = synthetic_digits(64)[0]
        mp.setattr(trainer_module, "build_data", lambda config: (images, {"kind": "image"}))
        return train_tiny(tmp_path_factory.mktemp("dcgan"), "mnist-dcgan", {
            "train.steps": 2, "model.width": 4, "model.latent_dim": 8, "optim.ema_decay": 0.9})
    finally:
        mp.undo()
        backend.set_device(device)


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    images, labels = synthetic_digits(640)
    path = tmp_path_factory.mktemp("classifier") / "classifier-mnist.npz"
    save_classifier(train_classifier(images, labels, epochs=1, lr=5e-3), path,
                    {"dataset": "mnist", "trained_on": "synthetic bars", "test_accuracy": 1.0})
    return path


@pytest.fixture
def synthetic_test_set(monkeypatch):
    """The 'test split' eval and sanity load: 400 synthetic images."""
    images, labels = synthetic_digits(400, seed=7)
    monkeypatch.setattr(minigan.data, "load_dataset", lambda dataset, split, *args, **kwargs: (images, labels))
    return images


def cli(capsys, *args):
    """Run ``python -m minigan ARGS`` in this process: (exit status, stdout, stderr)."""
    try:
        status = main([str(a) for a in args])
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_line(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    return lines[0]


# ---------------------------------------------------------------- eval

def test_eval_of_a_ring_run_prints_the_mode_coverage(capsys, ring_run):
    status, out, err = cli(capsys, "eval", "--checkpoint", ring_run, "--n", 300)
    assert status == 0, err
    report = json.loads(out)
    assert report["dataset"] == "ring" and report["samples"] == 300 and report["step"] == 20
    assert report["modes_total"] == 8 and 0 <= report["modes_covered"] <= 8
    assert 0.0 <= report["high_quality"] <= 1.0 and "reverse_kl" in report


def test_a_gpu_run_is_evaluated_on_a_machine_without_one_when_asked(capsys, ring_run, monkeypatch):
    """A checkpoint trained on 'cuda', here without a GPU: one line that says --device cpu; with it, the report."""
    from minigan.gan import sampling

    real_load, real_check = sampling.load_checkpoint, backend.check_device

    def trained_on_cuda(path):
        state = real_load(path)
        state["config"]["train"]["device"] = "cuda"
        return state

    def no_gpu(device):
        if str(device).startswith("cuda"):
            raise RuntimeError("device 'cuda': no GPU")
        return real_check(device)

    # A context of its own: the GPU is "gone" only until the end of it, so that on a GPU
    # machine the suite's device can be put back afterwards.
    with monkeypatch.context() as patch:
        patch.setattr(sampling, "load_checkpoint", trained_on_cuda)
        patch.setattr(backend, "check_device", no_gpu)
        status, out, err = cli(capsys, "eval", "--checkpoint", ring_run, "--n", 300)
        line = one_line(err)
        assert status == 2 and "trained on device 'cuda'" in line and "--device cpu" in line
        status, out, err = cli(capsys, "eval", "--checkpoint", ring_run, "--n", 300, "--device", "cpu")
    assert status == 0, err
    assert json.loads(out)["modes_total"] == 8


def test_eval_of_a_dcgan_run_prints_the_image_metrics(capsys, dcgan_run, classifier_file, synthetic_test_set):
    checkpoint = sorted((dcgan_run / "checkpoints").glob("step-*.npz"))[-1]
    status, out, err = cli(capsys, "eval", "--checkpoint", checkpoint, "--n", 100, "--classifier", classifier_file)
    assert status == 0, err
    report = json.loads(out)
    assert report["generator"] == "ema" and report["samples"] == 100 and report["real_samples"] == 400
    assert report["fid"] > 0 and 1.0 <= report["classifier_score"] <= 10.0
    assert 1 <= report["classes_covered"] <= 10 and sum(report["class_histogram"]) == 100
    assert 0.0 <= report["precision"] <= 1.0 and 0.0 <= report["recall"] <= 1.0 and report["k"] == 3
    assert report["classifier"]["trained_on"] == "synthetic bars"


def test_eval_trains_the_default_classifier_on_first_use_and_says_so(capsys, dcgan_run, synthetic_test_set, monkeypatch):
    images, labels = synthetic_digits(300)
    monkeypatch.setattr(classifier_module, "training_data",
                        lambda *args, **kwargs: (images, labels, images[:100], labels[:100], "synthetic bars"))
    monkeypatch.setattr(classifier_module, "default_epochs", lambda n: 1)
    status, out, err = cli(capsys, "eval", "--checkpoint", dcgan_run, "--n", 50)
    assert status == 0, err
    assert "training one now" in err and json.loads(out)["classifier"]["trained_on"] == "synthetic bars"
    assert (Path.home() / ".cache" / "minigan" / "classifier-mnist.npz").exists()


@pytest.mark.parametrize("make, expected", [
    (lambda tmp: tmp / "missing.npz", "no such checkpoint"),
    (lambda tmp: tmp, "no checkpoint in"),
    (lambda tmp: (np.savez(tmp / "x.npz", a=np.zeros(2)), tmp / "x.npz")[1], "not a minigan training checkpoint"),
])
def test_eval_refuses_what_is_not_a_checkpoint(capsys, tmp_path, make, expected):
    status, out, err = cli(capsys, "eval", "--checkpoint", make(tmp_path))
    assert status == 2 and out == ""
    assert expected in one_line(err)


def test_eval_refuses_a_classifier_of_another_dataset_or_no_classifier(capsys, tmp_path, dcgan_run, classifier_file,
                                                                       synthetic_test_set):
    model, info = load_classifier(classifier_file)
    save_classifier(model, tmp_path / "fashion.npz", {**info, "dataset": "fashion-mnist"})
    status, _, err = cli(capsys, "eval", "--checkpoint", dcgan_run, "--n", 50, "--classifier", tmp_path / "fashion.npz")
    assert status == 2 and "trained on 'fashion-mnist'" in one_line(err)
    checkpoint = sorted((dcgan_run / "checkpoints").glob("step-*.npz"))[-1]
    status, _, err = cli(capsys, "eval", "--checkpoint", dcgan_run, "--n", 50, "--classifier", checkpoint)
    assert status == 2 and "not a minigan classifier" in one_line(err)


def test_eval_refuses_too_few_samples(capsys, ring_run):
    status, _, err = cli(capsys, "eval", "--checkpoint", ring_run, "--n", 0)
    assert status == 2 and "--n" in one_line(err)


# ---------------------------------------------------------------- classifier train

def test_classifier_train_saves_weights_and_reports_accuracy(capsys, tmp_path, monkeypatch):
    images, labels = synthetic_digits(400)
    monkeypatch.setattr(classifier_module, "training_data",
                        lambda *args, **kwargs: (images[:300], labels[:300], images[300:], labels[300:], "synthetic"))
    out_path = tmp_path / "weights" / "c.npz"
    status, out, err = cli(capsys, "classifier", "train", "--out", out_path, "--epochs", 2, "--device", backend.get_device())
    assert status == 0, err
    report = json.loads(out)
    assert report["path"] == str(out_path) and report["trained_on"] == "synthetic" and report["epochs"] == 2
    assert report["test_accuracy"] > 0.5
    assert load_classifier(out_path)[1]["test_accuracy"] == report["test_accuracy"]


@pytest.mark.parametrize("args, expected", [
    (["--dataset", "cifar10"], "invalid choice"),
    (["--epochs", "0"], "--epochs must be positive"),
])
def test_classifier_train_refuses_bad_options(capsys, args, expected):
    status, out, err = cli(capsys, "classifier", "train", *args)
    assert status == 2 and out == "" and expected in one_line(err)


def test_classifier_train_without_data_says_where_it_looked(capsys, tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise DownloadError("no network here")

    monkeypatch.setattr(minigan.data.mnist, "fetch", offline)
    status, out, err = cli(capsys, "classifier", "train", "--data-dir", tmp_path)
    assert status == 2 and out == ""
    assert "missing" in one_line(err) and str(tmp_path) in err


# ---------------------------------------------------------------- sanity

def test_sanity_prints_three_rows_as_json(capsys, classifier_file, synthetic_test_set):
    status, out, err = cli(capsys, "sanity", "--classifier", classifier_file, "--device", backend.get_device())
    assert status == 0, err
    report = json.loads(out)
    assert report["images_per_side"] == 200
    for row in ("real_vs_real", "real_vs_blurred", "real_vs_noise"):
        assert set(report[row]) == {"fid", "classifier_score", "classes_covered", "precision", "recall"}
        assert row in err  # the table, for a reader
    assert report["real_vs_real"]["fid"] < report["real_vs_noise"]["fid"]


def test_sanity_refuses_an_impossible_n(capsys, classifier_file, synthetic_test_set):
    status, _, err = cli(capsys, "sanity", "--classifier", classifier_file, "--n", 5000)
    assert status == 2 and "--n must be from 4 to 200" in one_line(err)
