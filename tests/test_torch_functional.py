"""minigan.nn.functional against torch.nn.functional, in float64 (skipped without torch).

minigan never imports torch; these tests use it as the reference that users will
move on to. For each op the forward, the gradients for a random upstream gradient,
and (for conv2d, conv_transpose2d, batch_norm and BCE) the second-order gradients
of a random projection of those gradients (create_graph=True) must agree.
"""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

torch = pytest.importorskip("torch")
TF = torch.nn.functional

import minigan  # noqa: E402
import minigan.nn.functional as F  # noqa: E402
from test_functional_conv import (  # noqa: E402
    OUTPUT_PADDING_BEYOND_STRIDE, conv2d_configs, conv_transpose2d_configs,
)

SMALL = dict(max_batch=2, max_channels=3, max_kernel=3, max_stride=3, max_padding=2, max_dilation=3)
FEW = settings(max_examples=max(3, settings().max_examples // 2))


def ours(array, requires_grad=False):
    return minigan.tensor(np.asarray(array, dtype=np.float64), dtype="float64", requires_grad=requires_grad)


def theirs(array, requires_grad=False):
    return torch.tensor(np.asarray(array, dtype=np.float64), dtype=torch.float64, requires_grad=requires_grad)


def _close(mine, reference, what, rtol=1e-9, atol=1e-10):
    mine = np.zeros(reference.shape) if mine is None else mine.numpy()
    reference = reference.detach().numpy()
    assert mine.shape == reference.shape, f"{what}: shape {mine.shape}, torch {reference.shape}"
    np.testing.assert_allclose(mine, reference, rtol=rtol, atol=atol, err_msg=what)


def _zeros_for_none(grads, like):
    return [torch.zeros_like(t) if g is None else g for g, t in zip(grads, like)]


def agrees_with_torch(our_fn, torch_fn, arrays, second_order=False, seed=0):
    """Forward, J^T r, and (optionally) the gradient of sum_i <g_i, q_i> agree with torch's.

    ``arrays`` are NumPy inputs, all differentiated; r and q are random.
    """
    rng = np.random.default_rng(seed)
    xs, ts = [ours(a, True) for a in arrays], [theirs(a, True) for a in arrays]
    y, yt = our_fn(*xs), torch_fn(*ts)
    _close(y, yt, "forward")
    r = rng.standard_normal(tuple(yt.shape))
    grads = minigan.grad(y, xs, ours(r), create_graph=second_order, allow_unused=True)
    grads_t = _zeros_for_none(torch.autograd.grad(yt, ts, theirs(r), create_graph=second_order, allow_unused=True), ts)
    for i, (g, gt) in enumerate(zip(grads, grads_t)):
        _close(g, gt, f"gradient of input {i}")
    if not second_order:
        return
    qs = [rng.standard_normal(a.shape) for a in arrays]
    projected = [(g * ours(q)).sum() for g, q in zip(grads, qs) if g is not None and g.requires_grad]
    projected_t = sum((gt * theirs(q)).sum() for gt, q in zip(grads_t, qs) if gt.requires_grad)
    assert projected, "no gradient depends on the inputs: nothing second-order to compare"
    total = projected[0]
    for p in projected[1:]:
        total = total + p
    second = minigan.grad(total, xs, allow_unused=True)
    second_t = _zeros_for_none(torch.autograd.grad(projected_t, ts, allow_unused=True), ts)
    for i, (g, gt) in enumerate(zip(second, second_t)):
        _close(g, gt, f"second-order gradient of input {i}")


# ---------------------------------------------------------------- convolution

def _conv_arrays(config):
    x, w, b = config.arrays()
    return [x, w] + ([b] if b is not None else [])


@FEW
@given(conv2d_configs(**SMALL, max_extra=3))
def test_conv2d(config):
    agrees_with_torch(
        lambda x, w, b=None: F.conv2d(x, w, b, **config.options),
        lambda x, w, b=None: TF.conv2d(x, w, b, **config.options),
        _conv_arrays(config), second_order=True, seed=config.seed,
    )


@FEW
@given(conv_transpose2d_configs(**SMALL, max_size=3))
@example(OUTPUT_PADDING_BEYOND_STRIDE)
def test_conv_transpose2d(config):
    agrees_with_torch(
        lambda x, w, b=None: F.conv_transpose2d(x, w, b, **config.options),
        lambda x, w, b=None: TF.conv_transpose2d(x, w, b, **config.options),  # by keyword: torch puts groups before dilation
        _conv_arrays(config), second_order=True, seed=config.seed,
    )


@given(st.integers(1, 12), st.integers(1, 5), st.integers(1, 4), st.integers(0, 3), st.integers(1, 3), st.data())
def test_output_sizes_match_torchs_shapes(size, kernel, stride, padding, dilation, data):
    x = torch.zeros(1, 1, size, 1, dtype=torch.float64)
    w = torch.zeros(1, 1, kernel, 1, dtype=torch.float64)
    if size + 2 * padding >= dilation * (kernel - 1) + 1:
        shape = TF.conv2d(x, w, stride=stride, padding=(padding, 0), dilation=dilation).shape
        assert F.conv_output_size(size, kernel, stride, padding, dilation) == shape[2]
    output_padding = data.draw(st.integers(0, max(stride, dilation) - 1))
    expected = F.conv_transpose_output_size(size, kernel, stride, padding, output_padding, dilation)
    if expected >= 1:
        shape = TF.conv_transpose2d(x, w, stride=stride, padding=(padding, 0), output_padding=(output_padding, 0), dilation=dilation).shape
        assert expected == shape[2]


# ---------------------------------------------------------------- batch normalization

@st.composite
def batch_norm_cases(draw):
    ndim = draw(st.sampled_from([2, 3, 4]))
    n = draw(st.integers(2, 4))
    c = draw(st.integers(1, 3))
    shape = (n, c) + tuple(draw(st.integers(1, 3)) for _ in range(ndim - 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3.0) + rng.uniform(-2.0, 2.0)
    stats = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    return x, stats, rng.uniform(0.5, 2.0, c), rng.standard_normal(c), draw(st.booleans()), draw(st.sampled_from([0.1, 0.5]))


@FEW
@given(batch_norm_cases())
def test_batch_norm(case):
    x, (running_mean, running_var), weight, bias, training, momentum = case
    our_stats, their_stats = (ours(running_mean), ours(running_var)), (theirs(running_mean), theirs(running_var))
    agrees_with_torch(
        lambda x, w, b: F.batch_norm(x, *our_stats, w, b, training=training, momentum=momentum),
        lambda x, w, b: TF.batch_norm(x, *their_stats, w, b, training=training, momentum=momentum),
        [x, weight, bias], second_order=True,
    )
    # one forward each (agrees_with_torch ran one): the running statistics moved alike
    for mine, reference in zip(our_stats, their_stats):
        _close(mine, reference, "running statistics", rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- activations

# below 20: torch's softplus returns x itself beyond its threshold of 20 (second derivative 0)
moderate = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=st.floats(-15, 15))


def _away_from_zero(x):
    return np.where(np.abs(x) < 0.05, np.where(x >= 0, 0.05, -0.05), x)


ACTIVATIONS = {
    "relu": (F.relu, TF.relu),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "leaky_relu default slope": (F.leaky_relu, TF.leaky_relu),
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh),
    "softplus": (F.softplus, TF.softplus),
    "log_sigmoid": (F.log_sigmoid, TF.logsigmoid),
}
SMOOTH = ["sigmoid", "tanh", "softplus", "log_sigmoid"]


@pytest.mark.parametrize("name", ACTIVATIONS)
@given(x=moderate)
def test_activations(name, x):
    mine, reference = ACTIVATIONS[name]
    agrees_with_torch(mine, reference, [_away_from_zero(x)], second_order=name in SMOOTH)


# ---------------------------------------------------------------- losses

@FEW
@given(
    hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.sampled_from(["mean", "sum", "none"]),
    st.booleans(), st.booleans(), st.integers(0, 2**32 - 1),
)
def test_binary_cross_entropy_with_logits(shape, reduction, with_weight, with_pos_weight, seed):
    rng = np.random.default_rng(seed)
    z, y = rng.uniform(-8, 8, shape), rng.uniform(0, 1, shape)
    weight, pos_weight = rng.uniform(0.1, 3.0, shape), rng.uniform(0.1, 5.0, shape[-1:])

    def options(make):
        return dict(
            reduction=reduction, weight=make(weight) if with_weight else None,
            pos_weight=make(pos_weight) if with_pos_weight else None,
        )

    agrees_with_torch(
        lambda z: F.binary_cross_entropy_with_logits(z, ours(y), **options(ours)),
        lambda z: TF.binary_cross_entropy_with_logits(z, theirs(y), **options(theirs)),
        [z], second_order=True, seed=seed,
    )


@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.integers(0, 2**32 - 1), st.data())
def test_log_softmax_and_softmax(shape, seed, data):
    x = np.random.default_rng(seed).uniform(-10, 10, shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    agrees_with_torch(lambda x: F.log_softmax(x, dim), lambda x: TF.log_softmax(x, dim), [x], second_order=True)
    agrees_with_torch(lambda x: F.softmax(x, dim), lambda x: TF.softmax(x, dim), [x])


@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**32 - 1), st.sampled_from(["mean", "sum", "none"]))
def test_cross_entropy_and_nll_loss(n, classes, seed, reduction):
    rng = np.random.default_rng(seed)
    x, target = rng.uniform(-10, 10, (n, classes)), rng.integers(0, classes, n)
    agrees_with_torch(
        lambda x: F.cross_entropy(x, target.tolist(), reduction=reduction),
        lambda x: TF.cross_entropy(x, torch.tensor(target), reduction=reduction), [x],
    )
    agrees_with_torch(
        lambda x: F.nll_loss(x, minigan.tensor(target), reduction=reduction),
        lambda x: TF.nll_loss(x, torch.tensor(target), reduction=reduction), [x],
    )


