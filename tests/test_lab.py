"""The stabilization lab: experiment files, the runner, the report, ``python -m minigan lab``, and a smoke run of each
shipped experiment.

The smoke test is the CI guard of issue 6: every shipped experiment (found at
collection time, so a new file is covered the day it lands) runs every one of its
configurations with one seed for three steps, so the runner and every technique
in it keep working (image experiments on the shared MNIST test images, their DCGANs
8 channels wide). The runner tests use a tiny experiment written here: 2
configurations x 2 seeds of 5 steps on the ring, with MLPs of 16 units.
"""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA
from minigan import backend
from minigan.cli import main
from minigan.gan.checkpoint import load_checkpoint
from minigan.gan.models import build_models
from minigan.lab import ExperimentError, experiments, load_experiment, run_experiment
from minigan.lab.experiment import KNOWN_METRICS
from minigan.lab.report import cell_row, mean_and_error
from minigan.lab.runner import cell_dir, cell_status

IMAGE_DATASETS = ("mnist", "fashion-mnist")
SMOKE = {"train.steps": 3, "train.eval_every": 0, "train.eval_samples": 200, "train.checkpoint_every": 3,
         "data.download": False}
STEP_KEYS = ("steps", "d_real", "d_fake", "grad_norm_g", "grad_norm_d", "modes_covered", "high_quality", "reverse_kl")
PNG = b"\x89PNG\r\n\x1a\n"


def silent(message):
    pass


def _fast_cell_plots(monkeypatch):
    """Each cell's own matplotlib plots cost more than its training: stand-ins write a marker file.

    The report's samples.png and curves.png are drawn for real.
    """
    from minigan.gan import plots

    def touch(path):
        Path(path).write_bytes(b"plot")

    monkeypatch.setattr(plots, "save_scatter", lambda samples, data, path, *args, **kwargs: touch(path))
    monkeypatch.setattr(plots, "save_image_grid", lambda images, path, *args, **kwargs: touch(path))
    monkeypatch.setattr(plots, "save_loss_plot", lambda metrics, path, *args, **kwargs: touch(path))
    monkeypatch.setattr(plots, "save_eval_plot", lambda metrics, path, *args, **kwargs: None)


@pytest.fixture(autouse=True)
def fast_plots(monkeypatch):
    _fast_cell_plots(monkeypatch)


@pytest.fixture(autouse=True)
def _session_device():
    """Cells and the report set the global device: put the session's back after each test."""
    device = backend.get_device()
    yield
    backend.set_device(device)


def read_csv(out):
    with open(Path(out) / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def table(out):
    """results.md's table as {configuration: {column: text}}."""
    lines = [line for line in (Path(out) / "results.md").read_text().splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header, cells))
    return rows


def cli(capsys, *args):
    try:
        status = main([str(a) for a in args])
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# ---------------------------------------------------------------- the shipped experiments

def _datasets(experiment):
    return {experiment.config_for(name, 0)["data"]["dataset"] for name in experiment.configs}


@pytest.mark.parametrize("name", experiments())
def test_every_shipped_experiment_loads_and_every_configuration_resolves(name):
    experiment = load_experiment(name)
    assert experiment.name == name and experiment.title and experiment.configs and experiment.seeds >= 1
    assert set(experiment.metrics) | set(experiment.curves) <= KNOWN_METRICS
    for config_name, changes in experiment.configs.items():
        config = experiment.config_for(config_name, 3)
        assert config["train"]["seed"] == 3 and config["train"]["progress"] is False
        for dotted in changes:
            section, _, key = dotted.partition(".")
            assert key in config[section]
        # What the trainer would refuse at construction, checked without building data.
        assert config["train"]["batch_size"] % config["model"]["pack"] == 0, config_name
        assert not (config["loss"]["feature_matching"] and config["optim"]["unrolled_steps"]), config_name
        build_models(config)


