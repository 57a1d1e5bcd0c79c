"""Matrix product, 2-D and batched, with NumPy's broadcasting of batch dimensions."""

from __future__ import annotations

from ..autograd import Function
from ..backend import get_namespace
from .shape import reshape, sum_to, transpose


def matmul_arrays(a, b):
    """a @ b on raw arrays: every matrix product of minigan's ops (matmul, Linear, the convolutions).

    Over k = 1 the product is an outer product, and there NumPy's matmul takes twelve times as
    long as the broadcast multiply that makes the same numbers (0.66 against 0.055 ms at
    (64, 1) @ (1, 6272): a D's last Linear, backward): multiply instead."""
    if a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == 1:
        return a * b  # (..., n, 1) * (..., 1, m): every product a_i b_j once, no sum, as matmul
    return get_namespace(a, b).matmul(a, b)


class MatMul(Function):
    """y = a @ b for a (..., n, k) and b (..., k, m);  da = gy @ b^T, db = a^T @ gy."""

    def forward(self, a, b):
        if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} do not fit: the last dimension of the first "
                f"({a.shape[-1] if a.ndim else None}) must equal the second-to-last of the second"
            )
        from .elementwise import broadcast_shape

        broadcast_shape("matmul (batch dimensions)", a.shape[:-2], b.shape[:-2])
        return matmul_arrays(a, b)

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy @ transpose(b, -1, -2), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(transpose(a, -1, -2) @ gy, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


def matmul(a, b):
    """a @ b; a 1-D operand is treated as a row (first) or column (second) vector, as in NumPy."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}")
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} do not fit: the last dimension of the first ({a.shape[-1]}) "
            f"must equal the {'only' if b.ndim == 1 else 'second-to-last'} dimension of the second ({inner_b})"
        )
    if a.ndim > 2 and b.ndim > 2:
        from .elementwise import broadcast_shape

        try:
            broadcast_shape("matmul", a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: the batch dimensions of shapes {a.shape} and {b.shape} ({a.shape[:-2]} and {b.shape[:-2]}) cannot be broadcast together"
            ) from None
    if a.ndim == 1 and b.ndim == 1:
        return reshape(MatMul()(reshape(a, (1, -1)), reshape(b, (-1, 1))), ())
    if a.ndim == 1:
        out = MatMul()(reshape(a, (1, -1)), b)
        return reshape(out, out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        out = MatMul()(a, reshape(b, (-1, 1)))
        return reshape(out, out.shape[:-1])
    return MatMul()(a, b)
