"""The backend seam: devices, moving tensors between them, seeded randomness, scatter-add.

'cpu' (NumPy) and 'strict' (array-api-strict) are both available wherever the
tests run; a missing CuPy or GPU is simulated, and real GPU tests skip without one.
"""

import pickle
import sys
import types

import numpy as np
import pytest
from strategies import leaf

import minigan
from minigan import backend


@pytest.fixture
def restore_device():
    previous = minigan.get_device()
    yield
    minigan.set_device(previous)


@pytest.fixture
def no_cupy(restore_device, monkeypatch):
    """Make ``import cupy`` fail, as on a machine without the gpu extra.

    It asks for ``restore_device`` first so that CuPy is back before the device is
    restored: on a GPU machine the suite's device is 'cuda', which needs the import.
    """
    monkeypatch.setitem(sys.modules, "cupy", None)


def fake_cupy(monkeypatch, count=None, error=None):
    """A stand-in CuPy whose runtime reports ``count`` GPUs or raises ``error``."""

    def get_device_count():
        if error is not None:
            raise error
        return count

    module = types.ModuleType("cupy")
    module.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=get_device_count))
    monkeypatch.setitem(sys.modules, "cupy", module)


def has_gpu():
    try:
        backend.check_device("cuda")
        return True
    except RuntimeError:
        return False


needs_gpu = pytest.mark.skipif(not has_gpu(), reason="needs CuPy and a GPU")


# ---------------------------------------------------------------- choosing a device

def test_set_device_and_get_device(restore_device):
    for name in ("strict", "cpu", "STRICT"):
        minigan.set_device(name)
        assert minigan.get_device() == name.lower()
        assert minigan.zeros(2).device == name.lower()
        assert minigan.tensor([1.0]).device == name.lower()


def test_unknown_device_names_the_allowed_ones(restore_device):
    before = minigan.get_device()
    with pytest.raises(ValueError) as err:
        minigan.set_device("tpu")
    message = str(err.value)
    assert "'tpu'" in message
    for name in ("cpu", "cuda", "strict"):
        assert name in message
    assert minigan.get_device() == before


def test_cuda_without_cupy_says_so_and_mentions_the_gpu_extra(no_cupy, restore_device):
    before = minigan.get_device()
    with pytest.raises(RuntimeError) as err:
        minigan.set_device("cuda")
    message = str(err.value)
    assert "CuPy" in message and "not installed" in message
    assert "minigan[gpu]" in message
    assert minigan.get_device() == before
    with pytest.raises(RuntimeError, match="CuPy"):
        minigan.zeros(2, device="cuda:0")


def test_cuda_with_cupy_but_no_gpu_says_so(monkeypatch):
    fake_cupy(monkeypatch, count=0)
    with pytest.raises(RuntimeError, match="no GPU"):
        backend.check_device("cuda")


def test_cuda_with_a_broken_driver_says_so(monkeypatch):
    fake_cupy(monkeypatch, error=OSError("libcuda.so.1: cannot open shared object file"))
    with pytest.raises(RuntimeError) as err:
        backend.check_device("cuda")
    assert "no usable GPU" in str(err.value) and "libcuda" in str(err.value)


CREATORS = {
    "tensor": lambda device: minigan.tensor([1.0, 2.0], device=device),
    "zeros": lambda device: minigan.zeros(2, 3, device=device),
    "ones": lambda device: minigan.ones((2, 3), device=device),
    "full": lambda device: minigan.full((2,), 7.0, device=device),
    "arange": lambda device: minigan.arange(5, device=device),
    "linspace": lambda device: minigan.linspace(0.0, 1.0, 5, device=device),
    "eye": lambda device: minigan.eye(3, device=device),
    "randn": lambda device: minigan.randn(2, 3, device=device),
    "rand": lambda device: minigan.rand(4, device=device),
    "randint": lambda device: minigan.randint(0, 5, (3,), device=device),
    "randperm": lambda device: minigan.randperm(6, device=device),
}


