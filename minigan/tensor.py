"""The Tensor: an array on some device, plus what autograd needs to differentiate it.

A Tensor wraps a raw array (``.data``: NumPy, CuPy or array-api-strict) and
records the ``Function`` that made it (``.grad_fn``); its arithmetic operators
and methods are thin calls into ``minigan.ops``. Creation functions such as
``tensor``, ``zeros`` and ``randn`` live here too.
"""

from __future__ import annotations

import numpy as np

from . import backend, ops
from .autograd import Function
from .autograd import backward as _backward


class Tensor:
    """A multi-dimensional array that can take part in automatic differentiation.

    ``requires_grad=True`` makes it a leaf whose gradient ``backward`` accumulates
    into ``.grad``; tensors computed from it remember their ``grad_fn``.
    """

    __array_priority__ = 1000  # so numpy_array * tensor calls Tensor.__rmul__

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        elif not _is_raw_array(data):
            data = backend.asarray(data)
        self.data = data
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self.grad_fn = None
        if self.requires_grad and not self.is_floating_point():
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")

    # ------------------------------------------------------------ what it is
    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def size(self, dim=None):
        """The shape, or the length of one dimension (torch.Tensor.size)."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def dtype(self) -> str:
        """The element type as a name: 'float32', 'float64', 'int64' or 'bool'."""
        return backend.dtype_name(self.data.dtype)

    def is_floating_point(self) -> bool:
        return self.dtype in backend.FLOAT_DTYPES

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def get_namespace(self):
        """The array namespace (``xp``) of this tensor's data."""
        return backend.get_namespace(self.data)

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extras = []
        if self.dtype != "float32" and self.dtype != "int64":
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.numel()} elements is ambiguous")
        return bool(self.item())

    __hash__ = object.__hash__

    # ------------------------------------------------------------ leaving the graph, the device
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (copied from the GPU when needed)."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.numel() != 1:
            raise ValueError(f"item(): only a tensor with one element can be converted to a Python number, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self) -> "Tensor":
        """The same data, cut off from the graph."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad=True) -> "Tensor":
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach() instead")
        if requires_grad and not self.is_floating_point():
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = requires_grad or self.grad_fn is not None
        return self

    def to(self, device=None, dtype=None) -> "Tensor":
        """A copy on another device and/or of another dtype (differentiable for dtype changes)."""
        if isinstance(device, str) and backend.dtype_name(device) in ("float32", "float64", "int64", "bool") and dtype is None:
            device, dtype = None, device
        out = self
        if dtype is not None and backend.dtype_name(dtype) != self.dtype:
            out = Cast(backend.dtype_name(dtype))(out) if self.is_floating_point() else Tensor(
                out.get_namespace().astype(out.data, backend.dtype_of(dtype, out.get_namespace()))
            )
        if device is not None and backend.check_device(device) != self.device:
            out = ToDevice(backend.check_device(device))(out)
        return out

    def float(self) -> "Tensor":
        return self.to(dtype="float32")

    def double(self) -> "Tensor":
        return self.to(dtype="float64")

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self) -> "Tensor":
        return self.to("cuda")

    # ------------------------------------------------------------ autograd
    def backward(self, grad=None, retain_graph=None, create_graph=False):
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf it depends on."""
        _backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def zero_(self) -> "Tensor":
        """Set every element to zero, in place (for zeroing gradients)."""
        xp = self.get_namespace()
        self.data = xp.zeros_like(self.data)
        return self

    # ------------------------------------------------------------ arithmetic
    def _with(self, other):
        """The operands of a binary op; an integer tensor meeting a Python float becomes float32, as in PyTorch."""
        if isinstance(other, float) and not self.is_floating_point():
            a = self.to(dtype="float32")
            return a, as_tensor(other, like=a)
        return self, as_tensor(other, like=self)

    def __add__(self, other):
        return ops.add(*self._with(other))

    def __radd__(self, other):
        a, b = self._with(other)
        return ops.add(b, a)

    def __sub__(self, other):
        return ops.sub(*self._with(other))

    def __rsub__(self, other):
        a, b = self._with(other)
        return ops.sub(b, a)

    def __mul__(self, other):
        return ops.mul(*self._with(other))

    def __rmul__(self, other):
        a, b = self._with(other)
        return ops.mul(b, a)

    def __truediv__(self, other):
        return ops.div(*self._with(other))

    def __rtruediv__(self, other):
        a, b = self._with(other)
        return ops.div(b, a)

    def __neg__(self):
        return ops.neg(self)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            raise TypeError("pow: only a Python number exponent is supported; for a tensor exponent use exp(b * log(a))")
        return ops.pow(self, exponent)

    def __rpow__(self, base):
        # base ** self = exp(self * ln(base)), for a positive constant base
        return ops.exp(self * float(np.log(base)))

    def __matmul__(self, other):
        return ops.matmul(self, as_tensor(other, like=self))

    def __rmatmul__(self, other):
        return ops.matmul(as_tensor(other, like=self), self)

    def __getitem__(self, key):
        return ops.getitem(self, key)

    # Comparisons give boolean tensors outside the graph (their gradient is zero).
    def _compare(self, other, name):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(getattr(self.data, name)(other))

    def __eq__(self, other):
        return self._compare(other, "__eq__")

    def __ne__(self, other):
        return self._compare(other, "__ne__")

    def __lt__(self, other):
        return self._compare(other, "__lt__")

    def __le__(self, other):
        return self._compare(other, "__le__")

    def __gt__(self, other):
        return self._compare(other, "__gt__")

    def __ge__(self, other):
        return self._compare(other, "__ge__")

    # ------------------------------------------------------------ methods mirroring minigan.ops
    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def clamp(self, min=None, max=None):
        return ops.clamp(self, min, max)

    clip = clamp

    def sum(self, dim=None, keepdim=False, **aliases):
        return ops.sum(self, dim, keepdim, **aliases)

    def mean(self, dim=None, keepdim=False, **aliases):
        return ops.mean(self, dim, keepdim, **aliases)

    def var(self, dim=None, keepdim=False, **kwargs):
        return ops.var(self, dim, keepdim, **kwargs)

    def std(self, dim=None, keepdim=False, **kwargs):
        return ops.std(self, dim, keepdim, **kwargs)

    def amax(self, dim=None, keepdim=False, **aliases):
        return ops.amax(self, dim, keepdim, **aliases)

    def amin(self, dim=None, keepdim=False, **aliases):
        return ops.amin(self, dim, keepdim, **aliases)

    def max(self, dim=None, keepdim=False):
        return ops.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return ops.min(self, dim, keepdim)

    def reshape(self, *shape):
        return ops.reshape(self, *shape)

    view = reshape

    def permute(self, *dims):
        return ops.permute(self, *dims)

    def transpose(self, dim0, dim1):
        return ops.transpose(self, dim0, dim1)

    @property
    def T(self):
        return ops.permute(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        return ops.transpose(self, -1, -2)

    def broadcast_to(self, shape):
        return ops.broadcast_to(self, shape)

    def expand(self, *shape):
        return ops.expand(self, *shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return ops.flatten(self, start_dim, end_dim)

    def unsqueeze(self, dim):
        return ops.unsqueeze(self, dim)

    def squeeze(self, dim=None):
        return ops.squeeze(self, dim)

    def index_select(self, dim, index):
        return ops.index_select(self, dim, index)


_raw_array_types = {np.ndarray}


def _is_raw_array(x):
    kind = type(x)
    if kind in _raw_array_types:  # asked for every tensor made: remembered per type
        return True
    if isinstance(x, np.ndarray) or kind.__module__.startswith(("cupy", "array_api_strict")):
        _raw_array_types.add(kind)
        return True
    return False


class Cast(Function):
    """y = a converted to another floating-point dtype; the gradient is converted back."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, a):
        xp = backend.get_namespace(a)
        self.source = backend.dtype_name(a.dtype)
        return xp.astype(a, backend.dtype_of(self.dtype, xp))

    def backward(self, gy):
        return Cast(self.source)(gy)


class ToDevice(Function):
    """y = a copied to another device; the gradient is copied back."""

    def __init__(self, device):
        self.device = device

    def forward(self, a):
        self.source = backend.device_of(a)
        return backend.to_device(a, self.device)

    def backward(self, gy):
        return ToDevice(self.source)(gy)


def as_tensor(value, like=None) -> Tensor:
    """``value`` as a Tensor; Python numbers take the dtype and device of ``like``, arrays its device."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, (int, float, bool, np.generic)):
        if isinstance(like.data, np.ndarray) and like.data.dtype.kind == "f":  # the common case, kept cheap
            return Tensor(np.asarray(value, dtype=like.data.dtype))
        dtype = like.dtype if like.is_floating_point() or isinstance(value, (int, bool)) else "float32"
        if isinstance(value, bool) and like.dtype != "bool":
            value = int(value)
        return Tensor(backend.constant(value, dtype, like.device))
    if _is_raw_array(value):
        return Tensor(value if like is None else backend.to_device(value, like.device))
    return Tensor(backend.asarray(value, device=like.device if like is not None else None))


# ---------------------------------------------------------------- creation

def tensor(data, requires_grad=False, dtype=None, device=None) -> Tensor:
    """A new leaf tensor holding a copy of ``data``; float32 unless ``dtype`` says otherwise."""
    if isinstance(data, Tensor):
        data = data.numpy()
    elif _is_raw_array(data):
        data = backend.to_numpy(data)
    if dtype is None and isinstance(data, np.ndarray) and data.dtype.kind == "f":
        dtype = data.dtype.name  # keep an array's precision, as torch.tensor does
    return Tensor(backend.asarray(data, dtype=dtype, device=device), requires_grad=requires_grad)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def zeros(*shape, dtype="float32", device=None, requires_grad=False) -> Tensor:
    xp = backend.namespace_for(device)
    return Tensor(xp.zeros(_shape(shape), dtype=backend.dtype_of(dtype, xp)), requires_grad)


def ones(*shape, dtype="float32", device=None, requires_grad=False) -> Tensor:
    xp = backend.namespace_for(device)
    return Tensor(xp.ones(_shape(shape), dtype=backend.dtype_of(dtype, xp)), requires_grad)


def full(shape, fill_value, dtype="float32", device=None, requires_grad=False) -> Tensor:
    xp = backend.namespace_for(device)
    return Tensor(xp.full(tuple(shape), fill_value, dtype=backend.dtype_of(dtype, xp)), requires_grad)


def zeros_like(t: Tensor, dtype=None) -> Tensor:
    xp = t.get_namespace()
    return Tensor(xp.zeros_like(t.data, dtype=None if dtype is None else backend.dtype_of(dtype, xp)))


def ones_like(t: Tensor, dtype=None) -> Tensor:
    xp = t.get_namespace()
    return Tensor(xp.ones_like(t.data, dtype=None if dtype is None else backend.dtype_of(dtype, xp)))


def full_like(t: Tensor, fill_value) -> Tensor:
    return Tensor(t.get_namespace().full_like(t.data, fill_value))


def arange(start, stop=None, step=1, dtype=None, device=None) -> Tensor:
    xp = backend.namespace_for(device)
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = "int64" if all(isinstance(v, int) for v in (start, stop, step)) else "float32"
    return Tensor(xp.arange(start, stop, step, dtype=backend.dtype_of(dtype, xp)))


def linspace(start, stop, steps, dtype="float32", device=None) -> Tensor:
    xp = backend.namespace_for(device)
    return Tensor(xp.linspace(start, stop, steps, dtype=backend.dtype_of(dtype, xp)))


def eye(n, m=None, dtype="float32", device=None) -> Tensor:
    xp = backend.namespace_for(device)
    return Tensor(xp.eye(n, m, dtype=backend.dtype_of(dtype, xp)))


def randn(*shape, dtype="float32", device=None, requires_grad=False) -> Tensor:
    """Standard normal samples from minigan's seeded generator (see manual_seed)."""
    return Tensor(backend.random_normal(_shape(shape), dtype, device), requires_grad)


def rand(*shape, dtype="float32", device=None, requires_grad=False) -> Tensor:
    """Uniform samples on [0, 1) from minigan's seeded generator."""
    return Tensor(backend.random_uniform(_shape(shape), 0.0, 1.0, dtype, device), requires_grad)


def randint(low, high, shape, device=None) -> Tensor:
    """Integers drawn uniformly from [low, high)."""
    return Tensor(backend.random_integers(low, high, tuple(shape), device))


def randperm(n, device=None) -> Tensor:
    return Tensor(backend.random_permutation(n, device))


# The autograd engine wraps every op's output in a Tensor; hand it the class (see autograd.py).
from . import autograd as _autograd  # noqa: E402

_autograd.Tensor, _autograd.as_tensor = Tensor, as_tensor
