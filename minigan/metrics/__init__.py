"""``minigan.metrics``: how good are the samples? Mode coverage for the 2-D mixtures."""

from .mixture import mixture_metrics  # noqa: F401
