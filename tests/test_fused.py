"""Fused GPU kernels (backend.Fused) against their array-API references.

Each kernel is one CUDA loop body written beside the array operations it replaces.
On the GPU (``--device cuda``) every kernel is run on fresh random data and compared
with its reference; everywhere, the references are what runs, and a whole training
step is the same with the kernels on and off.
"""

import numpy as np
import pytest

import minigan
import minigan.nn.functional  # noqa: F401  (defines the activation and batch-norm kernels)
import minigan.optim  # noqa: F401  (defines the Adam kernel)
from minigan import backend
from minigan.backend import Fused


def _channel(rng, c, positive=False):
    v = rng.standard_normal((1, c, 1, 1))
    return np.abs(v) + 0.1 if positive else v


def _wide(rng):
    """Logits of every size a discriminator emits, +-1e4 included (no overflow, no NaN)."""
    return np.concatenate([rng.standard_normal((60, 4)) * 10, np.array([[-1e4, -50.0, 50.0, 1e4]] * 4)])


# name -> (inputs, outputs updated in place or None) from a generator; scalars as Python floats
CASES = {
    "relu_grad": lambda rng: ([rng.standard_normal((8, 5, 6, 6)), rng.standard_normal((8, 5, 6, 6))], None),
    "sigmoid": lambda rng: ([_wide(rng)], None),
    "sigmoid_grad": lambda rng: ([rng.standard_normal((64, 1)), rng.uniform(0, 1, (64, 1))], None),
    "tanh_grad": lambda rng: ([rng.standard_normal((64, 1)), rng.uniform(-1, 1, (64, 1))], None),
    "softplus": lambda rng: ([_wide(rng)], None),
    "softplus_grad": lambda rng: ([rng.standard_normal((64, 1)), _wide(rng)[:, :1]], None),
    "leaky_relu": lambda rng: ([rng.standard_normal((8, 5, 6, 6)), 0.2], None),
    "leaky_relu_grad": lambda rng: ([rng.standard_normal((8, 5, 6, 6)), rng.standard_normal((8, 5, 6, 6)), 0.2], None),
    "adam": lambda rng: (
        [rng.standard_normal((7, 9)), 0.5, 0.5, 0.999, 1 - 0.999, 2e-4 / (1 - 0.5 ** 3), (1 - 0.999 ** 3) ** 0.5, 1e-8, 0.01],
        [rng.standard_normal((7, 9)), rng.standard_normal((7, 9)) * 0.1, np.abs(rng.standard_normal((7, 9))) * 0.01],
    ),
    "running_stats": lambda rng: (
        [rng.standard_normal(5), np.abs(rng.standard_normal(5)), 0.1, 288 / 287],
        [rng.standard_normal(5), np.abs(rng.standard_normal(5)) + 0.5],
    ),
    # a 4x4 stride-2 transposed convolution's windows (N, H', W', kh, kw, C) into (N, 14, 14, C),
    # padding 1; and a 3x3, stride 3, dilation 2 one, whose windows leave gaps
    "col2im": lambda rng: (
        [rng.standard_normal((3, 7, 7, 4, 4, 5)), 14, 14, 5, 7, 7, 4, 4, 2, 2, 1, 1, 1, 1], [np.zeros((3, 14, 14, 5))]
    ),
    # a (Cin, Cout, 4, 4) transposed-convolution weight laid out for stride 2: Q = 2
    "subpixel_weight": lambda rng: ([rng.standard_normal((6, 5, 4, 4)), 6, 5, 2, 2, 2, 2], [np.full((2 * 2 * 6, 2 * 2 * 5), np.nan)]),
    "channel_sum": lambda rng: ([rng.standard_normal((8, 5, 6, 6))], None),
    "channel_mean": lambda rng: ([rng.standard_normal((8, 5, 6, 6)) + 3, 288], None),
    "channel_mean_of_squares": lambda rng: ([rng.standard_normal((8, 5)), 8], None),
    "channel_product_sum": lambda rng: ([rng.standard_normal((8, 5, 6, 6)), rng.standard_normal((8, 5, 6, 6))], None),
    "bn_affine": lambda rng: (
        [rng.standard_normal((8, 5, 6, 6)), _channel(rng, 5, positive=True), _channel(rng, 5), _channel(rng, 5), 1e-5], None
    ),
    "bn_grad_coefficients": lambda rng: (
        [_channel(rng, 5), _channel(rng, 5), _channel(rng, 5, positive=True), _channel(rng, 5), 1e-5, 1 / 288], None
    ),
    # the 4 x 4, stride-2 windows of x (N, 14, 14, C) padded by 1: the DCGAN's second convolution
    "window_rows": lambda rng: (
        [rng.standard_normal((3, 14, 14, 4)), 14, 14, 4, 7, 7, 4, 4, 2, 2, 1, 1, 1, 1], [np.full((3 * 49, 64), np.nan)]
    ),
    # the DCGAN's sub-pixel planes (N*Jh*Jw, sh*sw*C), 8 x 8 windows, into a 14 x 14 output
    "interleave": lambda rng: (
        [rng.standard_normal((3 * 8 * 8, 2 * 2 * 5)), 14, 14, 5, 8, 8, 2, 2, 1, 1], [np.full((3, 14, 14, 5), np.nan)]
    ),
    "bn_grad_input": lambda rng: (
        [rng.standard_normal((8, 5, 6, 6)), rng.standard_normal((8, 5, 6, 6))] + [_channel(rng, 5) for _ in range(3)], None
    ),
}


