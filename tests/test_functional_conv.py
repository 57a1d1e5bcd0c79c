"""conv2d and conv_transpose2d: the nested-loop references, the adjoint identity, gradients.

Configurations are drawn by hypothesis: batch 1-3, channels 1-4, non-square inputs
and kernels, and stride, padding and dilation given as ints (the same on both axes)
or as pairs. The gradient checks draw much smaller ones, since each check costs two
forward passes per input element.
"""

import importlib
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import minigan
import minigan.nn.functional as F
import reference
from minigan import backend

conv_module = importlib.import_module("minigan.nn.functional.conv")


def tensor(array, requires_grad=False):
    """A float64 tensor on the suite's device (the default one)."""
    return minigan.tensor(np.asarray(array, dtype=np.float64), dtype="float64", requires_grad=requires_grad)


# ---------------------------------------------------------------- strategies

@dataclass
class ConvConfig:
    """Shapes and options of one convolution; ``options`` holds ints or pairs as the user would pass them."""

    x_shape: tuple
    w_shape: tuple
    bias: bool
    options: dict
    seed: int

    def arrays(self):
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal(self.x_shape)
        w = rng.standard_normal(self.w_shape)
        b = rng.standard_normal(self.w_shape[0 if "output_padding" not in self.options else 1])
        return x, w, (b if self.bias else None)

    def per_axis(self, name):
        return reference.pair(self.options.get(name, 0))


def _as_option(square, values):
    """An int when the config is square (both axes share it), else the pair."""
    return values[0] if square else tuple(values)


@st.composite
def conv2d_configs(draw, max_batch=3, max_channels=4, max_kernel=4, max_stride=3, max_padding=2, max_dilation=3, max_extra=4):
    """A valid conv2d: the padded input holds at least one dilated kernel on each axis."""
    square = draw(st.booleans())
    axes = 1 if square else 2
    stride = [draw(st.integers(1, max_stride)) for _ in range(axes)]
    padding = [draw(st.integers(0, max_padding)) for _ in range(axes)]
    dilation = [draw(st.integers(1, max_dilation)) for _ in range(axes)]
    if square:
        stride, padding, dilation = stride * 2, padding * 2, dilation * 2
    kernel = [draw(st.integers(1, max_kernel)) for _ in range(2)]
    size = []
    for a in range(2):
        smallest = max(1, dilation[a] * (kernel[a] - 1) + 1 - 2 * padding[a])
        size.append(draw(st.integers(smallest, smallest + max_extra)))
    n = draw(st.integers(1, max_batch))
    c, o = draw(st.integers(1, max_channels)), draw(st.integers(1, max_channels))
    options = dict(
        stride=_as_option(square, stride), padding=_as_option(square, padding), dilation=_as_option(square, dilation)
    )
    return ConvConfig((n, c, *size), (o, c, *kernel), draw(st.booleans()), options, draw(st.integers(0, 2**32 - 1)))