@pytest.mark.parametrize("target", ["cpu", "strict"])
@pytest.mark.parametrize("name", sorted(CREATORS))
def test_creation_functions_take_a_device(name, target):
    minigan.manual_seed(0)
    made = CREATORS[name](target)
    assert made.device == target
    # The same call on the other device gives the same values (randoms included: the host draws them).
    minigan.manual_seed(0)
    other = CREATORS[name]("strict" if target == "cpu" else "cpu")
    np.testing.assert_array_equal(made.numpy(), other.numpy())
    assert made.dtype == other.dtype


@pytest.mark.parametrize("source, target", [("cpu", "strict"), ("strict", "cpu")])
def test_to_device_keeps_values_and_is_differentiable(source, target):
    values = np.array([[1.0, -2.0], [0.5, 3.0]])
    x = minigan.tensor(values, dtype="float64", device=source, requires_grad=True)
    y = x.to(target)
    assert y.device == target and y.dtype == "float64"
    np.testing.assert_array_equal(y.numpy(), values)
    (y * y).sum().backward()
    assert x.grad.device == source
    np.testing.assert_array_equal(x.grad.numpy(), 2 * values)
    assert minigan.gradcheck(lambda a: a.to(target) * 3.0, (x,))
    assert minigan.gradgradcheck(lambda a: (a.to(target) ** 2).to(source), (x,))


def test_to_the_same_device_is_the_same_tensor(device):
    x = minigan.tensor([1.0])
    assert x.to(device) is x
    assert x.cpu().device == "cpu"


def test_to_device_and_dtype_at_once(device):
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("strict" if device == "cpu" else "cpu", "float64")
    assert y.dtype == "float64" and y.device != device
    y.sum().backward()
    assert x.grad.dtype == "float32" and x.grad.device == device


@pytest.mark.parametrize("first, second", [("cpu", "strict"), ("strict", "cpu")])
def test_ops_on_two_devices_refuse_to_mix(first, second):
    # As in PyTorch (and as CuPy with NumPy does): no silent copy to one side, in either order.
    a = minigan.tensor([1.0], device=first, requires_grad=True)
    b = minigan.tensor([2.0], device=second)
    with pytest.raises((RuntimeError, TypeError, ValueError)) as err:
        a + b
    assert first in str(err.value) and second in str(err.value)


@needs_gpu
def test_cuda_round_trip_is_differentiable():
    values = np.array([1.0, -2.0, 3.0])
    x = minigan.tensor(values, dtype="float64", requires_grad=True, device="cpu")
    y = x.to("cuda")
    assert y.device == "cuda"
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * values)
    assert minigan.tensor([1.0], device="cuda:0").device == "cuda"


# ---------------------------------------------------------------- random numbers

DRAWS = {
    "randn": lambda: minigan.randn(3, 4),
    "rand": lambda: minigan.rand(5),
    "randint": lambda: minigan.randint(0, 100, (6,)),
    "randperm": lambda: minigan.randperm(10),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_manual_seed_makes_draws_reproducible(name):
    minigan.manual_seed(123)
    first = DRAWS[name]().numpy()
    minigan.manual_seed(123)
    np.testing.assert_array_equal(DRAWS[name]().numpy(), first)
    minigan.manual_seed(124)
    assert not np.array_equal(DRAWS[name]().numpy(), first)


def test_random_draws_have_their_documented_ranges():
    minigan.manual_seed(0)
    u = minigan.rand(1000).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0
    k = minigan.randint(3, 7, (1000,)).numpy()
    assert set(np.unique(k)) == {3, 4, 5, 6}
    assert sorted(minigan.randperm(8).tolist()) == list(range(8))
    n = minigan.randn(10_000).numpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1.0) < 0.05


def test_successive_draws_differ():
    minigan.manual_seed(0)
    assert not np.array_equal(minigan.randn(4).numpy(), minigan.randn(4).numpy())