def test_every_kernel_has_a_case():
    assert sorted(Fused.all) == sorted(CASES), "add a case for each new backend.Fused kernel"


def _call(kernel, inputs, outputs, dtype, device, use_kernel):
    arrays = [backend.asarray(a, dtype=dtype, device=device) if isinstance(a, np.ndarray) else a for a in inputs]
    outs = [backend.asarray(a, dtype=dtype, device=device) for a in outputs or []]
    result = kernel(*arrays, *outs) if use_kernel else kernel.reference(*arrays, *outs)
    result = result if isinstance(result, tuple) else (result,)
    return [backend.to_numpy(r) for r in result], [backend.to_numpy(o) for o in outs]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_matches_its_reference(name, dtype, device):
    """On the GPU the kernel runs; elsewhere this checks the reference is what runs."""
    kernel = Fused.all[name]
    for seed in range(3):  # fresh data each time: the kernel must compute the same function everywhere
        inputs, outputs = CASES[name](np.random.default_rng(seed))
        got, got_outs = _call(kernel, inputs, outputs, dtype, device, use_kernel=True)
        want, want_outs = _call(kernel, inputs, outputs, dtype, device, use_kernel=False)
        # The data is of order 1; the kernel may round differently (fused multiply-adds, another
        # order of additions), so near-zero results get an absolute tolerance of that scale.
        rtol = 2e-6 if dtype == "float32" else 1e-13
        for a, b in zip(got + got_outs, want + want_outs):
            assert a.shape == b.shape and str(a.dtype) == dtype and np.isfinite(a).all()
            np.testing.assert_allclose(a, b, rtol=rtol, atol=5 * rtol)
        if outputs:  # in-place kernels update the arrays they were given, and return them
            for r, o in zip(got, got_outs):
                np.testing.assert_array_equal(r, o)


def test_off_the_gpu_the_reference_runs(monkeypatch):
    calls = []
    kernel = Fused.all["leaky_relu"]
    monkeypatch.setattr(kernel, "reference", lambda *args: calls.append(args) or "reference")
    assert kernel(np.ones(3), 0.2) == "reference" and len(calls) == 1
    monkeypatch.setattr(Fused, "enabled", False)
    if backend.get_device() == "cuda":  # turned off, the GPU runs the reference too
        assert kernel(backend.asarray(np.ones(3), device="cuda"), 0.2) == "reference"


def test_a_kernel_name_is_taken_once():
    with pytest.raises(ValueError, match="already exists"):
        Fused("adam", "T x", "T y", "y = x", lambda x: x)


