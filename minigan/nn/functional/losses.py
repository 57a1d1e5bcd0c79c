"""Losses on logits: binary cross entropy, (log-)softmax, cross entropy, mean squared error.

Written so that no intermediate overflows: BCE uses softplus, log_softmax
subtracts the row maximum before exponentiating.
"""

from __future__ import annotations

from ... import ops
from ...tensor import Tensor, as_tensor
from .activations import softplus


def _reduce(loss, reduction, op):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """l = -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] = softplus(z) - y z;  dl/dz = sigmoid(z) - y.

    With ``pos_weight`` w: l = (1 - y) z + (1 + (w - 1) y) softplus(-z).
    """
    target = as_tensor(target, like=input)
    if target.shape != input.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: target shape {target.shape} must equal input shape {input.shape}"
        )
    if pos_weight is None:
        loss = softplus(input) - target * input
    else:
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * softplus(-input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def log_softmax(x, dim=-1):
    """log softmax(x)_i = x_i - log sum_j e^(x_j); the max is subtracted first (it cancels exactly)."""
    shift = Tensor(ops.amax(x.detach(), dim, keepdim=True).data)
    shifted = x - shift
    return shifted - ops.log(ops.exp(shifted).sum(dim, keepdim=True))


def softmax(x, dim=-1):
    return ops.exp(log_softmax(x, dim))


def _one_hot(target, classes, like):
    xp = like.get_namespace()
    labels = target.data if isinstance(target, Tensor) else xp.asarray(target)
    if labels.ndim != 1:
        raise ValueError(f"class indices must be one-dimensional (N,), got shape {tuple(labels.shape)}")
    if labels.shape[0] and (int(xp.min(labels)) < 0 or int(xp.max(labels)) >= classes):
        raise ValueError(f"class indices must lie in [0, {classes}), got values from {int(xp.min(labels))} to {int(xp.max(labels))}")
    return Tensor(xp.astype(xp.reshape(labels, (-1, 1)) == xp.arange(classes), like.data.dtype))


def nll_loss(log_probs, target, reduction="mean"):
    """l_n = -log_probs[n, target_n];  log_probs (N, C), target (N,) integer classes."""
    if log_probs.ndim != 2:
        raise ValueError(f"nll_loss: expected log-probabilities of shape (N, C), got {log_probs.shape}")
    one_hot = _one_hot(target, log_probs.shape[1], log_probs)
    if one_hot.shape[0] != log_probs.shape[0]:
        raise ValueError(f"nll_loss: {one_hot.shape[0]} targets for {log_probs.shape[0]} rows of log-probabilities")
    return _reduce(-(log_probs * one_hot).sum(1), reduction, "nll_loss")


def cross_entropy(input, target, reduction="mean"):
    """l_n = -log softmax(input_n)[target_n];  input (N, C) logits, target (N,) integer classes."""
    if input.ndim != 2:
        raise ValueError(f"cross_entropy: expected logits of shape (N, C), got {input.shape}")
    return nll_loss(log_softmax(input, 1), target, reduction)


def mse_loss(input, target, reduction="mean"):
    """l = (input - target)^2."""
    target = as_tensor(target, like=input)
    if target.shape != input.shape:
        raise ValueError(f"mse_loss: target shape {target.shape} must equal input shape {input.shape}")
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")