@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.integers(0, 2**32 - 1), st.sampled_from(["mean", "sum", "none"]))
def test_mse_loss(shape, seed, reduction):
    rng = np.random.default_rng(seed)
    agrees_with_torch(
        lambda x, y: F.mse_loss(x, y, reduction=reduction), lambda x, y: TF.mse_loss(x, y, reduction=reduction),
        [rng.standard_normal(shape), rng.standard_normal(shape)],
    )


# ---------------------------------------------------------------- linear and dropout

@given(st.lists(st.integers(1, 3), max_size=2), st.integers(1, 4), st.integers(1, 4), st.booleans(), st.integers(0, 2**32 - 1))
def test_linear(batch, in_features, out_features, with_bias, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((*batch, in_features)), rng.standard_normal((out_features, in_features))]
    arrays += [rng.standard_normal(out_features)] if with_bias else []
    agrees_with_torch(F.linear, TF.linear, arrays)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.8])
def test_dropout_keeps_torchs_scaling_and_eval_identity(p):
    x = np.random.default_rng(8).uniform(1, 2, (40, 50))
    agrees_with_torch(lambda x: F.dropout(x, p, training=False), lambda x: TF.dropout(x, p, training=False), [x])
    # the masks come from different generators; the kept values are scaled alike
    mine = F.dropout(ours(x), p, training=True).numpy()
    reference = TF.dropout(theirs(x), p, training=True).numpy()
    np.testing.assert_allclose(mine[mine != 0], x[mine != 0] / (1 - p), rtol=1e-12)
    np.testing.assert_allclose(reference[reference != 0], x[reference != 0] / (1 - p), rtol=1e-12)
