"""The affine map of a dense layer, as one op."""

from __future__ import annotations

from ...autograd import Function
from ...ops.linalg import matmul_arrays


class Linear(Function):
    """y = x W^T + b;  dx = gy W,  dW = gy^T x,  db = gy summed over the batch.

    One node instead of three (a transpose, a matrix product, a broadcast add): a small
    MLP's step is mostly per-op Python overhead, so fewer nodes is a faster step. The
    backward is written with Tensor ops, so second derivatives flow as through the three.
    x (..., in), weight (out, in), bias (out,) or absent -> y (..., out).
    """

    def forward(self, x, weight, bias=None):
        y = matmul_arrays(x, weight.T)
        if bias is not None:
            y += bias  # y is a new array: add in place, no temporary
        return y

    def backward(self, gy):
        x, weight = self.inputs[:2]
        needs = self.needs_input_grad
        gx = gy @ weight if needs[0] else None
        # Leading dimensions beyond the batch are more rows of the same product.
        rows_y = gy if gy.ndim == 2 else gy.reshape(-1, weight.shape[0])
        gw = None
        if needs[1]:
            rows_x = x if x.ndim == 2 else x.reshape(-1, weight.shape[1])
            gw = rows_y.mT @ rows_x
        gb = rows_y.sum(0) if len(needs) == 3 and needs[2] else None
        return (gx, gw) if len(needs) == 2 else (gx, gw, gb)


def linear(x, weight, bias=None):
    """y = x W^T + b;  x (..., in), weight (out, in), bias (out,) -> y (..., out)."""
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape}: "
            f"the last input dimension must be in_features = {weight.shape[1]}"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},) for weight {weight.shape}, got {bias.shape}")
    return Linear()(x, weight) if bias is None else Linear()(x, weight, bias)
