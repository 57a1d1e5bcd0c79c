"""Ops that move elements without changing them: reshape, permute, broadcast, index, join.

Their backwards are each other: broadcast_to and sum_to are adjoint, reshape and
permute undo themselves, indexing scatters the gradient back into zeros.
"""

from __future__ import annotations

import builtins
import math

from ..autograd import Function
from ..backend import get_namespace, scatter_add


def _normalize_axis(axis, ndim, op):
    if not -ndim <= axis < builtins.max(ndim, 1):
        raise IndexError(f"{op}: dimension {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % ndim if ndim else 0


class Reshape(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, a):
        shape = _resolve_shape(self.shape, a.shape)
        return get_namespace(a).reshape(a, shape)

    def backward(self, gy):
        (a,) = self.inputs
        return reshape(gy, a.shape)


def _resolve_shape(shape, old):
    size = math.prod(old)
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {shape}")
    known = math.prod(d for d in shape if d != -1)
    if -1 in shape:
        if known == 0 or size % known:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {old} ({size} elements) into {shape}")
        shape = tuple(size // known if d == -1 else d for d in shape)
    if math.prod(shape) != size:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {old} ({size} elements) into {shape}")
    return shape


class Permute(Function):
    """y = a with its axes reordered; the backward applies the inverse order."""

    def __init__(self, dims):
        self.dims = tuple(dims)

    def forward(self, a):
        if sorted(d % builtins.max(a.ndim, 1) for d in self.dims) != list(range(a.ndim)):
            raise ValueError(f"permute: {self.dims} is not a permutation of the {a.ndim} dimensions of shape {a.shape}")
        return get_namespace(a).permute_dims(a, self.dims)

    def backward(self, gy):
        ndim = len(self.dims)
        inverse = [0] * ndim
        for i, d in enumerate(self.dims):
            inverse[d % ndim] = i
        return permute(gy, inverse)


class BroadcastTo(Function):
    """y = a repeated along new or size-1 axes; the backward sums them away."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, a):
        from .elementwise import broadcast_shape

        if broadcast_shape("broadcast_to", a.shape, self.shape) != self.shape:
            raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {self.shape}")
        return get_namespace(a).broadcast_to(a, self.shape)

    def backward(self, gy):
        (a,) = self.inputs
        return sum_to(gy, a.shape)


class SumTo(Function):
    """Sum ``a`` down to ``shape``: the adjoint of broadcasting it up."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, a):
        xp = get_namespace(a)
        lead = a.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, d in enumerate(self.shape) if d == 1 and a.shape[lead + i] != 1
        )
        y = xp.sum(a, axis=axes, keepdims=True) if axes else a
        return xp.reshape(y, self.shape)

    def backward(self, gy):
        (a,) = self.inputs
        return broadcast_to(gy, a.shape)


class GetItem(Function):
    """y = a[key] for basic keys: integers, slices, None and Ellipsis."""

    def __init__(self, key):
        self.key = key

    def forward(self, a):
        return a[self.key]

    def backward(self, gy):
        (a,) = self.inputs
        return GetItemGrad(self.key, a.shape)(gy)


class GetItemGrad(Function):
    """The adjoint of a[key]: zeros of a's shape with gy written at key."""

    def __init__(self, key, shape):
        self.key, self.shape = key, shape

    def forward(self, gy):
        xp = get_namespace(gy)
        out = xp.zeros(self.shape, dtype=gy.dtype)
        # The standard allows no None in an assignment's key; its axes have size 1 in gy.
        keys = self.key if isinstance(self.key, tuple) else (self.key,)
        key = tuple(k for k in keys if k is not None)
        out[key] = xp.reshape(gy, out[key].shape)
        return out

    def backward(self, ggx):
        return GetItem(self.key)(ggx)


class IndexSelect(Function):
    """y = a gathered at integer ``indices`` along ``axis`` (repeats allowed)."""

    def __init__(self, axis, indices):
        self.axis, self.indices = axis, indices

    def forward(self, a):
        return get_namespace(a).take(a, self.indices, axis=self.axis)

    def backward(self, gy):
        (a,) = self.inputs
        return IndexAdd(self.axis, self.indices, a.shape)(gy)


class IndexAdd(Function):
    """The adjoint of index_select: zeros with gy added at ``indices`` (repeats add up)."""

    def __init__(self, axis, indices, shape):
        self.axis, self.indices, self.shape = axis, indices, shape

    def forward(self, gy):
        xp = get_namespace(gy)
        return scatter_add(xp.zeros(self.shape, dtype=gy.dtype), self.axis, self.indices, gy)

    def backward(self, ggx):
        return IndexSelect(self.axis, self.indices)(ggx)


class Concatenate(Function):
    """y = the inputs joined along ``axis``; the backward slices the gradient apart."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        first = arrays[0]
        axis = _normalize_axis(self.axis, first.ndim, "cat")
        for i, x in enumerate(arrays[1:], 1):
            if x.ndim != first.ndim or any(
                p != q for d, (p, q) in enumerate(zip(x.shape, first.shape)) if d != axis
            ):
                raise ValueError(
                    f"cat: tensor {i} has shape {x.shape}, which does not match tensor 0's shape "
                    f"{first.shape} outside dimension {axis}"
                )
        self.axis = axis
        return get_namespace(*arrays).concat(arrays, axis=axis)

    def backward(self, gy):
        grads, start = [], 0
        for x in self.inputs:
            stop = start + x.shape[self.axis]
            key = (slice(None),) * self.axis + (slice(start, stop),)
            grads.append(gy[key])
            start = stop
        return tuple(grads)


# ---------------------------------------------------------------- what users call

def reshape(a, *shape):
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    if tuple(shape) == a.shape:
        return a
    return Reshape(shape)(a)


def permute(a, *dims):
    dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    if len(dims) != a.ndim:
        raise ValueError(f"permute: got {len(dims)} dimensions {tuple(dims)} for a tensor of shape {a.shape}")
    return Permute(dims)(a)


def transpose(a, dim0, dim1):
    """Swap two dimensions (torch.transpose)."""
    dims = list(range(a.ndim))
    d0, d1 = _normalize_axis(dim0, a.ndim, "transpose"), _normalize_axis(dim1, a.ndim, "transpose")
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute(dims)(a)


def broadcast_to(a, shape):
    shape = tuple(shape)
    if a.shape == shape:
        return a
    return BroadcastTo(shape)(a)


def expand(a, *shape):
    """torch.Tensor.expand: broadcast, with -1 meaning 'keep this dimension'."""
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    lead = len(shape) - a.ndim
    shape = tuple(a.shape[i - lead] if d == -1 else d for i, d in enumerate(shape))
    return broadcast_to(a, shape)


def sum_to(a, shape):
    shape = tuple(shape)
    if a.shape == shape:
        return a
    return SumTo(shape)(a)


def flatten(a, start_dim=0, end_dim=-1):
    if a.ndim == 0:
        return reshape(a, (1,))
    start = _normalize_axis(start_dim, a.ndim, "flatten")
    end = _normalize_axis(end_dim, a.ndim, "flatten")
    shape = a.shape[:start] + (math.prod(a.shape[start:end + 1]),) + a.shape[end + 1:]
    return reshape(a, shape)


def unsqueeze(a, dim):
    dim = _normalize_axis(dim, a.ndim + 1, "unsqueeze")
    return reshape(a, a.shape[:dim] + (1,) + a.shape[dim:])


def squeeze(a, dim=None):
    if dim is None:
        return reshape(a, tuple(d for d in a.shape if d != 1))
    dim = _normalize_axis(dim, a.ndim, "squeeze")
    if a.shape[dim] != 1:
        return a
    return reshape(a, a.shape[:dim] + a.shape[dim + 1:])


def index_select(a, dim, index):
    """torch.index_select: entries of ``a`` at integer positions ``index`` along ``dim``."""
    from ..tensor import Tensor

    dim = _normalize_axis(dim, a.ndim, "index_select")
    index = index.data if isinstance(index, Tensor) else index
    xp = a.get_namespace()
    index = xp.asarray(index) if not hasattr(index, "shape") else index
    if index.ndim != 1:
        raise ValueError(f"index_select: index must be one-dimensional, got shape {index.shape}")
    n = a.shape[dim]
    if index.shape[0] and (int(xp.min(index)) < -n or int(xp.max(index)) >= n):
        raise IndexError(f"index_select: indices from {int(xp.min(index))} to {int(xp.max(index))} are out of range for dimension {dim} of size {n}")
    index = xp.where(index < 0, index + n, index)  # scatter_add's portable path matches positions, so no negatives
    return IndexSelect(dim, index)(a)


def getitem(a, key):
    """``a[key]``: basic indexing (ints, slices, None, ...) or one integer array along an axis."""
    from ..tensor import Tensor

    keys = key if isinstance(key, tuple) else (key,)
    arrays = [i for i, k in enumerate(keys) if _is_index_array(k)]
    if not arrays:
        if not any(k is Ellipsis for k in keys):
            keys += (Ellipsis,)  # NumPy's implicit trailing ':'s, which the standard wants spelled out
        return GetItem(keys)(a)
    if len(arrays) == 1 and all(k == slice(None) for i, k in enumerate(keys) if i != arrays[0]):
        index = keys[arrays[0]]
        if isinstance(index, (list, tuple)):
            index = a.get_namespace().asarray(index)
        if isinstance(index, Tensor):
            index = index.data
        if "bool" in str(index.dtype):
            raise IndexError("indexing with a boolean mask is not supported (its shape depends on the data); use minigan.where")
        return index_select(a, arrays[0], index)
    raise IndexError(
        f"unsupported index {key!r}: use integers, slices, None and ..., or one integer array "
        "along one axis with ':' for the others (x[idx], x[:, idx])"
    )


def _is_index_array(k):
    return (hasattr(k, "shape") and len(k.shape) > 0) or isinstance(k, list)


def concatenate(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    return Concatenate(dim)(*tensors)


cat = concatenate


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    dim = _normalize_axis(dim, tensors[0].ndim + 1, "stack")
    return concatenate([unsqueeze(t, dim) for t in tensors], dim)
