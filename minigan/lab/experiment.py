"""An experiment: a base preset, the configurations to compare, the seeds and the metrics to report.

A file in ``minigan/lab/experiments/`` reads like this::

    title = "Techniques against mode collapse on the ring"
    preset = "ring"                    # the starting point of every configuration
    seeds = 10
    metrics = ["modes_covered", "high_quality", "reverse_kl"]
    [base]                             # overrides shared by every configuration
    "train.steps" = 3000
    [[configs]]
    name = "vanilla"
    [[configs]]
    name = "pacgan2"
    set = { "model.pack" = 2 }

Every override is checked against the config schema when the file is read, so a
typo fails before any training starts.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ConfigError, load_toml, resolve

EXPERIMENT_DIR = Path(__file__).parent / "experiments"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]*$")  # configuration names become directory names

# Metrics the report knows how to read from a cell's summary.json and metrics.jsonl.
KNOWN_METRICS = {
    "modes_covered", "high_quality", "reverse_kl",                      # 2-D mixtures
    "fid", "classifier_score", "classes_covered", "class_kl_from_uniform", "precision", "recall",  # images
    "grad_norm_g", "grad_norm_d", "d_real", "d_fake",                   # medians over the last 10% of steps
    "seconds", "sec_per_step", "steps",
}


class ExperimentError(ValueError):
    """An experiment file that cannot be run as written; the message names the file and the entry."""


@dataclass
class Experiment:
    name: str
    title: str
    preset: str
    seeds: int
    metrics: list
    configs: dict                     # name -> {"section.key": value}
    base: dict = field(default_factory=dict)
    curves: list = field(default_factory=list)
    description: str = ""
    source: str = ""

    def config_for(self, name: str, seed: int, extra: dict | None = None) -> dict:
        """The resolved run config of one cell: preset, then base, then the configuration, then ``extra``."""
        if "train.seed" in (extra or {}) or "train.seed" in self.base or "train.seed" in self.configs[name]:
            raise ExperimentError("train.seed is set by the lab (seeds 0..N-1); choose how many with --seeds")
        overrides = {**self.base, **self.configs[name], **(extra or {}), "train.seed": seed}
        overrides.setdefault("train.progress", False)
        return resolve(self.preset, overrides=overrides)


def experiments() -> list:
    """The names of the shipped experiments."""
    return sorted(p.stem for p in EXPERIMENT_DIR.glob("*.toml"))


def load_experiment(name_or_path) -> Experiment:
    """A shipped experiment by name, or an experiment file by path; validated entry by entry."""
    path = Path(name_or_path)
    if not path.suffix:
        path = EXPERIMENT_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ExperimentError(f"unknown experiment {name_or_path!r}; shipped: {', '.join(experiments())} "
                                  "(or give the path of a .toml file)")
    try:
        raw = load_toml(path)
    except ConfigError as err:
        raise ExperimentError(str(err)) from None
    where = str(path)
    allowed = {"title", "description", "preset", "seeds", "metrics", "curves", "base", "configs"}
    unknown = set(raw) - allowed
    if unknown:
        raise ExperimentError(f"{where}: unknown entries {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")
    configs = {}
    for i, entry in enumerate(raw.get("configs", [])):
        name = entry.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise ExperimentError(f"{where}: configs[{i}] needs a name of letters, digits, '.', '_', '+', '=' or '-', got {name!r}")
        if name in configs:
            raise ExperimentError(f"{where}: two configurations are called {name!r}")
        extra = set(entry) - {"name", "set"}
        if extra:
            raise ExperimentError(f"{where}: configs[{i}] ({name}) has unknown entries {', '.join(sorted(extra))}; use name and set")
        configs[name] = dict(entry.get("set", {}))
    if not configs:
        raise ExperimentError(f"{where}: no [[configs]]; an experiment compares at least one configuration")
    for key in ("metrics", "curves"):
        if not isinstance(raw.get(key, []), list):
            raise ExperimentError(f"{where}: {key} must be a list of names, e.g. {key} = [\"fid\"], got {raw[key]!r}")
    metrics = list(raw.get("metrics", []))
    bad = [m for m in metrics + list(raw.get("curves", [])) if m not in KNOWN_METRICS]
    if bad:
        raise ExperimentError(f"{where}: unknown metrics {', '.join(bad)}; known: {', '.join(sorted(KNOWN_METRICS))}")
    seeds = raw.get("seeds", 3)
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ExperimentError(f"{where}: seeds must be a positive integer, got {seeds!r}")
    experiment = Experiment(
        name=path.stem, title=raw.get("title", path.stem), preset=raw.get("preset", "ring"), seeds=seeds,
        metrics=metrics, configs=configs, base=dict(raw.get("base", {})), curves=list(raw.get("curves", [])),
        description=raw.get("description", "").strip(), source=str(path),
    )
    for name in configs:  # resolve every configuration now: a typo fails before hours of training
        try:
            experiment.config_for(name, 0)
        except (ConfigError, ExperimentError) as err:
            raise ExperimentError(f"{where}: configuration {name!r}: {err}") from None
    return copy.deepcopy(experiment)
