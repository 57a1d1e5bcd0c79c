"""Elementwise ops: arithmetic with NumPy broadcasting, and the unary functions.

A binary op broadcasts its inputs like NumPy; its backward sums the gradient back
to each input's shape (``sum_to``), which is the adjoint of broadcasting.
"""

from __future__ import annotations

import builtins

from ..autograd import Function
from ..backend import get_namespace
from .shape import sum_to


def broadcast_shape(op: str, a: tuple, b: tuple) -> tuple:
    """The NumPy broadcast of two shapes, or an error that names the op and both shapes."""
    result = []
    for i in range(1, builtins.max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else 1
        db = b[-i] if i <= len(b) else 1
        if da != db and da != 1 and db != 1:
            raise ValueError(
                f"{op}: shapes {a} and {b} cannot be broadcast together "
                f"(dimension -{i}: {da} vs {db}; each pair must be equal or one of them 1)"
            )
        result.append(builtins.max(da, db))
    return tuple(reversed(result))


class Add(Function):
    """y = a + b"""

    def forward(self, a, b):
        broadcast_shape("add", a.shape, b.shape)
        return a + b

    def backward(self, gy):
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(gy, b.shape)


class Sub(Function):
    """y = a - b"""

    def forward(self, a, b):
        broadcast_shape("sub", a.shape, b.shape)
        return a - b

    def backward(self, gy):
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(-gy, b.shape)


class Mul(Function):
    """y = a * b;  da = gy * b, db = gy * a"""

    def forward(self, a, b):
        broadcast_shape("mul", a.shape, b.shape)
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """y = a / b;  da = gy / b, db = -gy * a / b^2"""

    def forward(self, a, b):
        broadcast_shape("div", a.shape, b.shape)
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy / b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, gy):
        return -gy


class Pow(Function):
    """y = a^c for a constant exponent c;  da = gy * c * a^(c-1)"""

    def __init__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError(f"pow: the exponent must be a Python number, got {type(exponent).__name__}")
        self.exponent = exponent

    def forward(self, a):
        return a ** self.exponent

    def backward(self, gy):
        (a,) = self.inputs
        c = self.exponent
        if c == 0:
            return gy * 0.0
        return gy * (c * a ** (c - 1)) if c != 1 else gy


class Exp(Function):
    """y = e^a;  da = gy * y"""

    uses_output = True

    def forward(self, a):
        return get_namespace(a).exp(a)

    def backward(self, gy):
        return gy * self.output


class Log(Function):
    """y = ln a;  da = gy / a"""

    def forward(self, a):
        return get_namespace(a).log(a)

    def backward(self, gy):
        (a,) = self.inputs
        return gy / a


class Sqrt(Function):
    """y = sqrt(a);  da = gy / (2 y)"""

    uses_output = True

    def forward(self, a):
        return get_namespace(a).sqrt(a)

    def backward(self, gy):
        return gy / (2.0 * self.output)


class Abs(Function):
    """y = |a|;  da = gy * sign(a)  (0 at a = 0, as in PyTorch)"""

    def forward(self, a):
        return get_namespace(a).abs(a)

    def backward(self, gy):
        (a,) = self.inputs
        return gy * sign(a)


class Maximum(Function):
    """y = max(a, b) elementwise; at ties each input gets half the gradient, as in PyTorch."""

    def forward(self, a, b):
        broadcast_shape("maximum", a.shape, b.shape)
        return get_namespace(a, b).maximum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        share_a = _share(a.data > b.data, a.data == b.data, gy)
        return sum_to(gy * share_a, a.shape), sum_to(gy * (1.0 - share_a), b.shape)


class Minimum(Function):
    """y = min(a, b) elementwise; at ties each input gets half the gradient."""

    def forward(self, a, b):
        broadcast_shape("minimum", a.shape, b.shape)
        return get_namespace(a, b).minimum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        share_a = _share(a.data < b.data, a.data == b.data, gy)
        return sum_to(gy * share_a, a.shape), sum_to(gy * (1.0 - share_a), b.shape)


def _share(wins, ties, like):
    """A constant tensor: 1 where ``wins``, 0.5 at ``ties``, 0 elsewhere."""
    from ..tensor import Tensor

    xp = get_namespace(wins)
    share = xp.astype(wins, like.data.dtype) + 0.5 * xp.astype(ties, like.data.dtype)
    return Tensor(share)


class Clamp(Function):
    """y = min(max(a, low), high); the gradient passes where low <= a <= high, as in PyTorch."""

    def __init__(self, low=None, high=None):
        if low is None and high is None:
            raise ValueError("clamp: give at least one of min and max")
        self.low, self.high = low, high

    def forward(self, a):
        return get_namespace(a).clip(a, self.low, self.high)

    def backward(self, gy):
        from ..tensor import Tensor

        (a,) = self.inputs
        xp = a.get_namespace()
        inside = xp.ones(a.shape, dtype=xp.bool)
        if self.low is not None:
            inside = inside & (a.data >= self.low)
        if self.high is not None:
            inside = inside & (a.data <= self.high)
        return gy * Tensor(xp.astype(inside, gy.data.dtype))


class Where(Function):
    """y = where(condition, a, b); the condition is a constant boolean array."""

    def __init__(self, condition):
        self.condition = condition

    def forward(self, a, b):
        shape = broadcast_shape("where", a.shape, b.shape)
        broadcast_shape("where", self.condition.shape, shape)
        return get_namespace(a, b).where(self.condition, a, b)

    def backward(self, gy):
        from ..tensor import Tensor

        a, b = self.inputs
        keep = Tensor(get_namespace(gy.data).astype(self.condition, gy.data.dtype))
        return sum_to(gy * keep, a.shape), sum_to(gy * (1.0 - keep), b.shape)


# ---------------------------------------------------------------- what users call

def add(a, b):
    return Add()(a, b)


def sub(a, b):
    return Sub()(a, b)


def mul(a, b):
    return Mul()(a, b)


def div(a, b):
    return Div()(a, b)


def neg(a):
    return Neg()(a)


def pow(a, exponent):
    return Pow(exponent)(a)


def exp(a):
    return Exp()(a)


def log(a):
    return Log()(a)


def sqrt(a):
    return Sqrt()(a)


def abs(a):
    return Abs()(a)


def maximum(a, b):
    return Maximum()(a, b)


def minimum(a, b):
    return Minimum()(a, b)


def clamp(a, min=None, max=None):
    return Clamp(min, max)(a)


def where(condition, a, b):
    """Elements of ``a`` where ``condition`` holds, else of ``b``; differentiable in a and b."""
    from ..tensor import Tensor, as_tensor

    like = a if isinstance(a, Tensor) else b
    cond = condition.data if isinstance(condition, Tensor) else condition
    return Where(cond)(as_tensor(a, like=like), as_tensor(b, like=like))


def sign(a):
    """-1, 0 or 1 elementwise, as a constant (its derivative is 0 almost everywhere)."""
    from ..tensor import Tensor

    return Tensor(get_namespace(a.data).sign(a.data))
