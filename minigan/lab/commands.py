"""``python -m minigan lab EXPERIMENT``: run an experiment's grid over seeds and write its tables."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def add_lab_parser(sub):
    from .experiment import experiments

    p = sub.add_parser("lab", help="run an experiment: configurations x seeds, tabulated (mean ± s.e.)")
    p.add_argument("experiment", help=f"a shipped experiment ({', '.join(experiments())}) or a .toml file; "
                   "'list' prints the shipped ones")
    p.add_argument("--seeds", type=int, help="seeds 0..N-1 (default: the experiment's)")
    p.add_argument("--device", help="cpu or cuda (default: the preset's)")
    p.add_argument("--out", metavar="DIR", help="where the cells and results go (default runs/lab/<experiment>)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--budget", type=float, metavar="SECONDS", help="stop each cell after this much training time")
    length.add_argument("--steps", type=int, help="generator steps of every cell")
    p.add_argument("--jobs", type=int, help="parallel processes (default: the number of CPU cores)")
    p.add_argument("--only", action="append", metavar="CONFIG", help="run only this configuration (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="an override for every cell (repeatable)")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: rewrite results.csv/md and the plots from the cells already on disk")
    return p


def lab_command(args) -> int:
    from ..config import ConfigError, parse_assignments
    from .experiment import ExperimentError, experiments, load_experiment
    from .runner import run_experiment

    if args.experiment == "list":
        for name in experiments():
            e = load_experiment(name)
            print(f"{name:<28} {len(e.configs):>2} configurations x {e.seeds} seeds  {e.title}")
        return 0
    try:
        experiment = load_experiment(args.experiment)
        try:
            extra = parse_assignments(args.set)
        except ConfigError as err:
            raise ExperimentError(str(err)) from None
        if args.steps is not None:
            if args.steps <= 0:
                raise ExperimentError(f"--steps must be positive, got {args.steps}")
            extra["train.steps"] = args.steps
        if args.budget is not None:
            if args.budget <= 0:
                raise ExperimentError(f"--budget must be a positive number of seconds, got {args.budget}")
            extra["train.max_seconds"] = args.budget
        if args.device:
            from .. import backend

            backend.check_device(args.device)  # no GPU or no CuPy: one clear line now, not N failed cells
            extra["train.device"] = args.device
        if args.seeds is not None and args.seeds < 1:
            raise ExperimentError(f"--seeds must be at least 1, got {args.seeds}")
        if args.only:
            unknown = sorted(set(args.only) - set(experiment.configs))
            if unknown:
                raise ExperimentError(f"unknown configuration {', '.join(unknown)}; {experiment.name} has "
                                      f"{', '.join(experiment.configs)}")
        for name in experiment.configs:  # fail on a bad override now, not in every cell
            experiment.config_for(name, 0, extra)
        out = Path(args.out or Path("runs") / "lab" / experiment.name)
        command = "python -m minigan lab " + " ".join(shlex.quote(a) for a in sys.argv[2:]) \
            if len(sys.argv) > 2 and sys.argv[1] == "lab" else f"python -m minigan lab {args.experiment}"
        rows = run_experiment(experiment, out, seeds=args.seeds, jobs=args.jobs, extra=extra,
                              log=lambda m: print(m, file=sys.stderr), command=command, only=args.only,
                              report_only=args.report_only)
    except (ExperimentError, ValueError, RuntimeError) as err:
        print(f"python -m minigan lab: {err}", file=sys.stderr)
        return 2
    failed = [r for r in rows if r["status"] == "failed"]
    done = sum(r["status"] == "ok" for r in rows)
    print(f"results: {out / 'results.md'} ({done} of {len(rows)} cells ok, {len(failed)} failed)")
    return 1 if failed else 0
