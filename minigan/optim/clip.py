"""Gradient clipping, by the global norm of all gradients or by value."""

from __future__ import annotations

import math

from ..backend import get_namespace


def _grads(parameters):
    from ..tensor import Tensor

    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def _reduce_abs(array, norm_type):
    """max |g| for the infinity norm, else sum |g|^p."""
    xp = get_namespace(array)
    magnitude = xp.abs(array)
    return float(xp.max(magnitude)) if math.isinf(norm_type) else float(xp.sum(magnitude ** norm_type))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients by min(1, max_norm / (||g||_p + 1e-6)), ||g|| over every gradient at once.

    Returns the total norm before clipping (a float), as torch.nn.utils.clip_grad_norm_.
    """
    params = _grads(parameters)
    if not params:
        return 0.0
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = max(_reduce_abs(p.grad.data, norm_type) for p in params)
    else:
        total = sum(_reduce_abs(p.grad.data, norm_type) for p in params) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of the gradients is {total}; set error_if_nonfinite=False to clip anyway")
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for p in params:
            p.grad.data = p.grad.data * scale
    return total


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element to [-clip_value, clip_value]."""
    for p in _grads(parameters):
        p.grad.data = get_namespace(p.grad.data).clip(p.grad.data, -clip_value, clip_value)
