"""The one seam between minigan and an array library.

Every other module asks this one for ``xp`` (the array namespace of an array, or
of a device) and writes its arithmetic against the Python array API standard, so
the same op code runs on NumPy ("cpu"), CuPy ("cuda") and array-api-strict
("strict", a CPU stand-in that accepts only what the standard, and so CuPy,
provides). What the standard lacks (scatter-add, host transfer, random numbers,
device queries) lives here, one implementation per library plus a portable one.
"""

from __future__ import annotations

import functools
import importlib
import os

import numpy as np
from array_api_compat import array_namespace

# ---------------------------------------------------------------- host memory

def keep_freed_memory(limit=1 << 30) -> bool:
    """Ask glibc's malloc to reuse freed blocks up to ``limit`` bytes instead of returning them.

    By default glibc serves a block over ~128 KiB-32 MiB with a fresh mmap and unmaps it
    on free, so every large temporary (an activation, an im2col matrix) arrives as new
    zeroed pages from the kernel: measured on the 2-core VM, 20,000 page faults and
    66 ms of kernel time per DCGAN step at batch 64, a quarter of the step. Raising
    the mmap and trim thresholds keeps freed memory in the heap, where the next step's
    arrays of the same sizes reuse it (the process's resident memory then stays at its
    peak). Linux with glibc only; elsewhere, or with MINIGAN_KEEP_FREED_MEMORY=0, it
    changes nothing. Returns whether the setting was applied.
    """
    import ctypes
    import sys

    if os.environ.get("MINIGAN_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc: leave its allocator alone
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, limit)) and bool(mallopt(m_trim_threshold, limit))


KEEPS_FREED_MEMORY = keep_freed_memory()

DEVICES = ("cpu", "cuda", "strict")
FLOAT_DTYPES = ("float32", "float64")

_default_device = "cpu"


# ---------------------------------------------------------------- devices

def _cupy():
    """Import CuPy and check that it can see a GPU, or explain what is missing."""
    try:
        cupy = importlib.import_module("cupy")
    except ImportError as err:
        raise RuntimeError(
            "device 'cuda' needs CuPy, which is not installed. Install the gpu extra "
            "(pip install 'minigan[gpu]', or the cupy-cudaXXx wheel matching your CUDA "
            "version), or use device='cpu'."
        ) from err
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDA driver missing or broken
        raise RuntimeError(
            f"device 'cuda': CuPy is installed but no usable GPU was found ({err}). "
            "Check the NVIDIA driver (nvidia-smi), or use device='cpu'."
        ) from err
    if count == 0:
        raise RuntimeError("device 'cuda': CuPy is installed but there is no GPU on this machine; use device='cpu'.")
    return cupy


def check_device(device) -> str:
    """Normalize a device name ("cpu", "cuda", "cuda:0", "strict") and check it is usable."""
    name = str(device).lower()
    if name.startswith("cuda"):
        _cupy()
        return "cuda"
    if name not in DEVICES:
        raise ValueError(f"unknown device {device!r}: choose one of 'cpu', 'cuda' or 'strict' (array-api-strict, for tests)")
    if name == "strict":
        _strict()
    return name


def _strict():
    try:
        return importlib.import_module("array_api_strict")
    except ImportError as err:
        raise RuntimeError(
            "device 'strict' needs array-api-strict (a test-only stand-in for CuPy): "
            "pip install 'minigan[dev]'"
        ) from err


def set_device(device) -> None:
    """Set the device on which new tensors are created when no ``device=`` is given."""
    global _default_device
    _default_device = check_device(device)


def get_device() -> str:
    return _default_device


def namespace_for(device=None):
    """The array namespace (``xp``) of a device."""
    device = _default_device if device is None else check_device(device)
    if device == "cpu":
        return array_namespace(np.empty(0))
    if device == "cuda":
        return array_namespace(_cupy().empty(0))
    return _strict()


_namespace_of_type = {}