@pytest.mark.parametrize("name", experiments())
def test_every_shipped_experiment_runs_each_configuration_for_three_steps(name, tmp_path):
    """The CI smoke test: one seed, three steps, every configuration ok, one row each in results.csv and .md."""
    experiment = load_experiment(name)
    extra = dict(SMOKE, **{"train.device": backend.get_device()})
    images = _datasets(experiment) & set(IMAGE_DATASETS)
    if images:
        (dataset,) = images
        folder = SHARED_DATA / dataset
        if not (folder / "t10k-images-idx3-ubyte.gz").exists():
            pytest.skip(f"no shared {dataset} test images in {folder}")
        extra["data.data_dir"] = str(folder)
        extra["model.width"] = 8  # the DCGANs' channels (64 as shipped) cost 4x the time and test nothing more
    rows = run_experiment(experiment, tmp_path, seeds=1, jobs=1, extra=extra, log=silent)
    failed = {r["config"]: r["error"] for r in rows if r["status"] != "ok"}
    assert not failed
    csv_rows = read_csv(tmp_path)
    assert [r["config"] for r in csv_rows] == list(experiment.configs)
    assert all(r["status"] == "ok" and r["steps"] == "3" for r in csv_rows)
    md = table(tmp_path)
    assert list(md) == list(experiment.configs)
    assert all(row["seeds"] == "1" for row in md.values())


# ---------------------------------------------------------------- bad experiment files

GOOD_CONFIGS = '[[configs]]\nname = "a"\n'


