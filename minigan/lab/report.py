"""An experiment's results: one row per cell (results.csv), mean and standard error per
configuration (results.md, as in the papers' tables), and pictures (samples.png, curves.png).

The standard error of a metric over n seeds is s / sqrt(n), with s the sample standard
deviation (n - 1 in the denominator); with one seed it is not defined and shown as "-".
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from ..gan.plots import _pyplot, image_grid, read_metrics
from ..io import atomic_write

IMAGE_METRICS = ("fid", "classifier_score", "classes_covered", "class_kl_from_uniform", "precision", "recall")
MIXTURE_METRICS = ("modes_covered", "high_quality", "reverse_kl")
STEP_METRICS = ("grad_norm_g", "grad_norm_d", "d_real", "d_fake")
LOWER_IS_BETTER = {"fid", "reverse_kl", "class_kl_from_uniform", "seconds", "sec_per_step"}


def cell_row(name, seed, path) -> dict:
    """What one cell measured: its final metrics, or its status and error."""
    path = Path(path)
    row = {"config": name, "seed": seed, "status": "missing", "error": ""}
    summary_file = path / "summary.json"
    if (path / "error.txt").exists() and not summary_file.exists():
        lines = [line for line in (path / "error.txt").read_text().strip().splitlines() if line.strip()]
        row.update(status="failed", error=lines[-1] if lines else "unknown error")
        return row
    if not summary_file.exists():
        return row
    summary = json.loads(summary_file.read_text())
    row["status"] = "ok"
    row.update(steps=summary.get("steps"), seconds=summary.get("seconds"), sec_per_step=summary.get("sec_per_step"))
    coverage = summary.get("mode_coverage") or {}
    for key in MIXTURE_METRICS:
        if key in coverage:
            row[key] = coverage[key]
    evaluation = summary.get("evaluation") or {}
    for key in IMAGE_METRICS:
        if key in evaluation:
            row[key] = evaluation[key]
    steps = [r for r in read_metrics(path / "metrics.jsonl") if "d_loss" in r]
    if steps:  # step quantities: the median over the last 10% of the run
        tail = steps[-max(1, len(steps) // 10):]
        for key in STEP_METRICS:
            row[key] = float(np.median([r[key] for r in tail]))
    row["alarms"] = ";".join(sorted({a["kind"] for a in summary.get("alarms", [])}))
    return row


def _defined(value) -> bool:
    return value is not None and value != "" and math.isfinite(float(value))


def mean_and_error(values):
    """(mean, standard error) of the finite values; error None for fewer than two values."""
    values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not values:
        return None, None
    mean = float(np.mean(values))
    error = float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
    return mean, error


def _format(mean, error, metric):
    if mean is None:
        return "-"
    digits = 0 if metric == "steps" else 1 if metric in ("fid", "seconds") else \
        2 if metric in ("modes_covered", "classes_covered") else 3
    if metric in ("grad_norm_g", "grad_norm_d", "sec_per_step"):
        text = f"{mean:.3g}" + ("" if error is None else f" ± {error:.2g}")
        return text
    return f"{mean:.{digits}f}" + ("" if error is None else f" ± {error:.{digits}f}")


def summarize(experiment, rows) -> list:
    """One dict per configuration: n ok, n failed, and (mean, s.e.) for each metric."""
    table = []
    for name in experiment.configs:
        mine = [r for r in rows if r["config"] == name]
        ok = [r for r in mine if r["status"] == "ok"]
        entry = {"config": name, "ok": len(ok), "failed": sum(r["status"] == "failed" for r in mine),
                 "missing": sum(r["status"] == "missing" for r in mine)}
        for metric in experiment.metrics:
            entry[metric] = mean_and_error([r.get(metric) for r in ok])
            entry[f"{metric}:n"] = sum(_defined(r.get(metric)) for r in ok)
        table.append(entry)
    return table


def markdown(experiment, table, rows, ran=()) -> str:
    out = io.StringIO()
    out.write(f"# {experiment.title}\n\n")
    if experiment.description:
        out.write(experiment.description + "\n\n")
    if ran:
        out.write("Cells trained by:\n\n")
        for run in ran:
            details = "; ".join(f"{k} {v}" for k, v in run.items() if k != "command")
            out.write(f"- `{run['command']}` ({details})\n")
        out.write("\n")
    out.write(f"Preset `{experiment.preset}`; base overrides: "
              + (", ".join(f"`{k} = {v}`" for k, v in experiment.base.items()) or "none") + ". "
              "Each entry is the mean ± standard error over the seeds that finished "
              "(s.e. = sample std / sqrt(n)); (n=k) marks a metric defined on only k of them "
              "(the reverse KL needs at least one high-quality sample).\n\n")
    header = ["configuration", "seeds"] + [m.replace("_", " ") for m in experiment.metrics] + ["changes from the base"]
    out.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
    for entry in table:
        seeds = f"{entry['ok']}" + (f" ({entry['failed']} failed)" if entry["failed"] else "") + \
            (f" ({entry['missing']} not run)" if entry["missing"] else "")
        changes = ", ".join(f"{k}={v}" for k, v in experiment.configs[entry["config"]].items()) or "—"
        # A metric undefined on some seeds (the reverse KL when no sample is high quality)
        # is averaged over the others, and says over how many.
        cells = [_format(*entry[m], m) + (f" (n={entry[m + ':n']})" if 0 < entry[m + ":n"] < entry["ok"] else "")
                 for m in experiment.metrics]
        out.write(f"| {entry['config']} | {seeds} | " + " | ".join(cells) + f" | {changes} |\n")
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        out.write("\nFailed cells:\n\n")
        for r in failed:
            out.write(f"- {r['config']} seed {r['seed']}: {r['error']}\n")
    return out.getvalue()


def write_report(experiment, out, cells, log=print) -> list:
    """results.csv, results.md, samples.png and curves.png in ``out``; returns the rows."""
    out = Path(out)
    rows = [cell_row(name, seed, path) for name, seed, _, path in cells]
    columns = ["config", "seed", "status", "steps", "seconds", "sec_per_step", *MIXTURE_METRICS, *IMAGE_METRICS,
               *STEP_METRICS, "alarms", "error"]
    with atomic_write(out / "results.csv", "w") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    table = summarize(experiment, rows)
    ran = [json.loads(line) for line in (out / "invocations.jsonl").read_text().splitlines() if line.strip()] \
        if (out / "invocations.jsonl").exists() else []
    text = markdown(experiment, table, rows, ran)
    with atomic_write(out / "results.md", "w") as f:
        f.write(text)
    try:
        save_samples_figure(experiment, cells, out / "samples.png")
        save_curves_figure(experiment, cells, out / "curves.png")
    except Exception as err:  # a picture that fails must not lose the tables
        log(f"warning: the plots could not be drawn: {type(err).__name__}: {err}")
    log(text)
    return rows


def save_samples_figure(experiment, cells, path, seed=0):
    """One panel per configuration: samples of its seed-0 run (scatter over the modes, or a digit grid)."""
    from .. import backend
    from ..gan.sampling import checkpoint_file, draw_samples, load_generator
    from ..data import mixture_modes

    device = backend.get_device()  # load_generator sets the device: put the caller's back afterwards
    try:
        panels = _sample_panels(cells, seed, load_generator, checkpoint_file, draw_samples)
    finally:
        backend.set_device(device)
    if not panels:
        return
    _draw_panels(panels, path, mixture_modes)


def _sample_panels(cells, seed, load_generator, checkpoint_file, draw_samples):
    panels = []
    for name, s, config, cell in cells:
        if s != seed or not (Path(cell) / "summary.json").exists():
            continue
        generator, config, _, _ = load_generator(checkpoint_file(cell), device="cpu")
        n = 1000 if config["data"]["dataset"] in ("ring", "grid") else 36
        panels.append((name, config, draw_samples(generator, n, config["model"])))
    return panels


def _draw_panels(panels, path, mixture_modes):
    plt = _pyplot()
    columns = min(4, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (name, config, samples) in zip(axes.ravel(), panels):
        ax.set_title(name, fontsize=9)
        if config["data"]["dataset"] in ("ring", "grid"):
            modes, _ = mixture_modes(config["data"]["dataset"])
            ax.scatter(modes[:, 0], modes[:, 1], s=40, c="tab:red", marker="x", linewidths=1)
            ax.scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.4)
            limit = 1.4 * float(np.abs(modes).max())
            ax.set_xlim(-limit, limit)
            ax.set_ylim(-limit, limit)
            ax.set_aspect("equal")
        else:
            ax.imshow(image_grid(samples, 6), cmap="gray", vmin=0, vmax=1)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_curves_figure(experiment, cells, path):
    """Metric-versus-step curves, averaged over seeds: evaluations (eval_every) and ``curves`` step series."""
    series = {}  # (panel, config) -> {step: [values over seeds]}
    for name, _, _, cell in cells:
        for r in read_metrics(Path(cell) / "metrics.jsonl"):
            if "eval" in r:
                for metric in experiment.metrics:
                    value = r["eval"].get(metric)
                    if isinstance(value, (int, float)) and value is not None:
                        series.setdefault((metric, name), {}).setdefault(r["step"], []).append(value)
            elif "d_loss" in r:
                for metric in experiment.curves:
                    series.setdefault((metric, name), {}).setdefault(r["step"], []).append(r[metric])
    panels = sorted({panel for panel, _ in series})
    if not panels:
        return
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for name in experiment.configs:
            points = series.get((panel, name))
            if not points:
                continue
            steps = np.array(sorted(points))
            values = np.array([np.mean(points[s]) for s in steps])
            if panel in experiment.curves and len(values) > 50:  # step series are noisy: a trailing moving average
                window = max(1, len(values) // 50)
                values = np.convolve(values, np.ones(window) / window, mode="valid")
                steps = steps[window - 1:]
            ax.plot(steps, values, label=name, linewidth=1)
        ax.set_title(panel.replace("_", " "))
        ax.set_xlabel("generator step")
        if panel.startswith("grad_norm"):
            ax.set_yscale("log")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
