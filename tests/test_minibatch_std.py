"""MinibatchStdDev: the appended feature against a direct NumPy computation, collapse detection, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
from minigan import nn


def reference(x, group_size):
    """The feature computed group by group: sample n is in group n mod (N / G), as in the authors' code."""
    n = x.shape[0]
    groups = n // min(group_size, n)
    feature = np.zeros((n, 1, *x.shape[2:]))
    for m in range(groups):
        members = np.arange(m, n, groups)
        std = np.sqrt(x[members].var(axis=0) + 1e-8)  # biased variance over the group
        feature[members] = std.mean()
    return np.concatenate([x, feature], axis=1)


@pytest.mark.parametrize("shape, group_size", [
    ((8, 3, 4, 4), 4), ((6, 5), 3), ((4, 2), 4), ((3, 2, 2, 2), 4), ((4, 3, 5), 2), ((5, 2), 1),
])
def test_the_feature_matches_a_group_by_group_computation(shape, group_size):
    x = minigan.randn(*shape, dtype="float64")
    out = nn.MinibatchStdDev(group_size)(x)
    assert out.shape == (shape[0], shape[1] + 1, *shape[2:]) and out.dtype == "float64"
    np.testing.assert_allclose(out.numpy(), reference(x.numpy(), group_size), rtol=1e-12, atol=1e-14)


def test_identical_samples_give_a_feature_of_sqrt_1e_minus_8():
    """What D sees from a collapsed generator: no spread at all, against about 1 for varied samples."""
    layer = nn.MinibatchStdDev()
    same = minigan.randn(1, 3, 4, 4).broadcast_to((8, 3, 4, 4))
    collapsed = layer(same).numpy()[:, -1]
    np.testing.assert_allclose(collapsed, 1e-4, rtol=1e-3)
    varied = layer(minigan.randn(8, 3, 4, 4)).numpy()[:, -1]
    assert varied.min() > 0.5


def test_the_input_passes_through_and_the_feature_is_constant_per_sample():
    x = minigan.randn(4, 2, 3, 3)
    out = nn.MinibatchStdDev(2)(x).numpy()
    np.testing.assert_array_equal(out[:, :2], x.numpy())
    assert np.all(out[:, 2] == out[:, 2, :1, :1])
    assert out.dtype == np.float32


def test_groups_interleave_through_the_batch():
    """Group m holds samples m, m + N/G, ...: with G = 2 and N = 4, samples 0 and 2 share a value."""
    x = minigan.tensor([[0.0], [5.0], [2.0], [5.0]])
    feature = nn.MinibatchStdDev(2)(x).numpy()[:, 1]
    np.testing.assert_allclose(feature, [1.0, 1e-4, 1.0, 1e-4], rtol=1e-6)


def test_gradients_reach_every_sample_of_the_group():
    x = minigan.randn(4, 3, requires_grad=True)
    nn.MinibatchStdDev(2)(x)[:, -1].sum().backward()
    assert x.grad.shape == (4, 3) and np.all(np.abs(x.grad.numpy()) > 0)


@pytest.mark.parametrize("make, shape, message", [
    (lambda: nn.MinibatchStdDev(4), (6, 3), "the batch size 6 is not divisible by the group size 4"),
    (lambda: nn.MinibatchStdDev(4), (10, 2, 2, 2), "the batch size 10 is not divisible .* a multiple of 4, or a group_size that divides 10"),
    (lambda: nn.MinibatchStdDev(2), (4,), r"expected a batch \(N, C, H, W\) or \(N, F\), got shape \(4,\)"),
])
def test_wrong_batches_are_explained(make, shape, message):
    with pytest.raises(ValueError, match=r"MinibatchStdDev\(group_size=\d\): " + message):
        make()(minigan.zeros(*shape))


@pytest.mark.parametrize("group_size", [0, -1, 2.0, True, None])
def test_group_size_must_be_a_positive_int(group_size):
    with pytest.raises(ValueError, match="group_size must be a positive int"):
        nn.MinibatchStdDev(group_size)


def test_repr_and_no_parameters():
    layer = nn.MinibatchStdDev(4)
    assert repr(layer) == "MinibatchStdDev(group_size=4)"
    assert list(layer.parameters()) == [] and list(layer.state_dict()) == []


@settings(max_examples=20)
@given(
    group_size=st.integers(1, 4), groups=st.integers(1, 3), small=st.booleans(),
    features=st.lists(st.integers(1, 3), min_size=1, max_size=3), seed=st.integers(0, 2 ** 16),
)
def test_any_batch_of_whole_groups(group_size, groups, small, features, seed):
    # A batch of whole groups, or one smaller than group_size (then a single group of N).
    n = max(1, group_size - groups) if small else group_size * groups
    x = np.random.default_rng(seed).standard_normal((n, *features))
    out = nn.MinibatchStdDev(group_size)(minigan.tensor(x, dtype="float64"))
    np.testing.assert_allclose(out.numpy(), reference(x, group_size), rtol=1e-12, atol=1e-14)