@pytest.mark.parametrize("text, words", [
    ('titel = "typo"\n' + GOOD_CONFIGS, ["unknown entries titel"]),
    (GOOD_CONFIGS + GOOD_CONFIGS, ["two configurations", "'a'"]),
    ('[[configs]]\nname = "a"\nset = { "optim.lr_gg" = 1e-3 }\n', ["'a'", "optim.lr_gg"]),
    ('[[configs]]\nname = "a"\nset = { "optim.lr_g" = "fast" }\n', ["'a'", "optim.lr_g", "fast"]),
    ('[base]\n"train.stepz" = 5\n' + GOOD_CONFIGS, ["train.stepz"]),
    ('metrics = ["fidd"]\n' + GOOD_CONFIGS, ["unknown metrics fidd"]),
    ('curves = ["loss"]\n' + GOOD_CONFIGS, ["unknown metrics loss"]),
    ('title = "nothing to compare"\n', ["no [[configs]]"]),
    ('[[configs]]\nname = "a/b"\n', ["configs[0]", "'a/b'"]),
    ('[[configs]]\nset = { "loss.name" = "lsgan" }\n', ["configs[0]", "None"]),
    ('[[configs]]\nname = "a"\nsett = { "loss.name" = "lsgan" }\n', ["unknown entries sett"]),
    ("seeds = 0\n" + GOOD_CONFIGS, ["seeds", "0"]),
    ("seeds = true\n" + GOOD_CONFIGS, ["seeds", "True"]),
    ('metrics = "fid"\n' + GOOD_CONFIGS, ["metrics must be a list", "'fid'"]),
    ('[[configs]]\nname = "a"\nset = { "train.seed" = 3 }\n', ["train.seed is set by the lab", "--seeds"]),
    ('preset = "nope"\n' + GOOD_CONFIGS, ["unknown preset 'nope'"]),
    ("this is not toml\n", ["not valid TOML"]),
])
def test_a_bad_experiment_file_is_refused_naming_the_problem(text, words, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_an_unknown_shipped_experiment_lists_the_shipped_ones():
    with pytest.raises(ExperimentError) as info:
        load_experiment("no-such-experiment")
    assert "'no-such-experiment'" in str(info.value)
    assert all(name in str(info.value) for name in experiments())


# ---------------------------------------------------------------- the runner, on a tiny experiment

TINY = """
title = "A tiny experiment"
preset = "ring"
seeds = 2
metrics = ["d_real", "grad_norm_d", "high_quality", "seconds"]
curves = ["grad_norm_d"]

[base]
"train.steps" = 5
"train.checkpoint_every" = 2
"train.batch_size" = 32
"train.eval_samples" = 200
"data.n_samples" = 1000
"model.hidden" = 16
"model.d_hidden" = 16
"model.layers" = 2
"train.device" = "{device}"

[[configs]]
name = "plain"

[[configs]]
name = "lsgan"
set = {{ "loss.name" = "lsgan" }}
{more}"""

BOOM = '\n[[configs]]\nname = "boom"\nset = { "optim.name" = "sgd", "optim.lr_d" = 1e30, "optim.lr_g" = 1e30 }\n'


def write_experiment(folder, name="tiny", more=""):
    path = Path(folder) / f"{name}.toml"
    path.write_text(TINY.format(device=backend.get_device(), more=more))
    return path


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """The tiny experiment run once (2 configurations x 2 seeds, one process): (experiment, out, rows, log)."""
    folder = tmp_path_factory.mktemp("lab")
    experiment = load_experiment(write_experiment(folder))
    device, log = backend.get_device(), []
    with pytest.MonkeyPatch.context() as monkeypatch:
        _fast_cell_plots(monkeypatch)
        rows = run_experiment(experiment, folder / "out", jobs=1, log=log.append)
    backend.set_device(device)
    return experiment, folder / "out", rows, log


def final_weights(cell):
    state = load_checkpoint(sorted((Path(cell) / "checkpoints").glob("step-*.npz"))[-1])
    return state["step"], {f"{net}/{k}": v for net in ("generator", "discriminator") for k, v in state[net].items()}


def test_the_runner_trains_every_cell_and_writes_one_csv_row_each(done):
    experiment, out, rows, log = done
    assert [(r["config"], r["seed"], r["status"]) for r in rows] == [
        ("plain", 0, "ok"), ("plain", 1, "ok"), ("lsgan", 0, "ok"), ("lsgan", 1, "ok")]
    assert "4 cells (2 configurations x 2 seeds), 0 already done, 4 to run on 1 process(es)" in log[0]
    csv_rows = read_csv(out)
    assert [(r["config"], r["seed"], r["status"], r["steps"]) for r in csv_rows] == [
        (r["config"], str(r["seed"]), "ok", "5") for r in rows]
    for name in experiment.configs:
        for seed in range(2):
            cell = cell_dir(out, name, seed)
            assert cell_status(cell) == "done"
            assert json.loads((cell / "summary.json").read_text())["steps"] == 5
    assert (out / "experiment.toml").read_text() == Path(experiment.source).read_text()
    plain, lsgan = (np.array([float(r["d_real"]) for r in csv_rows if r["config"] == c]) for c in ("plain", "lsgan"))
    assert plain[0] != plain[1]  # the seeds differ


def _half_unit_of_last_digit(text):
    mantissa, _, exponent = text.partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (int(exponent or 0) - decimals)


def test_results_md_gives_the_mean_and_standard_error_of_the_csv_values(done):
    experiment, out, _, _ = done
    csv_rows, md = read_csv(out), table(out)
    for name in experiment.configs:
        assert md[name]["seeds"] == "2"
        for metric in experiment.metrics:
            values = np.array([float(r[metric]) for r in csv_rows if r["config"] == name])
            mean, error = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
            shown_mean, _, shown_error = md[name][metric.replace("_", " ")].partition(" ± ")
            assert abs(float(shown_mean) - mean) <= _half_unit_of_last_digit(shown_mean) * 1.001, (name, metric)
            assert abs(float(shown_error) - error) <= _half_unit_of_last_digit(shown_error) * 1.001, (name, metric)
    assert md["lsgan"]["changes from the base"] == "loss.name=lsgan"


def test_mean_and_error_skip_missing_and_infinite_values():
    assert mean_and_error([]) == (None, None)
    assert mean_and_error([2.0, None, float("inf")]) == (2.0, None)  # one value: no standard error
    mean, error = mean_and_error([1.0, 2.0, 4.0, float("nan")])
    np.testing.assert_allclose([mean, error], [7 / 3, np.std([1, 2, 4], ddof=1) / np.sqrt(3)], rtol=1e-12)


def test_the_report_draws_samples_and_curves(done):
    _, out, _, _ = done
    for name in ("samples.png", "curves.png"):
        assert (out / name).read_bytes()[:8] == PNG, name


def test_running_again_skips_the_cells_that_are_done(done):
    experiment, out, rows, _ = done
    summaries = sorted(out.glob("cells/*/seed-*/summary.json"))
    assert len(summaries) == 4
    stamps = [p.stat().st_mtime_ns for p in summaries]
    log = []
    again = run_experiment(experiment, out, jobs=1, log=log.append)
    assert "4 already done, 0 to run" in log[0]
    assert [p.stat().st_mtime_ns for p in summaries] == stamps
    assert [{k: r.get(k) for k in STEP_KEYS} for r in again] == [{k: r.get(k) for k in STEP_KEYS} for r in rows]


def test_a_changed_configuration_for_done_cells_is_refused(done, capsys):
    experiment, out, _, _ = done
    stamp = (out / "results.csv").stat().st_mtime_ns
    with pytest.raises(ExperimentError, match=r"different configuration \(train.steps changed\)"):
        run_experiment(experiment, out, jobs=1, extra={"train.steps": 6}, log=silent)
    status, stdout, stderr = cli(capsys, "lab", experiment.source, "--out", out, "--set", "optim.lr_d=0.01")
    assert status == 2 and stdout == "" and "optim.lr_d changed" in stderr
    assert (out / "results.csv").stat().st_mtime_ns == stamp


def test_a_failed_cell_with_checkpoints_is_not_resumed_under_a_changed_configuration(done, tmp_path):
    experiment, out, _, _ = done
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    cell = cell_dir(copy, "plain", 0)
    (cell / "summary.json").unlink()
    (cell / "checkpoints" / "step-0000005.npz").unlink()
    (cell / "error.txt").write_text("Traceback ...\nRuntimeError: killed late\n")
    assert cell_status(cell) == "failed"
    with pytest.raises(ExperimentError, match=r"different configuration \(model.pack changed\)"):
        run_experiment(experiment, copy, jobs=1, extra={"model.pack": 2}, log=silent)


def test_running_an_experiment_leaves_the_callers_device_as_it_was(done, tmp_path):
    experiment, out, _, _ = done
    device = backend.get_device()
    run_experiment(experiment, out, jobs=1, log=silent)  # all cells done: only the report (and its samples) run
    assert backend.get_device() == device
    assert (out / "samples.png").exists()


def test_a_partial_cell_resumes_from_its_checkpoint_and_ends_as_if_never_stopped(done, tmp_path):
    experiment, out, _, _ = done
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    cell = cell_dir(copy, "plain", 0)
    _, expected = final_weights(cell)
    (cell / "summary.json").unlink()
    (cell / "checkpoints" / "step-0000005.npz").unlink()
    assert cell_status(cell) == "partial"
    log = []
    rows = run_experiment(experiment, copy, jobs=1, log=log.append)
    assert "3 already done, 1 to run" in log[0]
    assert all(r["status"] == "ok" for r in rows)
    assert "resumed from" in (cell / "log.txt").read_text() and "at step 4" in (cell / "log.txt").read_text()
    step, resumed = final_weights(cell)
    assert step == 5 and resumed.keys() == expected.keys()
    for k in expected:
        np.testing.assert_array_equal(resumed[k], expected[k], err_msg=k)
    steps = [json.loads(line)["step"] for line in (cell / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]


def test_parallel_processes_give_the_same_results_as_one(done, tmp_path):
    """jobs=2 runs cells in spawned processes: each cell's numbers and weights are those of the one-process run."""
    experiment, out, rows, _ = done
    parallel = run_experiment(experiment, tmp_path, seeds=1, jobs=2, log=silent)
    assert [r["status"] for r in parallel] == ["ok", "ok"]
    for row in parallel:
        same = next(r for r in rows if (r["config"], r["seed"]) == (row["config"], row["seed"]))
        assert {k: row.get(k) for k in STEP_KEYS} == {k: same.get(k) for k in STEP_KEYS}
        a, b = final_weights(cell_dir(tmp_path, row["config"], 0))[1], final_weights(cell_dir(out, row["config"], 0))[1]
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_cell_row_of_a_cell_never_run_is_missing(tmp_path):
    row = cell_row("plain", 0, tmp_path / "nowhere")
    assert row["status"] == "missing" and row["config"] == "plain"


# ---------------------------------------------------------------- python -m minigan lab

@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_a_failing_cell_is_reported_while_the_others_finish_and_the_command_exits_1(tmp_path, capsys):
    path = write_experiment(tmp_path, more=BOOM)
    out = tmp_path / "out"
    status, stdout, stderr = cli(capsys, "lab", path, "--seeds", 1, "--jobs", 1, "--out", out)
    assert status == 1
    assert "2 of 3 cells ok" in stdout
    rows = {r["config"]: r for r in read_csv(out)}
    assert rows["plain"]["status"] == rows["lsgan"]["status"] == "ok"
    assert rows["boom"]["status"] == "failed" and "training stopped at step 1" in rows["boom"]["error"]
    error = (cell_dir(out, "boom", 0) / "error.txt").read_text()
    assert "TrainingDiverged" in error and "Traceback" in error
    md = (out / "results.md").read_text()
    assert "| boom | 0 (1 failed) |" in md
    assert "Failed cells:" in md and "- boom seed 0:" in md and "training stopped at step 1" in md
    assert cell_status(cell_dir(out, "boom", 0)) == "failed"


def test_lab_list_prints_the_shipped_experiments(capsys):
    status, stdout, _ = cli(capsys, "lab", "list")
    assert status == 0
    names = [line.split()[0] for line in stdout.splitlines() if line.strip()]
    assert names == experiments()
    for name in experiments():
        line = next(line for line in stdout.splitlines() if line.startswith(name))
        assert f"{len(load_experiment(name).configs)} configurations" in line


def test_only_runs_the_named_configuration(tmp_path, capsys):
    path, out = write_experiment(tmp_path), tmp_path / "out"
    status, stdout, stderr = cli(capsys, "lab", path, "--only", "lsgan", "--seeds", 1, "--jobs", 1, "--out", out)
    assert status == 0, stderr
    assert "1 of 2 cells ok, 0 failed" in stdout
    assert [p.name for p in (out / "cells").iterdir()] == ["lsgan"]
    # The report still lists every configuration: the one not run shows as missing, not as failed.
    assert {r["config"]: r["status"] for r in read_csv(out)} == {"plain": "missing", "lsgan": "ok"}
    assert "(1 not run)" in (out / "results.md").read_text()
    status, stdout, stderr = cli(capsys, "lab", path, "--only", "plain", "--seeds", 1, "--jobs", 1, "--out", out)
    assert status == 0 and "2 of 2 cells ok" in stdout, stderr
    status, _, stderr = cli(capsys, "lab", path, "--only", "nope", "--out", tmp_path / "other")
    assert status == 2 and "nope" in stderr and "plain, lsgan" in stderr
    assert not (tmp_path / "other").exists()


def test_budget_stops_each_cell_after_that_many_seconds(tmp_path, capsys):
    path, out = write_experiment(tmp_path), tmp_path / "out"
    status, stdout, stderr = cli(capsys, "lab", path, "--only", "plain", "--seeds", 1, "--jobs", 1, "--out", out,
                                 "--budget", 0.3, "--set", "train.steps=100000")
    assert status == 0, stderr
    cell = cell_dir(out, "plain", 0)
    assert "max_seconds = 0.3" in (cell / "config.toml").read_text()
    summary = json.loads((cell / "summary.json").read_text())
    assert "max_seconds" in summary["stopped"] and 0 < summary["steps"] < 100_000
    assert next(r for r in read_csv(out) if r["config"] == "plain")["steps"] == str(summary["steps"])


@pytest.mark.parametrize("args, words", [
    (["no-such-experiment"], ["unknown experiment"]),
    (["{path}", "--steps", "0"], ["--steps"]),
    (["{path}", "--budget", "-1"], ["--budget"]),
    (["{path}", "--seeds", "0"], ["--seeds"]),
    (["{path}", "--set", "train.stepz=3"], ["train.stepz"]),
    (["{path}", "--set", "nokey"], ["SECTION.KEY=VALUE"]),
    (["{path}", "--set", "train.seed=5"], ["train.seed is set by the lab", "--seeds"]),
    (["{path}", "--device", "tpu"], ["tpu"]),
])
def test_bad_lab_arguments_exit_2_with_one_line(args, words, tmp_path, capsys):
    path = write_experiment(tmp_path)
    status, stdout, stderr = cli(capsys, "lab", *[a.format(path=path) for a in args], "--out", tmp_path / "out")
    assert status == 2 and stdout == ""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("python -m minigan lab")
    for word in words:
        assert word in lines[0]
    assert not (tmp_path / "out").exists()


def test_report_only_trains_nothing_and_rewrites_the_tables(done, tmp_path, capsys):
    experiment, out, _, _ = done
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "results.md").unlink()
    stamps = {p: p.stat().st_mtime_ns for p in (copy / "cells").rglob("summary.json")}
    status, stdout, stderr = cli(capsys, "lab", experiment.source, "--out", copy, "--seeds", 3, "--report-only")
    assert status == 0, stderr
    assert "0 to run" in stderr and "4 of 6 cells ok, 0 failed" in stdout
    assert {p: p.stat().st_mtime_ns for p in (copy / "cells").rglob("summary.json")} == stamps
    text = (copy / "results.md").read_text()
    assert "(1 not run)" in text


def test_each_invocation_that_trained_cells_is_listed_in_results_md(done):
    _, out, _, _ = done
    (invocation,) = [json.loads(line) for line in (out / "invocations.jsonl").read_text().splitlines()]
    assert invocation["cells"] == 4 and invocation["processes"] == 1 and "CPU cores" in invocation["machine"]
    text = (out / "results.md").read_text()
    assert "Cells trained by:" in text and invocation["command"] in text