def get_namespace(*arrays):
    """The array namespace (``xp``) of one or more arrays: the question every op asks.

    Asked several times per op, so the answer is remembered per array type.
    """
    kind = type(arrays[0])
    for a in arrays:  # a loop, not all(...): this runs a few hundred times per training step
        if type(a) is not kind:
            return array_namespace(*arrays)
    xp = _namespace_of_type.get(kind)
    if xp is None:
        xp = _namespace_of_type[kind] = array_namespace(*arrays)
    return xp


_device_of_type = {np.ndarray: "cpu"}


def device_of(array) -> str:
    """The minigan device name of a raw array."""
    kind = type(array)
    device = _device_of_type.get(kind)
    if device is not None:
        return device
    if isinstance(array, np.ndarray):
        return "cpu"
    module = kind.__module__
    if module.startswith("cupy"):
        device = "cuda"
    elif module.startswith("array_api_strict"):
        device = "strict"
    else:
        raise TypeError(f"not an array minigan knows: {kind.__name__}")
    _device_of_type[kind] = device
    return device


# ---------------------------------------------------------------- dtypes

def dtype_name(dtype) -> str:
    """'float32' for np.float32, cupy.float32, array_api_strict.float32 or 'float32'."""
    if isinstance(dtype, str):
        return dtype
    # The type is part of the key: a strict dtype hashes like NumPy's but must not be compared with it.
    return _dtype_name(type(dtype), dtype)


@functools.lru_cache(maxsize=64)  # asked on every op; NumPy's dtype.name is slow
def _dtype_name(kind, dtype) -> str:
    if kind.__module__.startswith("array_api_strict"):
        return str(dtype).rsplit(".", 1)[-1]
    return np.dtype(dtype).name


def dtype_of(name_or_dtype, xp):
    """The namespace's dtype object for a name such as 'float64'."""
    return getattr(xp, dtype_name(name_or_dtype))


# ---------------------------------------------------------------- moving data

def to_device(array, device):
    """Copy (or pass through) a raw array onto a device."""
    device = check_device(device)
    source = device_of(array)
    if source == device:
        return array
    host = to_numpy(array)
    if device == "cpu":
        return host
    if device == "cuda":
        return _cupy().asarray(host)
    return _strict().asarray(host)


def synchronize(array) -> None:
    """Wait until the device that holds ``array`` has finished its queued work (a no-op off the GPU)."""
    if device_of(array) == "cuda":
        _cupy().cuda.get_current_stream().synchronize()


def to_numpy(array) -> np.ndarray:
    """A NumPy array with the same values; copies from the GPU when needed."""
    source = device_of(array)
    if source == "cuda":
        return array.get()
    return np.asarray(array)


def asarray(data, dtype=None, device=None):
    """Make a raw array on ``device`` from Python data, NumPy arrays or other arrays."""
    device = _default_device if device is None else check_device(device)
    if not isinstance(data, (int, float, bool, list, tuple, np.ndarray, np.generic)):
        data = to_numpy(data)
    host = np.asarray(data)
    if dtype is None:
        # float32 by default, like PyTorch; integers and booleans keep their kind.
        if host.dtype.kind == "f" or host.dtype.kind == "c":
            dtype = host.dtype.name if isinstance(data, (np.ndarray, np.generic)) else "float32"
        elif host.dtype.kind in "iu":
            dtype = "int64"
        elif host.dtype.kind == "b":
            dtype = "bool"
        else:
            raise TypeError(f"cannot make a tensor from data of dtype {host.dtype}")
    host = host.astype(dtype_name(dtype), copy=True)  # a tensor owns its data: never alias the caller's array
    if device == "cpu":
        return host
    return to_device(host, device)


_constants = {}
_constant_ids = set()  # so that owns_memory can tell a shared constant from a fresh array


