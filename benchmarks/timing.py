"""Shared timing helpers for the benchmarks: interleaved medians, so two frameworks see the same machine state."""

from __future__ import annotations

import platform
import statistics
import time


def interleaved(cases: dict, repeats: int = 30, warmup: int = 3) -> dict:
    """Time each zero-argument callable in ``cases`` ``repeats`` times, round-robin; return medians in ms.

    Interleaving (a, b, a, b, ...) rather than (a, a, ..., b, b, ...) keeps slow drifts of the
    machine (frequency, other load) from favouring one side.
    """
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(values) for name, values in samples.items()}


def machine() -> str:
    import os

    import numpy

    parts = [platform.processor() or platform.machine(), f"{os.cpu_count()} cores", f"Python {platform.python_version()}", f"NumPy {numpy.__version__}"]
    try:
        import torch

        parts.append(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)")
    except ImportError:
        parts.append("PyTorch not installed")
    return ", ".join(parts)
