"""Shared timing helpers for the benchmarks: interleaved medians, so two frameworks see the same machine state."""

from __future__ import annotations

import os

# Idle thread pools must not spin. After a call, OpenBLAS's worker threads (NumPy's
# GEMMs) busy-wait for up to ~0.1 s and PyTorch's OpenMP threads do too; on a 2-core
# machine, interleaving the two frameworks then hands each one's cores to the other's
# spinning threads. Measured here: with the defaults, PyTorch's DCGAN step took
# 160 ms instead of the 86 ms it takes alone. These settings must be made before
# NumPy and PyTorch load, so every benchmark imports this module first. A variable
# already set in the environment wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # OpenBLAS: spin 2^4 cycles, then sleep
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # OpenMP (PyTorch): sleep when idle

import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402


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
    spin = ", ".join(f"{k}={os.environ.get(k)}" for k in ("OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY"))
    try:
        import torch

        parts.append(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)")
    except ImportError:
        parts.append("PyTorch not installed")
    try:  # the GPU, where there is one and CuPy sees it
        import cupy

        name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
        parts.append(f"GPU {name.decode() if isinstance(name, bytes) else name}, CuPy {cupy.__version__}")
    except Exception:  # no CuPy, no driver or no GPU: a CPU machine
        pass
    return ", ".join(parts) + f"; {spin}"


def write_markdown(path, title, header, rows, notes=()):
    """Write a results file: a title, the command, machine and date, notes, then one Markdown table.

    chapters/book.py includes the table (the file's first run of lines starting with '|')
    in the chapters, so the numbers a chapter shows are the ones measured here.
    """
    import datetime
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent.as_posix() + "/"  # paths are written relative to the repository
    command = "python " + " ".join(a.replace(root, "") for a in [Path(sys.argv[0]).resolve().as_posix()] + sys.argv[1:])
    lines = [f"# {title}", "", f"Command: `{command}`", "",
             f"Date: {datetime.date.today().isoformat()}. Machine: {machine()}.", ""]
    lines += [f"{note}" for note in notes] + ([""] if notes else [])
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    Path(path).write_text("\n".join(lines) + "\n")
