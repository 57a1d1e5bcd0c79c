"""Adam and AdamW: steps scaled by bias-corrected running moments of the gradient."""

from __future__ import annotations

import math

from ..backend import Fused, get_namespace
from .optimizer import Optimizer


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr m_hat / (sqrt(v_hat) + eps).

    m_hat = m / (1 - b1^t) and v_hat = v / (1 - b2^t) undo the bias of starting the
    averages at zero. ``weight_decay`` adds wd p to g (L2), as torch.optim.Adam;
    ``amsgrad`` uses the running maximum of v.
    """

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def _check(self, group):
        super()._check(group)
        b1, b2 = group["betas"]
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"{type(self).__name__}: betas must lie in [0, 1), got {group['betas']}")
        if group["eps"] < 0 or group["weight_decay"] < 0:
            raise ValueError(f"{type(self).__name__}: eps and weight_decay must be >= 0")

    def update(self, p, grad, state, group):
        xp = get_namespace(p.data)
        b1, b2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        if wd and self.decoupled:
            p.data *= 1 - lr * wd
        l2 = wd if not self.decoupled else 0.0  # torch.optim.Adam's weight decay: g + wd p
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        step_size = lr / (1 - b1 ** t)  # lr / bias_correction1
        sqrt_bc2 = math.sqrt(1 - b2 ** t)
        if not group["amsgrad"]:  # the usual case: one kernel on the GPU
            adam_kernel(grad, b1, 1 - b1, b2, 1 - b2, step_size, sqrt_bc2, group["eps"], l2, p.data, m, v)
            return
        if l2:
            grad = grad + l2 * p.data
        _moments(grad, b1, 1 - b1, b2, 1 - b2, m, v)
        state["max_exp_avg_sq"] = xp.maximum(state["max_exp_avg_sq"], v)
        p.data -= step_size * (m / (xp.sqrt(state["max_exp_avg_sq"]) / sqrt_bc2 + group["eps"]))


def _moments(grad, b1, c1, b2, c2, m, v):
    """m = b1 m + c1 g and v = b2 v + c2 g^2, in place (c = 1 - b, computed in double precision
    by the caller, as PyTorch does)."""
    m *= b1
    m += c1 * grad
    v *= b2
    v += c2 * grad * grad


def _adam(grad, b1, c1, b2, c2, step_size, sqrt_bc2, eps, l2, p, m, v):
    """The Adam update in place, written with array operations: the reference of adam_kernel."""
    if l2:
        grad = grad + l2 * p
    _moments(grad, b1, c1, b2, c2, m, v)
    p -= step_size * (m / (get_namespace(p).sqrt(v) / sqrt_bc2 + eps))
    return p, m, v


# The update as one kernel on the GPU, where the array operations above launch thirteen.
adam_kernel = Fused(
    "adam",
    "T grad, T b1, T c1, T b2, T c2, T step_size, T sqrt_bc2, T eps, T l2",
    "T p, T m, T v",
    """
    T g = l2 != 0 ? grad + l2 * p : grad;
    m = b1 * m + c1 * g;
    v = b2 * v + c2 * g * g;
    p -= step_size * (m / (sqrt(v) / sqrt_bc2 + eps));
    """,
    _adam,
)


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr wd before the Adam step (Loshchilov & Hutter)."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
