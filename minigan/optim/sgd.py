"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from ..backend import get_namespace
from .optimizer import Optimizer


class SGD(Optimizer):
    """g = grad + wd p;  b = mu b + (1 - dampening) g;  p -= lr (g + mu b if nesterov else b).

    With momentum 0 this is p -= lr g. The first step sets b = g, as PyTorch does.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov))

    def _check(self, group):
        super()._check(group)
        if group["momentum"] < 0 or group["weight_decay"] < 0:
            raise ValueError(f"SGD: momentum and weight_decay must be >= 0, got {group['momentum']}, {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")

    def update(self, p, grad, state, group):
        mu, wd = group["momentum"], group["weight_decay"]
        if wd:
            grad = grad + wd * p.data
        if mu:
            if "momentum_buffer" not in state:
                # a copy (the buffer is updated in place); asarray keeps a 0-d array an array
                state["momentum_buffer"] = get_namespace(grad).asarray(grad, copy=True)
            else:
                buf = state["momentum_buffer"]
                buf *= mu
                buf += (1 - group["dampening"]) * grad
            buf = state["momentum_buffer"]
            grad = grad + mu * buf if group["nesterov"] else buf
        p.data -= group["lr"] * grad
