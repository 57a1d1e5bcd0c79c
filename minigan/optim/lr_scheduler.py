"""Learning-rate schedules: scale each group's initial lr by a factor of the step count.

As in PyTorch, call ``scheduler.step()`` once after each ``optimizer.step()``.
"""

from __future__ import annotations

import math


class LambdaLR:
    """lr_t = initial_lr * factor(t), for every parameter group."""

    def __init__(self, optimizer, factor):
        self.optimizer, self.factor = optimizer, factor
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.last_step = 0
        self._apply()

    def _apply(self):
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * self.factor(self.last_step)

    def step(self):
        self.last_step += 1
        self._apply()

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        return {"last_step": self.last_step}

    def load_state_dict(self, state):
        self.last_step = int(state["last_step"])
        self._apply()


class LinearLR(LambdaLR):
    """Linear decay from the initial lr to ``end_factor`` times it over ``total_steps`` (then constant)."""

    def __init__(self, optimizer, total_steps, end_factor=0.0):
        if total_steps <= 0:
            raise ValueError(f"LinearLR: total_steps must be positive, got {total_steps}")
        super().__init__(optimizer, lambda t: 1.0 + (end_factor - 1.0) * min(t, total_steps) / total_steps)


class CosineAnnealingLR(LambdaLR):
    """lr_t = eta_min + (lr_0 - eta_min) (1 + cos(pi t / T)) / 2, reaching eta_min at t = T (SGDR without restarts)."""

    def __init__(self, optimizer, total_steps, eta_min=0.0):
        if total_steps <= 0:
            raise ValueError(f"CosineAnnealingLR: total_steps must be positive, got {total_steps}")
        self.eta_min, self.total_steps = eta_min, total_steps
        super().__init__(optimizer, lambda t: (1.0 + math.cos(math.pi * min(t, total_steps) / total_steps)) / 2.0)

    def _apply(self):
        # eta_min is an absolute floor, the same for every group, so it is not a factor of initial_lr
        for group in self.optimizer.param_groups:
            group["lr"] = self.eta_min + (group["initial_lr"] - self.eta_min) * self.factor(self.last_step)
