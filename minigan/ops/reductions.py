"""Reductions over dimensions: sum, mean, var, std, amax/amin and max/min.

Dimension arguments follow PyTorch (``dim``, ``keepdim``); NumPy's ``axis`` and
``keepdims`` are accepted as aliases, as PyTorch itself does.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

from ..autograd import Function
from ..backend import get_namespace
from .shape import broadcast_to, reshape


def _dims(dim, ndim, op):
    """Normalize ``dim`` (None, an int or a sequence) to a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -builtins.max(ndim, 1) <= d < builtins.max(ndim, 1):
            raise IndexError(f"{op}: dimension {d} is out of range for a tensor with {ndim} dimensions")
        out.append(d % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: dimension {dim} lists a dimension twice")
    return tuple(sorted(out)) if ndim else ()


def _kept_shape(shape, dims):
    """``shape`` with the reduced ``dims`` set to 1, the shape of a keepdim result."""
    return tuple(1 if i in dims else d for i, d in enumerate(shape))


class Sum(Function):
    """y = sum of a over ``dims``;  da = gy broadcast back over them."""

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, a):
        return get_namespace(a).sum(a, axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy):
        (a,) = self.inputs
        return broadcast_to(reshape(gy, _kept_shape(a.shape, self.dims)), a.shape)


class Amax(Function):
    """y = max of a over ``dims``; ties share the gradient equally (as torch.amax)."""

    def __init__(self, dims, keepdim, largest=True):
        self.dims, self.keepdim, self.largest = dims, keepdim, largest

    def forward(self, a):
        xp = get_namespace(a)
        reduce = xp.max if self.largest else xp.min
        return reduce(a, axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy):
        from ..tensor import Tensor

        (a,) = self.inputs
        xp = a.get_namespace()
        kept = _kept_shape(a.shape, self.dims)
        best = xp.reshape(self.output.data, kept)
        mask = xp.astype(a.data == best, a.data.dtype)
        share = Tensor(mask / xp.sum(mask, axis=self.dims, keepdims=True))
        return broadcast_to(reshape(gy, kept), a.shape) * share

    uses_output = True


# ---------------------------------------------------------------- what users call

def _resolve(dim, keepdim, axis, keepdims):
    return (axis if dim is None else dim), (keepdims if keepdims is not None else keepdim)


def sum(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, keepdim, axis, keepdims)
    return Sum(_dims(dim, a.ndim, "sum"), keepdim)(a)


def mean(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, keepdim, axis, keepdims)
    dims = _dims(dim, a.ndim, "mean")
    count = math.prod(a.shape[d] for d in dims)
    return Sum(dims, keepdim)(a) / float(count)


def var(a, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None, keepdims=None):
    """sum((a - mean)^2) / (n - correction); unbiased (correction=1) by default, as in PyTorch."""
    dim, keepdim = _resolve(dim, keepdim, axis, keepdims)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    dims = _dims(dim, a.ndim, "var")
    count = math.prod(a.shape[d] for d in dims)
    centered = a - mean(a, dims, keepdim=True)
    return Sum(dims, keepdim)(centered * centered) / float(builtins.max(count - correction, 0))


def std(a, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None, keepdims=None):
    return var(a, dim, keepdim, correction=correction, unbiased=unbiased, axis=axis, keepdims=keepdims) ** 0.5


def amax(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, keepdim, axis, keepdims)
    _check_nonempty(a, "amax")
    return Amax(_dims(dim, a.ndim, "amax"), keepdim)(a)


def amin(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = _resolve(dim, keepdim, axis, keepdims)
    _check_nonempty(a, "amin")
    return Amax(_dims(dim, a.ndim, "amin"), keepdim, largest=False)(a)


def _check_nonempty(a, op):
    if a.numel() == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {a.shape}")


MaxResult = namedtuple("MaxResult", ["values", "indices"])


def max(a, dim=None, keepdim=False):
    """As torch.max: the largest value overall, or (values, indices) along one ``dim``."""
    return _extreme(a, dim, keepdim, largest=True)


def min(a, dim=None, keepdim=False):
    return _extreme(a, dim, keepdim, largest=False)


def _extreme(a, dim, keepdim, largest):
    from ..tensor import Tensor

    op = "max" if largest else "min"
    _check_nonempty(a, op)
    if dim is None:
        return Amax(_dims(None, a.ndim, op), False, largest)(a)
    if not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be one int (use amax/amin for several dimensions)")
    xp = a.get_namespace()
    if a.ndim == 0:  # as PyTorch: a 0-d tensor is its own maximum, at index 0
        _dims(dim, 0, op)
        return MaxResult(Amax((), keepdim, largest)(a), Tensor(xp.zeros((), dtype=xp.int64)))
    (d,) = _dims(dim, a.ndim, op)
    arg = xp.argmax if largest else xp.argmin
    indices = Tensor(xp.astype(arg(a.data, axis=d, keepdims=keepdim), xp.int64))
    return MaxResult(Amax((d,), keepdim, largest)(a), indices)