def constant(value, dtype, device):
    """A 0-d array holding the Python number ``value``, for arithmetic such as ``x * 2.0``.

    On the GPU each new one is a host-to-device copy (some 20 microseconds of host time,
    and every step of a GAN asks for the same numbers again), so there the arrays are
    kept and shared: whoever asks must never write into one. Elsewhere a fresh array.
    """
    device = check_device(device)
    if device != "cuda":
        return asarray(value, dtype=dtype, device=device)
    # float.hex tells -0.0 from 0.0 (equal as keys) and makes NaN equal to itself
    exact = float(value).hex() if isinstance(value, (float, np.floating)) else value
    key = (type(value), exact, dtype_name(dtype))
    array = _constants.get(key)
    if array is None:
        if len(_constants) >= 4096:  # a loop over ever-new numbers must not grow this without end
            _constants.clear()
            _constant_ids.clear()
        array = _constants[key] = asarray(value, dtype=dtype, device=device)
        _constant_ids.add(id(array))
    return array


def ensure_array(result):
    """NumPy reductions return scalars (np.float64) for 0-d results; make them 0-d arrays."""
    if isinstance(result, np.generic):
        return np.asarray(result)
    return result


# ---------------------------------------------------------------- beyond the standard

def scatter_add(target, axis, indices, values):
    """Return ``target`` with ``values[..., j, ...]`` added at ``indices[j]`` along ``axis``, repeats adding up.

    NumPy and CuPy have ``add.at`` (which updates ``target`` in place); the standard has
    none, so the portable path builds a one-hot matrix, uses one matrix product and returns
    a new array. Always use the returned array.
    """
    xp = get_namespace(target)
    device = device_of(target)
    if device in ("cpu", "cuda"):
        lib = np if device == "cpu" else _cupy()
        index = [slice(None)] * target.ndim
        index[axis] = np.asarray(indices) if device == "cpu" else indices
        lib.add.at(target, tuple(index), values)
        return target
    n = target.shape[axis]
    indices = xp.where(indices < 0, indices + n, indices)  # a one-hot match needs non-negative positions
    one_hot = xp.astype(xp.arange(n)[:, None] == xp.reshape(indices, (1, -1)), target.dtype)
    moved = xp.moveaxis(values, axis, -1)  # (..., k)
    summed = xp.matmul(moved, xp.permute_dims(one_hot, (1, 0)))  # (..., n)
    return target + xp.moveaxis(summed, -1, axis)


