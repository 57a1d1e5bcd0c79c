"""The affine map of a dense layer."""

from __future__ import annotations


def linear(x, weight, bias=None):
    """y = x W^T + b;  x (..., in), weight (out, in), bias (out,) -> y (..., out)."""
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape}: "
            f"the last input dimension must be in_features = {weight.shape[1]}"
        )
    y = x @ weight.mT
    return y if bias is None else y + bias