@st.composite
def conv_transpose2d_configs(draw, max_batch=3, max_channels=4, max_kernel=4, max_stride=3, max_padding=2, max_dilation=3, max_size=4):
    """A valid conv_transpose2d: output_padding < max(stride, dilation), and a positive output size."""
    square = draw(st.booleans())
    axes = 1 if square else 2
    stride = [draw(st.integers(1, max_stride)) for _ in range(axes)]
    dilation = [draw(st.integers(1, max_dilation)) for _ in range(axes)]
    output_padding = [draw(st.integers(0, max(stride[a], dilation[a]) - 1)) for a in range(axes)]
    if square:
        stride, dilation, output_padding = stride * 2, dilation * 2, output_padding * 2
    kernel = [draw(st.integers(1, max_kernel)) for _ in range(2)]
    size = [draw(st.integers(1, max_size)) for _ in range(2)]
    # the output (size-1) s - 2p + d (k-1) + op + 1 must stay >= 1
    room = [((size[a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + output_padding[a]) // 2 for a in range(2)]
    if square:
        padding = [draw(st.integers(0, min(max_padding, *room)))] * 2
    else:
        padding = [draw(st.integers(0, min(max_padding, room[a]))) for a in range(2)]
    n = draw(st.integers(1, max_batch))
    cin, cout = draw(st.integers(1, max_channels)), draw(st.integers(1, max_channels))
    options = dict(
        stride=_as_option(square, stride), padding=_as_option(square, padding),
        output_padding=_as_option(square, output_padding), dilation=_as_option(square, dilation),
    )
    return ConvConfig((n, cin, *size), (cin, cout, *kernel), draw(st.booleans()), options, draw(st.integers(0, 2**32 - 1)))


# The gradient checks: tiny shapes, every knob still drawn.
tiny_conv2d = conv2d_configs(max_batch=2, max_channels=2, max_kernel=3, max_stride=2, max_padding=1, max_dilation=2, max_extra=2)
tiny_conv_transpose2d = conv_transpose2d_configs(max_batch=2, max_channels=2, max_kernel=2, max_stride=2, max_padding=1, max_dilation=2, max_size=3)
FEW = settings(max_examples=max(3, settings().max_examples // 3))


# ---------------------------------------------------------------- forward against the references

@given(conv2d_configs())
def test_conv2d_matches_the_nested_loop_reference(config):
    x, w, b = config.arrays()
    y = F.conv2d(tensor(x), tensor(w), None if b is None else tensor(b), **config.options)
    expected = reference.conv2d(x, w, b, **config.options)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)


@given(conv_transpose2d_configs())
@example(ConvConfig((2, 3, 3, 2), (3, 2, 2, 3), True, dict(stride=(1, 2), padding=(1, 0), output_padding=(2, 1), dilation=3), 1))
def test_conv_transpose2d_matches_the_scatter_reference(config):
    x, w, b = config.arrays()
    y = F.conv_transpose2d(tensor(x), tensor(w), None if b is None else tensor(b), **config.options)
    expected = reference.conv_transpose2d(x, w, b, **config.options)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)


@st.composite
def subpixel_configs(draw):
    """Transposed convolutions the sub-pixel path takes: stride s > 1 dividing the kernel, no dilation."""
    stride = [draw(st.integers(2, 3)) for _ in range(2)]
    kernel = [s * draw(st.integers(1, 3)) for s in stride]
    output_padding = [draw(st.integers(0, s - 1)) for s in stride]
    size = [draw(st.integers(1, 5)) for _ in range(2)]
    room = [((size[a] - 1) * stride[a] + kernel[a] - 1 + output_padding[a]) // 2 for a in range(2)]
    padding = [draw(st.integers(0, room[a])) for a in range(2)]
    n, cout = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    cin = draw(st.integers(1, stride[0] * stride[1] * cout))
    options = dict(stride=tuple(stride), padding=tuple(padding), output_padding=tuple(output_padding))
    return ConvConfig((n, cin, *size), (cin, cout, *kernel), draw(st.booleans()), options, draw(st.integers(0, 2**32 - 1)))


@given(subpixel_configs())
@example(ConvConfig((2, 8, 3, 3), (8, 4, 4, 4), False, dict(stride=(2, 2), padding=(1, 1), output_padding=(0, 0)), 0))  # the DCGAN's
def test_the_sub_pixel_transposed_convolution_equals_the_col2im_path(config):
    """The fast path (one GEMM over the input's windows, one plane per phase) against GEMM + col2im."""
    x, w, _ = config.arrays()
    xt, wt = tensor(x), tensor(w)
    stride, padding = config.options["stride"], config.options["padding"]
    out = tuple(
        conv_module.conv_transpose_output_size(x.shape[2 + a], w.shape[2 + a], stride[a], padding[a], config.options["output_padding"][a])
        for a in range(2)
    )
    assert conv_module.subpixel_applies(w.shape[2:], stride, (1, 1), w.shape[0], w.shape[1])
    fast = conv_module.conv_transpose_subpixel(xt.data, wt.data, stride, padding, out)
    xp = backend.get_namespace(xt.data)
    rows = xp.reshape(conv_module._channels_last(xt.data), (-1, x.shape[1]))
    cols = xp.reshape(rows @ conv_module._flat_weight(wt.data), (x.shape[0], *x.shape[2:], *w.shape[2:], w.shape[1]))
    slow = conv_module.col2im(cols, (x.shape[0], w.shape[1]) + out, w.shape[2:], stride, padding, (1, 1))
    assert fast.shape == slow.shape == (x.shape[0], w.shape[1]) + out
    np.testing.assert_allclose(backend.to_numpy(fast), backend.to_numpy(slow), rtol=1e-10, atol=1e-10)
    expected = reference.conv_transpose2d(x, w, None, **config.options)
    np.testing.assert_allclose(backend.to_numpy(fast), expected, rtol=1e-10, atol=1e-10)


def test_the_dcgan_transposed_convolution_takes_the_sub_pixel_path_and_its_last_layer_col2im(monkeypatch):
    """128 -> 64 channels (k4 s2): sub-pixel; 64 -> 1: col2im, where copying 4 windows of 64 channels costs more."""
    calls = []
    real = conv_module.col2im
    monkeypatch.setattr(conv_module, "col2im", lambda *a: calls.append("col2im") or real(*a))
    x = tensor(np.ones((1, 128, 7, 7)))
    F.conv_transpose2d(x, tensor(np.ones((128, 64, 4, 4))), stride=2, padding=1)
    assert calls == []
    F.conv_transpose2d(tensor(np.ones((1, 64, 14, 14))), tensor(np.ones((64, 1, 4, 4))), stride=2, padding=1)
    assert calls == ["col2im"]


def test_conv2d_in_float32_stays_float32_and_close():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    y = F.conv2d(minigan.tensor(x, dtype="float32"), minigan.tensor(w, dtype="float32"), stride=(2, 1), padding=1)
    assert y.dtype == "float32"
    np.testing.assert_allclose(y.numpy(), reference.conv2d(x, w, stride=(2, 1), padding=1), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- output sizes

sizes = st.integers(1, 12)


@given(sizes, st.integers(1, 5), st.integers(1, 4), st.integers(0, 3), st.integers(1, 4))
def test_conv_output_size_counts_the_windows_that_fit(size, kernel, stride, padding, dilation):
    fits = size + 2 * padding >= dilation * (kernel - 1) + 1
    if fits:
        assert F.conv_output_size(size, kernel, stride, padding, dilation) == reference.conv_output_size(
            size, kernel, stride, padding, dilation
        )
    else:
        assert F.conv_output_size(size, kernel, stride, padding, dilation) < 1


@given(sizes, st.integers(1, 5), st.integers(1, 4), st.integers(0, 3), st.data())
def test_conv_transpose_output_size_is_the_scatter_canvas(size, kernel, stride, padding, data):
    dilation = data.draw(st.integers(1, 4))
    output_padding = data.draw(st.integers(0, max(stride, dilation) - 1))
    assert F.conv_transpose_output_size(size, kernel, stride, padding, output_padding, dilation) == (
        reference.conv_transpose_output_size(size, kernel, stride, padding, output_padding, dilation)
    )


@given(sizes, st.integers(1, 5), st.integers(1, 4), st.integers(0, 3), st.integers(1, 4), st.data())
def test_conv_transpose_output_sizes_are_the_inputs_that_conv_maps_back(size, kernel, stride, padding, dilation, data):
    """With output_padding < stride, the transposed size is one of the sizes that conv2d maps to ``size``."""
    output_padding = data.draw(st.integers(0, stride - 1))
    out = F.conv_transpose_output_size(size, kernel, stride, padding, output_padding, dilation)
    if out >= 1:
        assert F.conv_output_size(out, kernel, stride, padding, dilation) == size


@given(conv2d_configs(max_batch=1, max_channels=1))
def test_conv2d_output_shape_follows_the_formula(config):
    x, w, _ = config.arrays()
    y = F.conv2d(tensor(x), tensor(w), **config.options)
    s, p, d = config.per_axis("stride"), config.per_axis("padding"), config.per_axis("dilation")
    expected = tuple(F.conv_output_size(x.shape[2 + a], w.shape[2 + a], s[a], p[a], d[a]) for a in range(2))
    assert y.shape[2:] == expected == reference.conv2d(x, w, **config.options).shape[2:]


# ---------------------------------------------------------------- the adjoint identity

@given(conv2d_configs())
def test_conv_transpose2d_is_the_adjoint_of_conv2d(config):
    """<conv2d(x, W), y> == <x, conv_transpose2d(y, W)>, with output_padding chosen to give back x's size."""
    x, w, _ = config.arrays()
    s, p, d = config.per_axis("stride"), config.per_axis("padding"), config.per_axis("dilation")
    output_padding = tuple((x.shape[2 + a] + 2 * p[a] - d[a] * (w.shape[2 + a] - 1) - 1) % s[a] for a in range(2))
    conv = F.conv2d(tensor(x), tensor(w), **config.options)
    y = np.random.default_rng(config.seed + 1).standard_normal(conv.shape)
    back = F.conv_transpose2d(tensor(y), tensor(w), output_padding=output_padding, **config.options)
    assert back.shape == x.shape
    left, right = float(np.sum(conv.numpy() * y)), float(np.sum(x * back.numpy()))
    assert left == pytest.approx(right, rel=1e-10, abs=1e-10)


# ---------------------------------------------------------------- gradients

def _with_bias(fn, config):
    x, w, b = config.arrays()
    inputs = (tensor(x, True), tensor(w, True)) + ((tensor(b, True),) if b is not None else ())
    return (lambda x, w, b=None: fn(x, w, b, **config.options)), inputs


@FEW
@given(tiny_conv2d)
def test_conv2d_gradcheck_and_gradgradcheck(config):
    fn, inputs = _with_bias(F.conv2d, config)
    assert minigan.gradcheck(fn, inputs)
    assert minigan.gradgradcheck(fn, inputs)


# output_padding >= stride is allowed when dilation > stride: the output then has pixels
# that no window of a conv2d over it maps back to an input pixel.
OUTPUT_PADDING_BEYOND_STRIDE = ConvConfig(
    (1, 1, 2, 2), (1, 1, 2, 2), False, dict(stride=1, padding=0, output_padding=(0, 1), dilation=(1, 2)), 0
)


SUB_PIXEL = ConvConfig((1, 2, 2, 3), (2, 1, 4, 2), True, dict(stride=2, padding=(1, 0), output_padding=0), 0)  # the fast path


@FEW
@given(tiny_conv_transpose2d)
@example(OUTPUT_PADDING_BEYOND_STRIDE)
@example(SUB_PIXEL)
def test_conv_transpose2d_gradcheck_and_gradgradcheck(config):
    fn, inputs = _with_bias(F.conv_transpose2d, config)
    assert minigan.gradcheck(fn, inputs)
    assert minigan.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("which", ["conv2d", "conv_transpose2d"])
def test_gradcheck_catches_a_wrong_weight_gradient(which, monkeypatch):
    """The checks above can fail: scale the weight gradient by 1.01 and gradcheck must object."""
    rng = np.random.default_rng(0)
    x, w = tensor(rng.standard_normal((1, 2, 3, 3)), True), tensor(rng.standard_normal((2, 2, 2, 2)), True)
    real_forward = conv_module.Conv2dGradWeight.forward
    monkeypatch.setattr(conv_module.Conv2dGradWeight, "forward", lambda self, a, b: 1.01 * real_forward(self, a, b))
    with pytest.raises(minigan.GradcheckError, match="input 1"):
        minigan.gradcheck(getattr(F, which), (x, w))


class _CallCounter:
    """Counts the forward calls of a Function class (a gradient that is computed runs a forward)."""

    def __init__(self, monkeypatch, cls):
        self.calls = 0
        real = cls.forward

        def counting(this, *arrays):
            self.calls += 1
            return real(this, *arrays)

        monkeypatch.setattr(cls, "forward", counting)


@pytest.mark.parametrize("which", ["conv2d", "conv_transpose2d"])
def test_gradients_of_inputs_that_do_not_require_grad_are_not_computed(which, monkeypatch):
    rng = np.random.default_rng(1)
    x_shape, w_shape = (2, 3, 5, 4), ((4, 3, 3, 2) if which == "conv2d" else (3, 4, 3, 2))
    x_data, w_data = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    # the op that computes the input gradient of each, and the op for the weight gradient
    input_grad_op = conv_module.ConvTranspose2d if which == "conv2d" else conv_module.Conv2d
    input_grads = _CallCounter(monkeypatch, input_grad_op)
    weight_grads = _CallCounter(monkeypatch, conv_module.Conv2dGradWeight)
    op = getattr(F, which)

    x, w = tensor(x_data), tensor(w_data, True)
    y = op(x, w, stride=2, padding=1)
    input_grads.calls = weight_grads.calls = 0
    y.sum().backward()
    assert (input_grads.calls, weight_grads.calls) == (0, 1)
    assert x.grad is None and w.grad is not None

    x, w = tensor(x_data, True), tensor(w_data)
    y = op(x, w, stride=2, padding=1)
    input_grads.calls = weight_grads.calls = 0
    y.sum().backward()
    assert (input_grads.calls, weight_grads.calls) == (1, 0)
    assert w.grad is None and x.grad is not None


def _critic(first_layer, activation):
    """A two-layer critic: conv (or transposed conv) -> activation -> conv -> sum over everything."""
    act = (lambda h: F.leaky_relu(h, 0.2)) if activation == "leaky_relu" else F.tanh
    if first_layer == "conv2d":
        return lambda x, w1, b1, w2: F.conv2d(act(F.conv2d(x, w1, b1, stride=2, padding=1)), w2, dilation=(2, 1)).sum()
    return lambda x, w1, b1, w2: F.conv2d(
        act(F.conv_transpose2d(x, w1, b1, stride=2, padding=1, output_padding=1)), w2, stride=(1, 2)
    ).sum()


@pytest.mark.parametrize("activation", ["leaky_relu", "tanh"])
@pytest.mark.parametrize("first_layer", ["conv2d", "conv_transpose2d"])
def test_gradient_penalty_second_derivatives_through_a_conv_critic(first_layer, activation):
    """WGAN-GP differentiates ||d critic(x) / dx||^2 with respect to the critic's weights."""
    rng = np.random.default_rng(2)
    x = tensor(rng.standard_normal((2, 1, 6, 5)), True)
    w1_shape = (2, 1, 3, 3) if first_layer == "conv2d" else (1, 2, 3, 3)
    w1, b1 = tensor(rng.standard_normal(w1_shape), True), tensor(rng.standard_normal(2), True)
    w2 = tensor(rng.standard_normal((1, 2, 2, 2)), True)
    critic = _critic(first_layer, activation)

    def penalty(w1, b1, w2):
        with minigan.enable_grad():  # gradcheck's finite differences run under no_grad
            (gx,) = minigan.grad(critic(x, w1, b1, w2), [x], create_graph=True)
            return (gx * gx).sum()

    assert minigan.gradcheck(penalty, (w1, b1, w2))
    # The penalty really depends on the weights (a constant would pass trivially); through
    # leaky_relu the bias only moves the kinks, so its derivative is zero there.
    gradients = minigan.grad(penalty(w1, b1, w2), [w1, b1, w2], allow_unused=True)
    checked = gradients if activation == "tanh" else gradients[::2]
    assert all(np.abs(g.numpy()).max() > 1e-3 for g in checked)


# ---------------------------------------------------------------- bad arguments

def _zeros(*shape):
    return minigan.zeros(*shape, dtype="float64")


BAD_ARGUMENTS = {
    "conv2d channel mismatch": (lambda: F.conv2d(_zeros(2, 3, 5, 5), _zeros(4, 2, 3, 3)), ["conv2d", "(2, 3, 5, 5)", "(4, 2, 3, 3)"]),
    "conv_transpose2d channel mismatch": (
        lambda: F.conv_transpose2d(_zeros(1, 2, 3, 3), _zeros(3, 2, 3, 3)), ["conv_transpose2d", "(1, 2, 3, 3)", "(3, 2, 3, 3)"],
    ),
    "conv2d 3-D input": (lambda: F.conv2d(_zeros(3, 5, 5), _zeros(4, 3, 3, 3)), ["conv2d", "(3, 5, 5)"]),
    "conv2d 3-D weight": (lambda: F.conv2d(_zeros(1, 3, 5, 5), _zeros(4, 3, 3)), ["conv2d", "(4, 3, 3)"]),
    "conv_transpose2d 2-D input": (lambda: F.conv_transpose2d(_zeros(3, 5), _zeros(3, 2, 3, 3)), ["conv_transpose2d", "(3, 5)"]),
    "conv2d kernel larger than the input": (lambda: F.conv2d(_zeros(1, 1, 3, 3), _zeros(1, 1, 5, 2)), ["conv2d", "(3, 3)", "(5, 2)"]),
    "conv2d dilated kernel larger than the padded input": (
        lambda: F.conv2d(_zeros(1, 1, 3, 4), _zeros(1, 1, 2, 2), padding=(0, 1), dilation=(3, 1)), ["conv2d", "(3, 4)", "(4, 2)"],
    ),
    "conv_transpose2d output_padding >= stride and dilation": (
        lambda: F.conv_transpose2d(_zeros(1, 2, 3, 3), _zeros(2, 1, 3, 3), stride=2, output_padding=(1, 2)),
        ["conv_transpose2d", "output_padding (1, 2)", "stride (2, 2)"],
    ),
    "conv_transpose2d negative output_padding": (
        lambda: F.conv_transpose2d(_zeros(1, 2, 3, 3), _zeros(2, 1, 3, 3), output_padding=-1), ["conv_transpose2d", "output_padding"],
    ),
    "conv_transpose2d padding swallows the output": (
        lambda: F.conv_transpose2d(_zeros(1, 1, 1, 1), _zeros(1, 1, 1, 1), padding=1), ["conv_transpose2d", "padding"],
    ),
    "conv2d negative padding": (lambda: F.conv2d(_zeros(1, 1, 5, 5), _zeros(1, 1, 3, 3), padding=(1, -1)), ["conv2d", "padding=(1, -1)"]),
    "conv_transpose2d negative padding": (
        lambda: F.conv_transpose2d(_zeros(1, 1, 5, 5), _zeros(1, 1, 3, 3), padding=-1), ["conv_transpose2d", "padding=(-1, -1)"],
    ),
    "conv2d zero stride": (lambda: F.conv2d(_zeros(1, 1, 5, 5), _zeros(1, 1, 3, 3), stride=0), ["conv2d", "stride=(0, 0)"]),
    "conv2d zero dilation": (lambda: F.conv2d(_zeros(1, 1, 5, 5), _zeros(1, 1, 3, 3), dilation=(1, 0)), ["conv2d", "dilation=(1, 0)"]),
    "conv2d stride of three": (lambda: F.conv2d(_zeros(1, 1, 5, 5), _zeros(1, 1, 3, 3), stride=(1, 1, 1)), ["conv2d", "stride", "(1, 1, 1)"]),
    "conv2d float stride": (lambda: F.conv2d(_zeros(1, 1, 5, 5), _zeros(1, 1, 3, 3), stride=1.5), ["conv2d", "stride", "1.5"]),
    "conv2d bias of the wrong shape": (
        lambda: F.conv2d(_zeros(1, 3, 5, 5), _zeros(4, 3, 3, 3), _zeros(3)), ["conv2d", "bias", "(4,)", "(3,)"],
    ),
    "conv2d bias with an extra axis": (
        lambda: F.conv2d(_zeros(1, 3, 5, 5), _zeros(4, 3, 3, 3), _zeros(4, 1)), ["conv2d", "bias", "(4,)", "(4, 1)"],
    ),
    "conv_transpose2d bias of the wrong shape": (
        lambda: F.conv_transpose2d(_zeros(1, 3, 5, 5), _zeros(3, 2, 3, 3), _zeros(3)), ["conv_transpose2d", "bias", "(2,)", "(3,)"],
    ),
}


@pytest.mark.parametrize("call, fragments", BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_bad_arguments_raise_value_error_naming_op_and_shapes(call, fragments):
    with pytest.raises(ValueError) as error:
        call()
    message = str(error.value)
    missing = [f for f in fragments if f not in message]
    assert not missing, f"the message {message!r} does not mention {missing}"


# ---------------------------------------------------------------- backend.sliding_windows

@st.composite
def window_configs(draw):
    """A channels-last (N, H, W, C) shape that holds at least one dilated window, and the window."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    size = tuple(draw(st.integers(dilation[a] * (kernel[a] - 1) + 1, dilation[a] * (kernel[a] - 1) + 6)) for a in range(2))
    shape = (draw(st.integers(1, 3)),) + size + (draw(st.integers(1, 3)),)
    return shape, kernel, stride, dilation, draw(st.integers(0, 2**32 - 1))


@given(window_configs(), st.booleans())
def test_sliding_windows_strided_view_equals_the_portable_slices(config, from_nchw):
    """NumPy's as_strided view, the portable slice-stacking path, and the definition agree.

    Element [n, p, q, i, j, c] of the windows is x[n, p sh + i dh, q sw + j dw, c].
    """
    shape, kernel, stride, dilation, seed = config
    x = np.random.default_rng(seed).standard_normal(shape)
    if from_nchw:  # the channels-last view of an NCHW array, not contiguous, as conv2d passes it
        x = np.ascontiguousarray(np.moveaxis(x, 3, 1)).transpose(0, 2, 3, 1)
    fast = backend.sliding_windows(x, kernel, stride, dilation)
    portable = backend.sliding_windows(backend.to_device(x, "strict"), kernel, stride, dilation)
    assert backend.device_of(portable) == "strict"
    assert np.shares_memory(fast, x), "the NumPy path should be a view, not a copy"
    np.testing.assert_array_equal(np.asarray(portable), fast)
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = (reference.conv_output_size(shape[1 + a], kernel[a], stride[a], 0, dilation[a]) for a in range(2))
    assert fast.shape == (shape[0], oh, ow, kh, kw, shape[3])
    for p, q, i, j in np.ndindex(oh, ow, kh, kw):
        np.testing.assert_array_equal(fast[:, p, q, i, j, :], x[:, p * sh + i * dh, q * sw + j * dw, :])


def test_the_graph_of_a_conv_does_not_hold_its_im2col_columns(device):
    """The columns are kh*kw times the input; the weight gradient recomputes them instead."""
    import tracemalloc

    if device != "cpu":
        pytest.skip("tracemalloc sees NumPy's allocations")
    x = minigan.randn(4, 8, 20, 20, requires_grad=True)  # 51 KB; its 4x4 columns: 592 KB
    w = minigan.randn(4, 8, 4, 4, requires_grad=True)
    F.conv2d(x, w).sum().backward()  # warm-up: first-call caches are not the graph
    x.grad = w.grad = None
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        y = F.conv2d(x, w)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 200_000, f"the conv's graph holds {held} bytes after forward"
    y.sum().backward()
    reference_w = w.grad.numpy().copy()
    w.grad = None
    (F.conv2d(x.detach(), w) * 1.0).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), reference_w, rtol=1e-5)


def test_a_conv_keeps_its_columns_for_the_weight_gradient_where_memory_is_plentiful(device, monkeypatch):
    """On a GPU the weight gradient reuses the forward's columns (one im2col per conv); on the
    CPU it redoes them (two); the gradients are the same either way."""
    conv_module = importlib.import_module("minigan.nn.functional.conv")
    real_im2col = conv_module.im2col
    calls = []
    monkeypatch.setattr(conv_module, "im2col", lambda *args, **kwargs: calls.append(1) or real_im2col(*args, **kwargs))
    x = minigan.randn(2, 3, 6, 6, requires_grad=True)
    w = minigan.randn(4, 3, 3, 3, requires_grad=True)
    grads = {}
    for recompute in (True, False):
        monkeypatch.setattr(conv_module, "recomputes_to_save_memory", lambda array, recompute=recompute: recompute)
        calls.clear()
        x.grad = w.grad = None
        F.conv2d(x, w, stride=2, padding=1).sum().backward()
        assert len(calls) == (2 if recompute else 1), f"recompute={recompute}: {len(calls)} im2col copies"
        grads[recompute] = [x.grad.numpy(), w.grad.numpy()]
    for a, b in zip(grads[True], grads[False]):
        np.testing.assert_array_equal(a, b)


def test_a_transposed_convs_backward_copies_the_windows_of_gy_once(device, monkeypatch):
    """Both gradients of a transposed conv correlate gy's windows: one im2col serves both."""
    conv_module = importlib.import_module("minigan.nn.functional.conv")
    calls = []
    real_im2col = conv_module.im2col
    monkeypatch.setattr(conv_module, "im2col", lambda *args, **kwargs: calls.append(1) or real_im2col(*args, **kwargs))
    x = minigan.randn(2, 3, 5, 5, requires_grad=True)
    w = minigan.randn(3, 4, 4, 4, requires_grad=True)
    y = F.conv_transpose2d(x, w, stride=2, padding=1)
    calls.clear()
    y.backward(minigan.ones_like(y))
    assert len(calls) == 1, f"backward made {len(calls)} im2col copies of gy"
    reference = [t.grad.numpy().copy() for t in (x, w)]
    x.grad = w.grad = None
    F.conv_transpose2d(x.detach(), w, stride=2, padding=1).sum().backward()  # the weight's gradient alone
    F.conv_transpose2d(x, w.detach(), stride=2, padding=1).sum().backward()  # the input's alone
    for got, want in zip((x.grad.numpy(), w.grad.numpy()), reference):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
