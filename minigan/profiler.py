"""Where the time goes: per-op wall-clock time of forward and backward passes.

    with minigan.profiler.profile() as prof:
        train_step()
    print(prof.table())

Every ``Function.forward`` and every node's ``backward`` is timed. A backward is
itself made of ops (it is written with Tensor ops), so times are *self* times: a
node's backward row counts only the time not spent in the ops it called, which
appear on rows of their own, labelled with the backward they ran in
("ConvTranspose2d in Conv2d.backward"). The rows therefore add up to the time the
profiled code spent inside the autograd engine; what is left (optimizer updates,
Python between ops) is reported as "outside ops".

On a GPU, ops are launched asynchronously: times there measure launches unless
``synchronize=True``, which waits for the device after each op (slower, but honest).
"""

from __future__ import annotations

import time
from collections import defaultdict

from . import autograd


class Profile:
    """Collects (label -> calls, self seconds) while active; see ``profile``."""

    def __init__(self, synchronize=False):
        self.synchronize = synchronize
        self.calls = defaultdict(int)
        self.seconds = defaultdict(float)
        self.wall = 0.0
        self._stack = []  # [label, start, child seconds] frames of the ops running now
        self._context = []  # the backward we are in, if any ("Conv2d.backward")

    # The engine calls these two around every forward and every backward.
    def enter(self, label):
        if self._context and not label.endswith(".backward"):
            label = f"{label} in {self._context[-1]}"
        self._stack.append([label, time.perf_counter(), 0.0])
        if label.endswith(".backward"):
            self._context.append(label)

    def exit(self, device_sync=None):
        if self.synchronize and device_sync is not None:
            device_sync()
        label, start, children = self._stack.pop()
        if label.endswith(".backward"):
            self._context.pop()
        elapsed = time.perf_counter() - start
        self.calls[label] += 1
        self.seconds[label] += elapsed - children
        if self._stack:
            self._stack[-1][2] += elapsed

    def rows(self):
        """[(label, calls, self ms)] sorted by time, most first."""
        return sorted(((k, self.calls[k], self.seconds[k] * 1e3) for k in self.calls), key=lambda r: -r[2])

    def summary(self, per=1, top=None):
        """[(label, calls, ms, share)] divided by ``per`` (e.g. the steps profiled): the ``top`` op rows,
        then "other ops" (the rest, if any), "outside ops" and "total" (calls None where they mean nothing)."""
        wall = self.wall * 1e3
        rows = self.rows()
        shown, rest = (rows[:top], rows[top:]) if top else (rows, [])
        out = [(label, calls / per, ms / per) for label, calls, ms in shown]
        if rest:
            out.append((f"other ops ({len(rest)} rows)", sum(r[1] for r in rest) / per, sum(r[2] for r in rest) / per))
        out.append(("outside ops", None, (wall - sum(self.seconds.values()) * 1e3) / per))
        out.append(("total", None, wall / per))
        return [(label, calls, ms, ms * per / max(wall, 1e-9)) for label, calls, ms in out]

    def table(self, per=1, top=None):
        """A text table of ``summary``: self times in ms, divided by ``per``."""
        rows = self.summary(per, top)
        width = max([len(r[0]) for r in rows] + [20])
        lines = [f"{'op':<{width}} {'calls':>7} {'ms':>9} {'share':>6}"]
        for label, calls, ms, share in rows:
            calls = "" if calls is None else f"{calls:.0f}"
            lines.append(f"{label:<{width}} {calls:>7} {ms:>9.2f} {share:>6.1%}")
        return "\n".join(lines)

    def __enter__(self):
        if autograd._profiler is not None:
            raise RuntimeError("profile: a profile is already running; profiles do not nest")
        autograd._profiler = self
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._start
        autograd._profiler = None
        return False


def profile(synchronize=False):
    """A context manager that records per-op self times: ``with profile() as prof: ...; prof.table()``."""
    return Profile(synchronize)
