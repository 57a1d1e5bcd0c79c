"""The stabilization lab: grids of training configurations, run over seeds, tabulated like the papers.

``python -m minigan lab ring-techniques`` runs an experiment (a readable TOML file in
``minigan/lab/experiments/``, or any path); ``experiment.py`` reads it, ``runner.py``
runs its cells (configuration x seed) in parallel processes, resumably, and
``report.py`` writes results.csv, results.md and the plots.
"""

from .experiment import Experiment, ExperimentError, experiments, load_experiment  # noqa: F401
from .runner import run_experiment  # noqa: F401