def test_a_training_step_is_the_same_with_the_kernels_off(device, monkeypatch):
    """A DCGAN step (LeakyReLU, BatchNorm, Adam: every kernel) with the kernels on and off."""
    from minigan.gan.models import DCGANDiscriminator, DCGANGenerator

    def step():
        minigan.manual_seed(0)
        g, d = DCGANGenerator(16, 8), DCGANDiscriminator(8)
        opt_g, opt_d = minigan.optim.Adam(g.parameters(), 2e-4, (0.5, 0.999)), minigan.optim.Adam(d.parameters(), 2e-4, (0.5, 0.999))
        z, real = minigan.randn(16, 16), minigan.rand(16, 1, 28, 28) * 2 - 1
        for _ in range(2):
            fake = g(z)
            loss_d = minigan.nn.functional.softplus(-d(real)).mean() + minigan.nn.functional.softplus(d(fake.detach())).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            loss_g = minigan.nn.functional.softplus(-d(fake)).mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
        return [p.numpy() for p in list(g.parameters()) + list(d.parameters())]

    on = step()
    monkeypatch.setattr(Fused, "enabled", False)
    off = step()
    for a, b in zip(on, off):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_running_statistics_of_another_dtype_are_updated_in_theirs(device):
    """Running statistics in float32 for a float64 batch (the kernel's S and T differ)."""
    kernel = Fused.all["running_stats"]
    rng = np.random.default_rng(0)
    mean, var = rng.standard_normal(4), np.abs(rng.standard_normal(4))
    running = [backend.asarray(np.zeros(4), dtype="float32"), backend.asarray(np.ones(4), dtype="float32")]
    kernel(backend.asarray(mean), backend.asarray(var), 0.1, 2.0, *running)
    assert [backend.dtype_name(r.dtype) for r in running] == ["float32", "float32"]
    np.testing.assert_allclose(backend.to_numpy(running[0]), 0.1 * mean, rtol=1e-6)
    np.testing.assert_allclose(backend.to_numpy(running[1]), 0.9 + 0.2 * var, rtol=1e-6)


def test_col2im_with_gaps_and_dilation(device):
    """A stride larger than the kernel's reach leaves output pixels no window touches: they are 0."""
    kernel = Fused.all["col2im"]
    cols = np.random.default_rng(1).standard_normal((2, 3, 4, 3, 3, 2))
    # the padded canvas spans (rows - 1) * 3 + (3 - 1) * 2 + 1 = 11 and 14 pixels; offsets
    # {0, 2, 4} + {0, 3, 6} never reach canvas rows 1 and 9, so output rows 0 and 8 stay 0
    shape = (2, 9, 12, 2)
    args = [backend.asarray(cols, dtype="float64", device=device), 9, 12, 2, 3, 4, 3, 3, 3, 3, 1, 1, 2, 2]
    out = kernel(*args, backend.asarray(np.full(shape, np.nan), dtype="float64", device=device))
    ref = kernel.reference(*args, backend.asarray(np.full(shape, np.nan), dtype="float64", device=device))
    np.testing.assert_allclose(backend.to_numpy(out), backend.to_numpy(ref), rtol=1e-13, atol=1e-13)
    got = backend.to_numpy(out)
    assert np.isfinite(got).all() and (got[:, [0, 8]] == 0).all() and (got[:, 1:8] != 0).any()


def _kernel_and_reference(name, device, inputs, out_shape):
    kernel = Fused.all[name]
    args = [backend.asarray(a, dtype="float64", device=device) if isinstance(a, np.ndarray) else a for a in inputs]
    out = kernel(*args, backend.asarray(np.full(out_shape, np.nan), dtype="float64", device=device))
    ref = kernel.reference(*args, backend.asarray(np.full(out_shape, np.nan), dtype="float64", device=device))
    return backend.to_numpy(out), backend.to_numpy(ref)


def test_window_rows_with_dilation_and_a_negative_offset(device):
    """3 x 2 windows, stride (1, 2), dilation (2, 1), starting 2 rows *inside* x and 1 column
    left of it: rows past the offset are cut, the column left of x reads zeros."""
    x = np.random.default_rng(2).standard_normal((2, 9, 5, 3))
    args = [x, 9, 5, 3, 3, 3, 3, 2, 1, 2, 2, 1, -2, 1]
    out, ref = _kernel_and_reference("window_rows", device, args, (2 * 3 * 3, 3 * 2 * 3))
    np.testing.assert_array_equal(out, ref)
    padded = np.zeros((2, 9, 6, 3))
    padded[:, :, 1:] = x
    want = np.stack([np.stack([padded[:, 2 + p + 2 * i, 2 * q + j] for i in range(3) for j in range(2)], axis=1)
                     for p in range(3) for q in range(3)], axis=1)  # (N, p q, i j, C)
    np.testing.assert_array_equal(out, want.reshape(18, 18))