def test_rng_state_round_trip():
    minigan.manual_seed(7)
    minigan.randn(3)  # advance the stream, so the state is more than the seed
    state = pickle.loads(pickle.dumps(minigan.get_rng_state()))  # a checkpoint stores it
    expected = [minigan.randn(4).numpy(), minigan.randperm(5).numpy()]
    minigan.randn(10)
    minigan.set_rng_state(state)
    np.testing.assert_array_equal(minigan.randn(4).numpy(), expected[0])
    np.testing.assert_array_equal(minigan.randperm(5).numpy(), expected[1])


def test_rng_state_round_trip_before_any_draw():
    minigan.manual_seed(11)
    state = minigan.get_rng_state()
    expected = minigan.rand(3).numpy()
    minigan.set_rng_state(state)
    np.testing.assert_array_equal(minigan.rand(3).numpy(), expected)


# ---------------------------------------------------------------- scatter_add

@pytest.mark.parametrize("axis", [0, 1, 2])
def test_scatter_add_portable_path_equals_np_add_at(axis):
    rng = np.random.default_rng(0)
    target = rng.standard_normal((3, 4, 2))
    indices = np.array([1, 0, 1, 1, target.shape[axis] - 1])  # repeats must add up
    shape = list(target.shape)
    shape[axis] = len(indices)
    values = rng.standard_normal(shape)

    expected = target.copy()
    key = [slice(None)] * 3
    key[axis] = indices
    np.add.at(expected, tuple(key), values)

    strict = backend.to_device
    result = backend.scatter_add(strict(target, "strict"), axis, strict(indices, "strict"), strict(values, "strict"))
    assert backend.device_of(result) == "strict"
    np.testing.assert_allclose(backend.to_numpy(result), expected, rtol=1e-12)
    on_cpu = backend.scatter_add(target.copy(), axis, indices, values)
    np.testing.assert_allclose(on_cpu, expected, rtol=1e-12)


def test_scatter_add_portable_path_with_negative_indices():
    # np.add.at counts -1 as the last position; so must the one-hot path.
    target = np.zeros((4,))
    indices = np.array([-1, 0, -1])
    values = np.array([1.0, 2.0, 3.0])
    expected = target.copy()
    np.add.at(expected, indices, values)
    to_strict = lambda a: backend.to_device(a, "strict")  # noqa: E731
    result = backend.scatter_add(to_strict(target), 0, to_strict(indices), to_strict(values))
    np.testing.assert_array_equal(backend.to_numpy(result), expected)


# ---------------------------------------------------------------- dtypes and conversions

def test_dtype_names_are_the_same_on_every_device():
    for device in ("cpu", "strict"):
        for dtype in ("float32", "float64", "int64", "bool"):
            t = minigan.zeros(2, dtype=dtype, device=device)
            assert t.dtype == dtype


def test_numpy_of_a_strict_tensor_is_a_numpy_array():
    t = minigan.tensor([1.0, 2.0], device="strict")
    assert type(t.data).__module__.startswith("array_api_strict")
    assert isinstance(t.numpy(), np.ndarray)


def test_device_of_an_unknown_array_explains():
    with pytest.raises(TypeError, match="list"):
        backend.device_of([1, 2])


def test_leaf_helper_uses_the_default_device(device):
    assert leaf([1.0]).device == device


