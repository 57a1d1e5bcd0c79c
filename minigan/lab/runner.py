"""Running an experiment's cells (configuration x seed): in parallel processes, resumably, failures kept.

Each cell is an ordinary training run in ``OUT/cells/<config>/seed-<k>/``. A cell is
done when its summary.json exists, so running the experiment again runs only what
is missing; a cell that was interrupted resumes from its last checkpoint; a cell
that fails leaves its traceback in error.txt and a row marked "failed" in the
results, and the other cells go on.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

from ..config import dumps, resolve
from .experiment import ExperimentError
from .report import write_report

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def cell_dir(out, config_name, seed) -> Path:
    return Path(out) / "cells" / config_name / f"seed-{seed}"


def cell_status(path) -> str:
    """'done', 'failed', 'partial' (has checkpoints to resume from) or 'new'."""
    path = Path(path)
    if (path / "summary.json").exists():
        return "done"
    if (path / "error.txt").exists():
        return "failed"
    if any((path / "checkpoints").glob("step-*.npz")):
        return "partial"
    return "new"


def run_cell(job) -> dict:
    """Train one cell; never raises: a failure comes back as {'status': 'failed', 'error': ...}."""
    config, out = job
    out = Path(out)
    from ..gan.trainer import Trainer

    started = time.perf_counter()
    resume = any((out / "checkpoints").glob("step-*.npz"))
    if not resume and out.exists():
        shutil.rmtree(out)  # started but never checkpointed: nothing to keep, start clean
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "log.txt", "a") as log:
        def say(message):
            print(message, file=log, flush=True)

        try:
            import warnings

            # Warnings (MNIST's "test split used", NumPy's overflow in a diverging cell) would repeat for
            # every cell; what matters reaches the cell's log, summary.json or error.txt.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trainer = Trainer(config, out, resume=resume, log=say)
                trainer.train()
        except Exception as err:  # a failed cell is reported, not fatal to the experiment
            (out / "error.txt").write_text(traceback.format_exc())
            say(traceback.format_exc())
            return {"path": str(out), "status": "failed", "error": f"{type(err).__name__}: {err}",
                    "seconds": time.perf_counter() - started}
    (out / "error.txt").unlink(missing_ok=True)
    return {"path": str(out), "status": "ok", "seconds": time.perf_counter() - started}


@contextmanager
def _one_thread_per_process():
    """Worker processes inherit this environment: one BLAS thread each, so N jobs use N cores."""
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update({k: "1" for k in THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def plan(experiment, out, seeds=None, extra=None):
    """[(config name, seed, resolved config, cell dir)] for every cell; refuses a cell run with another config."""
    cells = []
    for name in experiment.configs:
        for seed in range(seeds or experiment.seeds):
            config = experiment.config_for(name, seed, extra)
            path = cell_dir(out, name, seed)
            saved = path / "config.toml"
            if saved.exists() and (cell_status(path) == "done" or any((path / "checkpoints").glob("step-*.npz"))):
                before = resolve(config_file=saved)
                before.pop("preset", None)
                now = {k: v for k, v in config.items() if k != "preset"}
                changed = sorted(f"{s}.{k}" for s in now for k in now[s] if before.get(s, {}).get(k) != now[s][k])
                if changed:
                    raise ExperimentError(
                        f"{path} was run with a different configuration ({', '.join(changed)} changed); "
                        "choose another --out, or delete that directory to run it again")
            cells.append((name, seed, config, path))
    return cells


def run_experiment(experiment, out, seeds=None, jobs=None, extra=None, log=print, command="", only=None,
                   report_only=False) -> dict:
    """Run every missing cell of ``experiment`` into ``out`` and write the report; returns the report's rows.

    ``only`` (configuration names) limits what runs; the report still covers every configuration,
    so cells run earlier stay in the tables. ``report_only`` runs nothing and rewrites the report.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cells = plan(experiment, out, seeds, extra)
    todo = [(config, str(path)) for name, _, config, path in cells
            if cell_status(path) != "done" and (not only or name in only) and not report_only]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    finished = sum(cell_status(path) == "done" for *_, path in cells)
    left_out = len(cells) - finished - len(todo)
    log(f"{experiment.name}: {len(cells)} cells ({len(experiment.configs)} configurations x "
        f"{seeds or experiment.seeds} seeds), {finished} already done, {len(todo)} to run on {jobs} process(es)"
        + (f", {left_out} left out by --only" if left_out else ""))
    (out / "experiment.toml").write_text(Path(experiment.source).read_text())
    started = time.perf_counter()
    results = []
    if jobs == 1:
        for job in todo:
            results.append(run_cell(job))
            _say(results[-1], len(results), len(todo), log)
    else:
        with _one_thread_per_process(), ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(run_cell, job) for job in todo]
            for job, future in zip(todo, futures):
                try:
                    result = future.result()
                except Exception as err:  # the worker process itself died (killed, out of memory)
                    result = {"path": job[1], "status": "failed", "error": f"worker process died: {err!r}"}
                    Path(job[1]).mkdir(parents=True, exist_ok=True)
                    (Path(job[1]) / "error.txt").write_text(result["error"] + "\n")
                results.append(result)
                _say(result, len(results), len(todo), log)
    if todo:  # the report lists every invocation that trained cells here, with its machine
        invocation = {
            "command": command or f"run_experiment({experiment.name!r})",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()} {platform.release()}",
            "python": sys.version.split()[0],
            "processes": jobs,
            "cells": len(todo),
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
        with open(out / "invocations.jsonl", "a") as f:
            f.write(json.dumps(invocation) + "\n")
    return write_report(experiment, out, cells, log=log)


def _say(result, done, total, log):
    status = "ok" if result["status"] == "ok" else f"FAILED: {result['error']}"
    log(f"[{done}/{total}] {result['path']}: {status} ({result['seconds']:.0f} s)" if "seconds" in result
        else f"[{done}/{total}] {result['path']}: {status}")


__all__ = ["run_experiment", "run_cell", "plan", "cell_status", "cell_dir", "dumps"]