def test_window_rows_read_a_strided_view(device):
    """The convolutions read an NHWC *view* of NCHW memory (what CuPy's elementwise kernels
    return): the kernel indexes x by its shape and strides."""
    nchw = backend.asarray(np.random.default_rng(3).standard_normal((2, 3, 4, 5)), dtype="float64", device=device)
    xp = backend.get_namespace(nchw)
    x = xp.permute_dims(nchw, (0, 2, 3, 1))  # (2, 4, 5, 3), not contiguous
    kernel = Fused.all["window_rows"]
    args = (x, 4, 5, 3, 3, 4, 2, 2, 1, 1, 1, 1, 0, 0)
    got = kernel(*args, xp.empty((2 * 12, 12), dtype=x.dtype))
    want = kernel.reference(*args, xp.empty((2 * 12, 12), dtype=x.dtype))
    np.testing.assert_array_equal(backend.to_numpy(got), backend.to_numpy(want))


def test_interleave_with_stride_3_and_an_odd_offset(device):
    """Phases of a stride (3, 2), offset (2, 0), a 12 x 8 output of 5 x 4 windows: every output
    pixel y reads phase (y + 2) mod 3 of window (y + 2) // 3."""
    planes = np.random.default_rng(4).standard_normal((2 * 5 * 4, 3 * 2 * 3))
    out, ref = _kernel_and_reference("interleave", device, [planes, 12, 8, 3, 5, 4, 3, 2, 2, 0], (2, 12, 8, 3))
    np.testing.assert_array_equal(out, ref)
    full = planes.reshape(2, 5, 4, 3, 2, 3).transpose(0, 1, 3, 2, 4, 5).reshape(2, 15, 8, 3)
    np.testing.assert_array_equal(out, full[:, 2:14, 0:8])


@pytest.mark.parametrize("shape", [(6, 3), (6, 3, 5), (4, 3, 5, 2)])
def test_channel_sums_in_any_layout(shape, device):
    """The per-channel kernels read (N, C), (N, C, L) and (N, C, H, W) arrays in any memory
    layout: a convolution's NHWC memory, a CuPy kernel's NCHW, and a transposed view."""
    rng = np.random.default_rng(5)
    g = backend.asarray(rng.standard_normal(shape), dtype="float64", device=device)
    xp = backend.get_namespace(g)
    order = (0,) + tuple(range(2, len(shape))) + (1,)  # channels last in memory
    last = xp.permute_dims(backend.asarray(rng.standard_normal(tuple(shape[a] for a in order)), dtype="float64", device=device),
                           tuple(order.index(a) for a in range(len(shape))))
    for name, args in [("channel_sum", (last,)), ("channel_mean", (last, 7.0)), ("channel_product_sum", (g, last)),
                       ("channel_mean_of_squares", (xp.permute_dims(last, tuple(range(len(shape)))), 2.0))]:
        kernel = Fused.all[name]
        got, want = backend.to_numpy(kernel(*args)), backend.to_numpy(kernel.reference(*args))
        assert got.shape == (1, shape[1]) + (1,) * (len(shape) - 2)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_channel_sum_launch_arguments_for_every_rank():
    """The per-channel kernels walk four dimensions: (N, C) and (N, C, L) are passed as
    (N, C, 1, 1) and (N, C, 1, L), a missing axis with stride 0 (checked here, off the GPU,
    because a wrong argument list only shows on a GPU)."""
    from minigan.backend import _channels_and_sizes, _four_strides

    for shape, strides, sizes in [((8, 5), (5, 1, 0, 0), (8, 1, 1)), ((8, 5, 3), (15, 3, 0, 1), (8, 1, 3)),
                                  ((8, 5, 3, 2), (30, 6, 2, 1), (8, 3, 2))]:
        a = np.zeros(shape, dtype=np.float32)
        assert [int(s) for s in _four_strides(a.strides, a.itemsize)] == list(strides)
        c, launch_sizes = _channels_and_sizes(shape)
        assert c == 5 and [int(s) for s in launch_sizes] == list(sizes)


def test_channel_sum_source_reads_arrays_and_takes_scalars():
    source = Fused.all["channel_mean"]._source("float", (True, False))
    assert "const float* __restrict__ _p_x" in source and "const float m," in source
    assert "_acc[_u] += x;" in source and "mean = a / m;" in source and "_out[_ch] = mean;" in source
    source = Fused.all["channel_product_sum"]._source("double", (True, True))
    assert "_p_g" in source and "_p_centered" in source and "_acc[_u] += g * centered;" in source