def sliding_windows(x, kernel, stride, dilation):
    """A (N, OH, OW, kh, kw, C) array of the kernel-sized windows of a padded channels-last ``x``.

    ``x`` is (N, H, W, C). NumPy and CuPy return a strided *view* (no copy: element
    [n, p, q, i, j, c] is x[n, p*sh + i*dh, q*sw + j*dw, c]); the standard has no
    stride tricks, so the portable path stacks kh*kw strided slices, one per offset.
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    n, h, w, c = x.shape
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    device = device_of(x)
    if device in ("cpu", "cuda"):
        lib = np if device == "cpu" else _cupy()
        s0, s1, s2, s3 = x.strides
        return lib.lib.stride_tricks.as_strided(
            x, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3)
        )
    xp = get_namespace(x)
    rows = []
    for i in range(kh):  # kh*kw slices: cheap next to the matrix product that follows
        cols = [
            x[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw, :]
            for j in range(kw)
        ]
        rows.append(xp.stack(cols, axis=3))
    return xp.stack(rows, axis=3)


def channels_last_in_memory(x) -> bool:
    """Whether an (N, C, ...) array is an NCHW view of channels-last memory, as minigan's
    convolutions return: then its (N*H*W, C) rows are a free reshape. The standard has no
    strides; for array-api-strict the answer is False (a layout it does not expose)."""
    if device_of(x) not in ("cpu", "cuda") or x.ndim < 3:
        return False
    item = x.itemsize
    expected, strides = item, {}
    for axis in (1,) + tuple(range(x.ndim - 1, 1, -1)) + (0,):  # C fastest, then W, H, ..., then N
        strides[axis] = expected
        expected *= x.shape[axis]
    return all(x.strides[a] == strides[a] or x.shape[a] == 1 for a in range(x.ndim))


def owns_memory(array) -> bool:
    """Whether ``array`` holds its own writable memory (it is no view of another array, nor
    one of the shared constants above), so a gradient can be handed to a leaf as it is. The
    standard has no notion of views: for array-api-strict the answer is False, and the
    caller copies."""
    device = device_of(array)
    if device == "cpu":
        return array.base is None and array.flags.writeable
    return device == "cuda" and array.base is None and id(array) not in _constant_ids


def recomputes_to_save_memory(array) -> bool:
    """Whether a large temporary that backward needs again (a convolution's im2col columns)
    is recomputed there rather than kept: on the CPU, yes (peak memory is a target there, and
    the copy costs little next to the matrix product); on a GPU, where a step's time is the
    host's launches and memory is plentiful, the temporary is kept."""
    return device_of(array) != "cuda"


def sums_by_matrix_product(array) -> bool:
    """Whether a sum over many rows of ``array`` is best written as ones^T A.

    On NumPy it is: BLAS runs the matrix-vector product on every core, where np.sum over
    outer axes runs on one (0.1 against 0.4 ms for BatchNorm's channel sums at 64 x 64 x 14 x 14,
    two cores). On CuPy it is not: xp.sum is one reduction kernel, where the product takes a
    ones array (a fill kernel) and a cuBLAS call: two launches of host time, for no gain.
    """
    return device_of(array) == "cpu"


# ---------------------------------------------------------------- fused elementwise kernels

class Fused:
    """An elementwise chain written twice, side by side: as the body of one CUDA kernel,
    and as array-API operations (the reference, and the code on every other device).

    On a GPU every array operation is a kernel launch, several microseconds of host time
    that a small GAN's step is mostly made of, and a pass over memory; the chain as one
    ``cupy.ElementwiseKernel`` is one of each. ``params_in`` and ``params_out`` are in
    CuPy's notation ("T x, T slope" and "T y": T is the arrays' float type and scalars
    are cast to it, as the array API casts Python scalars). Outputs passed as arguments
    are updated in place, by the kernel and by the reference alike. ``Fused.enabled =
    False`` (or MINIGAN_FUSED=0 in the environment) runs the references on the GPU too:
    that is how the tests hold the two together and how the benchmarks time the gain.
    """

    enabled = os.environ.get("MINIGAN_FUSED", "1") != "0"
    all = {}  # name -> Fused: every kernel minigan defines (the tests check each against its reference)

    def __init__(self, name, params_in, params_out, cuda_body, reference):
        if name in Fused.all:
            raise ValueError(f"a fused kernel named {name!r} already exists")
        self.name, self.params_in, self.params_out, self.cuda_body = name, params_in, params_out, cuda_body
        self.reference = reference
        self._kernel = None
        Fused.all[name] = self

    def __call__(self, *args):
        if Fused.enabled and device_of(args[0]) == "cuda":
            if self._kernel is None:  # built on first use; CuPy caches the compiled code on disk
                self._kernel = self._build(_cupy())
            return self._launch(args)
        return self.reference(*args)

    def _build(self, cupy):
        return cupy.ElementwiseKernel(self.params_in, self.params_out, self.cuda_body, "minigan_" + self.name)

    def _launch(self, args):
        return self._kernel(*args)


class FusedChannelSum(Fused):
    """A per-channel sum of an elementwise expression, as one kernel on the GPU.

    out[0, c, 0, 0] = post(sum over n, h, w of map(inputs[n, c, h, w])): ``map_expr`` is a
    term of the inputs ("g * centered"), ``post_map`` sets the output from the channel's sum
    ``a`` ("var = a / m"). The inputs are arrays of one shape, (N, C), (N, C, L) or
    (N, C, H, W), in any memory layout, and scalars. Where array operations take a product,
    a sum and a division (three launches, and a temporary as large as the input), this is
    one launch. The result keeps the input's dimensions, (1, C, 1, 1) or (1, C), as the
    reference's must.

    The kernel is written out here rather than left to ``cupy.ReductionKernel``, whose
    generality (broadcasting, any axes) costs the host 50-80 us a call in a training
    step (benchmarks/launch_costs.py): one block of 1024 threads per channel, each thread
    striding over the channel's values with four sums in flight, then a sum in shared
    memory. One block per channel keeps the order of additions fixed (no atomics): the
    same input gives the same bits, run after run.
    """

    BLOCK = 1024
    UNROLL = 4

    def __init__(self, name, params_in, param_out, map_expr, post_map, reference):
        super().__init__(name, params_in, param_out, (map_expr, post_map), reference)
        self._kernel = {}  # (dtype, which inputs are arrays) -> cupy.RawKernel

    def __call__(self, *args):
        first = args[0]
        if Fused.enabled and device_of(first) == "cuda" and first.ndim <= 4 and first.size < 2**31 and first.dtype.char in "fd":
            return self._launch(args)
        return self.reference(*args)  # elsewhere, and for what the kernel does not cover (float16, 5-D)

    def _source(self, ctype, arrays):
        map_expr, post_map = self.cuda_body
        names = [p.split()[-1] for p in self.params_in.split(",")]
        out = self.params_out.split()[-1]
        params, loads = [], []
        for name, is_array in zip(names, arrays):
            if is_array:  # a pointer and four strides, in elements
                params.append(f"const {ctype}* __restrict__ _p_{name}, " + ", ".join(f"const long long _s_{name}{d}" for d in range(4)))
                loads.append(f"const {ctype} {name} = _p_{name}[_i0 * _s_{name}0 + _ch * _s_{name}1 + _i2 * _s_{name}2 + _i3 * _s_{name}3];")
            else:
                params.append(f"const {ctype} {name}")
        return f"""
extern "C" __global__ void minigan_{self.name}({", ".join(params)}, {ctype}* _out, const int _n, const int _h, const int _w) {{
    const int _ch = blockIdx.x, _hw = _h * _w, _count = _n * _hw, _step = blockDim.x * {self.UNROLL};
    {ctype} _acc[{self.UNROLL}] = {{0}};  // independent sums: {self.UNROLL} loads in flight per thread, not 1
    for (int _base = threadIdx.x; _base < _count; _base += _step) {{
        #pragma unroll
        for (int _u = 0; _u < {self.UNROLL}; ++_u) {{
            const int _k = _base + _u * blockDim.x;
            if (_k < _count) {{
                const long long _i0 = _k / _hw, _i2 = (_k % _hw) / _w, _i3 = _k % _w;
                {" ".join(loads)}
                _acc[_u] += {map_expr};
            }}
        }}
    }}
    __shared__ {ctype} _part[{self.BLOCK}];
    _part[threadIdx.x] = _acc[0];
    for (int _u = 1; _u < {self.UNROLL}; ++_u) _part[threadIdx.x] += _acc[_u];
    __syncthreads();
    for (int _s = {self.BLOCK} / 2; _s > 0; _s >>= 1) {{
        if (threadIdx.x < _s) _part[threadIdx.x] += _part[threadIdx.x + _s];
        __syncthreads();
    }}
    if (threadIdx.x == 0) {{
        const {ctype} a = _part[0];
        {ctype} {out};
        {post_map};
        _out[_ch] = {out};
    }}
}}
"""

    def _launch(self, args):
        cupy = _cupy()
        first = args[0]
        dtype = first.dtype
        arrays = tuple(isinstance(a, cupy.ndarray) for a in args)
        key = (dtype.char, arrays)
        kernel = self._kernel.get(key)
        if kernel is None:
            ctype = {"f": "float", "d": "double"}[dtype.char]
            kernel = self._kernel[key] = cupy.RawKernel(self._source(ctype, arrays), "minigan_" + self.name)
        launch_args = []
        for a in args:
            if isinstance(a, cupy.ndarray):
                if a.shape != first.shape or a.dtype != dtype:
                    raise ValueError(f"{self.name}: inputs must share shape and dtype, got {a.shape} {a.dtype} and {first.shape} {dtype}")
                launch_args += (a,) + _four_strides(a.strides, a.itemsize)
            else:
                launch_args.append(dtype.type(a))
        c, sizes = _channels_and_sizes(first.shape)
        out = cupy.empty((1, c) + (1,) * (first.ndim - 2), dtype=dtype)
        kernel((c,), (self.BLOCK,), tuple(launch_args) + (out,) + sizes)
        return out


# A step meets the same few shapes again and again: their kernel arguments are remembered.
# (N, C) and (N, C, L) are walked as (N, C, 1, 1) and (N, C, 1, L): a missing H or W has
# length 1 and stride 0.

@functools.lru_cache(maxsize=256)
def _four_strides(strides, itemsize):
    strides = [s // itemsize for s in strides]
    return tuple(np.int64(s) for s in strides[:2] + ([0, 0] + strides[2:])[-2:])


@functools.lru_cache(maxsize=256)
def _channels_and_sizes(shape):
    h, w = ((1, 1) + tuple(shape[2:]))[-2:]
    return shape[1], (np.int32(shape[0]), np.int32(h), np.int32(w))


# ---------------------------------------------------------------- random numbers

class _Generators:
    """One seeded NumPy generator per device, created lazily from the last manual_seed.

    Every device draws on the host and copies the numbers over: a run gives the same
    numbers on the CPU, on a GPU and on array-api-strict, and a checkpoint can save
    the generator's state exactly (CuPy's own generators cannot be saved). minigan's
    draws are small (noise, interpolation weights, init, dropout masks), so the copy
    costs little.
    """

    def __init__(self, seed=None):
        self.seed = seed
        self.by_device = {}

    def get(self, device):
        if device not in self.by_device:
            self.by_device[device] = np.random.default_rng(self.seed)
        return self.by_device[device]


_generators = _Generators()


def manual_seed(seed: int) -> None:
    """Seed every random draw in minigan (init, noise, shuffling, dropout) on every device."""
    global _generators
    _generators = _Generators(int(seed))


def get_rng_state():
    """The state of the generators (for checkpoints): a dict of plain values."""
    state = {"seed": _generators.seed}
    for device, gen in _generators.by_device.items():
        state[device] = gen.bit_generator.state
    return state


def set_rng_state(state) -> None:
    global _generators
    _generators = _Generators(state["seed"])
    for device, bit_state in state.items():
        if device in DEVICES:
            gen = np.random.default_rng()
            gen.bit_generator.state = bit_state
            _generators.by_device[device] = gen


def _finish(host, dtype, device):
    host = np.asarray(host).astype(dtype_name(dtype))
    return host if device == "cpu" else to_device(host, device)


def random_normal(shape, dtype="float32", device=None):
    device = _default_device if device is None else check_device(device)
    gen = _generators.get(device)
    return _finish(gen.standard_normal(tuple(shape)), dtype, device)


def random_uniform(shape, low=0.0, high=1.0, dtype="float32", device=None):
    device = _default_device if device is None else check_device(device)
    gen = _generators.get(device)
    return _finish(gen.uniform(low, high, tuple(shape)), dtype, device)


def random_integers(low, high, shape, device=None):
    """Integers drawn uniformly from [low, high)."""
    device = _default_device if device is None else check_device(device)
    gen = _generators.get(device)
    return _finish(gen.integers(low, high, tuple(shape)), "int64", device)


def random_permutation(n, device=None):
    device = _default_device if device is None else check_device(device)
    gen = _generators.get(device)
    return _finish(gen.permutation(n), "int64", device)
