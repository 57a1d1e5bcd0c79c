"""Alarms that teach: watch a run for the three classic GAN failures and say what is happening.

- mode collapse: the modes (2-D) or classes (images) covered fall below a share of all;
- vanishing gradients: the generator's gradient norm stays tiny for a window of
  steps while the discriminator wins (D(x) near 1, D(G(z)) near 0);
- oscillation: the generator loss, smoothed, swings up and down again and again over a
  window around its trend, without its level moving.

Each alarm names the quantity, the window and the threshold, and points to the
chapter that explains it. An alarm fires once when its condition starts, and again
only after the condition has stayed clear for a whole window (or one evaluation).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

CHAPTER = "chapters/10-evaluating-gans.md"


@dataclass
class Alarm:
    kind: str     # mode-collapse | vanishing-gradients | oscillation
    step: int
    message: str

    def as_dict(self):
        return asdict(self)


class AlarmMonitor:
    """Feed it every step's numbers (``observe_step``) and every evaluation (``observe_eval``)."""

    def __init__(self, window=200, vanishing_grad_norm=1e-2, d_wins_margin=0.8, min_coverage=0.75,
                 oscillation_amplitude=1.0, uses_probabilities=True):
        self.window, self.vanishing_grad_norm = window, vanishing_grad_norm
        self.d_wins_margin, self.min_coverage = d_wins_margin, min_coverage
        self.oscillation_amplitude, self.uses_probabilities = oscillation_amplitude, uses_probabilities
        self.history = deque(maxlen=window)
        self.active = set()  # alarms that fired and have not been clear long enough to fire again
        self.clear_for = {}  # kind -> consecutive observations without the condition

    def _fire(self, kind, condition, step, message, rearm_after):
        if not condition:
            self.clear_for[kind] = self.clear_for.get(kind, 0) + 1
            if self.clear_for[kind] >= rearm_after:
                self.active.discard(kind)
            return []
        self.clear_for[kind] = 0
        if kind in self.active:
            return []
        self.active.add(kind)
        return [Alarm(kind, step, f"{message} See {CHAPTER}.")]

    def observe_step(self, numbers: dict) -> list:
        self.history.append(numbers)
        if len(self.history) < self.window:
            return []
        step, w = numbers["step"], self.window
        grad_g = np.array([r["grad_norm_g"] for r in self.history])
        d_real = np.mean([r["d_real"] for r in self.history])
        d_fake = np.mean([r["d_fake"] for r in self.history])
        alarms = []
        if self.uses_probabilities:  # "D wins" is a statement about probabilities
            vanishing = grad_g.max() < self.vanishing_grad_norm and d_real - d_fake > self.d_wins_margin
            alarms += self._fire(
                "vanishing-gradients", vanishing, step,
                f"vanishing gradients at step {step}: the generator's gradient norm stayed below "
                f"{self.vanishing_grad_norm:g} for the last {w} steps (largest {grad_g.max():.2e}) while the "
                f"discriminator wins (mean D(x) {d_real:.3f}, mean D(G(z)) {d_fake:.3f}, gap above "
                f"{self.d_wins_margin:g}). The saturating loss does this; try the non-saturating one.",
                rearm_after=w,
            )
        # Smooth away step-to-step noise (a moving average over a tenth of the window) and the
        # loss's straight-line course over the window (a loss that falls or rises steadily is
        # moving, not oscillating), then look for slow swings around that line: a peak-to-peak
        # range that is large, and far larger than what the smoothed noise alone would reach
        # (6 of its standard deviations, the noise measured from first differences), crossed
        # back and forth at least twice in each direction, with a level that barely moves.
        g_loss = np.array([r["g_loss"] for r in self.history])
        width = max(1, w // 10)
        smooth = np.convolve(g_loss, np.ones(width) / width, mode="valid")
        t = np.arange(len(smooth)) - (len(smooth) - 1) / 2
        course = smooth.mean() + t * (t @ (smooth - smooth.mean())) / (t @ t)  # least-squares line
        wobble = smooth - course
        swing = wobble.max() - wobble.min()
        noise = np.diff(g_loss).std() / np.sqrt(2 * width)
        crossings = int(np.count_nonzero(np.diff(np.sign(wobble))))
        drift = abs(course[-1] - course[0])
        oscillating = (swing > self.oscillation_amplitude and swing > 6 * noise and crossings >= 4
                       and drift < 0.5 * swing)
        alarms += self._fire(
            "oscillation", oscillating, step,
            f"oscillation at step {step}: over the last {w} steps the smoothed generator loss swung through "
            f"{swing:.3g} around its trend (threshold {self.oscillation_amplitude:g}), crossing it {crossings} times, while "
            f"its level moved by only {drift:.3g}. Lower the learning rates, use beta1 = 0.5, or TTUR.",
            rearm_after=w,
        )
        return alarms

    def observe_eval(self, step: int, covered: int, total: int, what: str = "modes") -> list:
        """``covered`` of ``total`` modes (2-D) or classes (images) in the latest evaluation."""
        threshold = self.min_coverage * total
        if covered == 0:
            advice = ("None at all usually means the generator has not reached the data yet, which is "
                      "normal early in training; if it persists, lower the learning rates.")
        else:
            advice = (f"The generator is producing a few {what} only; see packing, minibatch "
                      "discrimination or unrolled GANs.")
        return self._fire(
            "mode-collapse", covered < threshold, step,
            f"mode collapse at step {step}: {covered} of {total} {what} covered, below the threshold of "
            f"{self.min_coverage:.0%} ({threshold:g}). {advice}",
            rearm_after=1,
        )