_FAULTS = """
import resource, numpy as np
import minigan
x = np.ones((1024, 1024), np.float32)  # 4 MiB: over glibc's default mmap threshold
def burst():
    arrays = [x * float(i) for i in range(8)]  # 32 MiB alive at once (a step's activations), then freed
    return sum(float(a[0, 0]) for a in arrays)
burst()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    burst()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(env):
    import os
    import subprocess

    out = subprocess.run([sys.executable, "-c", _FAULTS], env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def test_freed_host_memory_is_reused_not_faulted_in_again():
    """backend.keep_freed_memory: the arrays of the next step reuse the heap the last one freed.

    Without it, glibc returns freed memory to the kernel once enough is free at the top
    of the heap, and every new array then costs a page fault per 4 KiB page (measured:
    20,000 per DCGAN step at batch 64). 20 bursts of 32 MiB would fault ~160,000 times.
    """
    from minigan import backend as b

    if not b.KEEPS_FREED_MEMORY:
        pytest.skip("not Linux with glibc, or MINIGAN_KEEP_FREED_MEMORY=0")
    assert _page_faults({}) < 1000
    assert _page_faults({"MINIGAN_KEEP_FREED_MEMORY": "0"}) > 10_000  # the check above can fail


def test_keep_freed_memory_can_be_switched_off(monkeypatch):
    from minigan import backend as b

    monkeypatch.setenv("MINIGAN_KEEP_FREED_MEMORY", "0")
    assert b.keep_freed_memory() is False


def test_channels_last_in_memory_tells_the_layouts_apart():
    a = np.zeros((4, 3, 5, 6), np.float32)
    last = np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    assert backend.channels_last_in_memory(last)
    assert not backend.channels_last_in_memory(a)  # NCHW in its own order
    assert not backend.channels_last_in_memory(last[:, :, ::2])  # a strided view of channels-last
    assert backend.channels_last_in_memory(np.ascontiguousarray(np.zeros((4, 5, 3))).transpose(0, 2, 1))  # (N, C, L)
    assert not backend.channels_last_in_memory(np.zeros((4, 3), np.float32))  # (N, C): nothing to tell
    import array_api_strict

    assert not backend.channels_last_in_memory(array_api_strict.asarray(last))  # no strides in the standard


# ---------------------------------------------------------------- numbers in arithmetic

def test_constant_is_a_fresh_zero_d_array_off_the_gpu(device):
    if device == "cuda":
        pytest.skip("on the GPU constants are shared (the next test)")
    a, b = backend.constant(2.5, "float64", device), backend.constant(2.5, "float64", device)
    assert a is not b and a.shape == () and backend.dtype_name(a.dtype) == "float64"
    assert float(backend.to_numpy(a)) == 2.5


def test_on_the_gpu_constants_are_kept_and_shared_exactly(monkeypatch):
    """The cache, with a stand-in GPU: one array per number and dtype; -0.0 is not 0.0; NaN is found again."""
    monkeypatch.setattr(backend, "check_device", lambda device: "cuda")
    monkeypatch.setattr(backend, "asarray", lambda value, dtype, device: np.asarray(value, dtype=dtype))
    monkeypatch.setattr(backend, "_constants", {})
    two = backend.constant(2.0, "float32", "cuda")
    assert backend.constant(2.0, "float32", "cuda") is two
    assert backend.constant(2.0, "float64", "cuda") is not two and backend.constant(2, "float32", "cuda") is not two
    negative_zero = backend.constant(-0.0, "float32", "cuda")
    assert np.signbit(negative_zero) and not np.signbit(backend.constant(0.0, "float32", "cuda"))
    assert backend.constant(float("nan"), "float32", "cuda") is backend.constant(float("nan"), "float32", "cuda")
    for i in range(5000):  # ever-new numbers: the cache is emptied rather than grown without end
        backend.constant(float(i) + 0.5, "float32", "cuda")
    assert len(backend._constants) <= 4096


def test_a_shared_constant_is_never_handed_over_as_a_gradient(device):
    """On the GPU backend.constant shares its arrays: owns_memory says no, so the engine would
    copy one rather than give it to a leaf whose optimizer updates it in place."""
    value = backend.constant(2.0, "float32", device)
    assert backend.owns_memory(value) == (device == "cpu")  # a fresh array on the CPU; shared on the GPU
    fresh = backend.asarray(np.ones(3), dtype="float32", device=device)
    assert backend.owns_memory(fresh) == (device in ("cpu", "cuda"))
    xp = backend.get_namespace(fresh)
    assert not backend.owns_memory(xp.reshape(fresh, (3, 1)))
