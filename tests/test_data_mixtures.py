"""The 2-D mixtures: mode centres where the papers put them, per-mode spread, seeds."""

import math

import numpy as np
import pytest

import minigan
from minigan.data import grid, grid_modes, mixture, mixture_modes, ring, ring_modes


def _assign(points, centres):
    """Index of the nearest centre for each point, and the distance to it."""
    distances = np.linalg.norm(points[:, None, :] - centres[None, :, :], axis=2)
    return distances.argmin(axis=1), distances.min(axis=1)


def test_ring_modes_are_eight_points_on_a_circle_of_radius_two():
    centres, std = ring_modes()
    assert centres.shape == (8, 2) and centres.dtype == np.float32 and std == 0.02
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0, rtol=1e-6)
    np.testing.assert_allclose(centres[0], [2.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(centres[1], [math.sqrt(2), math.sqrt(2)], atol=1e-6)
    angles = np.sort(np.mod(np.arctan2(centres[:, 1], centres[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(np.diff(angles), 2 * np.pi / 8, atol=1e-6)


def test_grid_modes_are_a_five_by_five_grid_from_minus_four_to_four():
    centres, std = grid_modes()
    assert centres.shape == (25, 2) and centres.dtype == np.float32 and std == 0.05
    expected = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {tuple(c) for c in centres.tolist()} == expected


@pytest.mark.parametrize("sampler, modes", [(ring, ring_modes), (grid, grid_modes)], ids=["ring", "grid"])
def test_samples_cluster_at_every_mode_with_the_stated_std(sampler, modes):
    centres, std = modes()
    points = sampler(20000, seed=0)
    assert points.shape == (20000, 2) and points.dtype == np.float32
    nearest, distance = _assign(points, centres)
    assert distance.max() < 6 * std  # every point belongs to a mode; none lies between them
    counts = np.bincount(nearest, minlength=len(centres))
    expected = len(points) / len(centres)
    assert counts.min() > 0.8 * expected and counts.max() < 1.2 * expected  # modes are equally likely
    for k in range(len(centres)):
        offsets = points[nearest == k] - centres[k]
        np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=5 * std / math.sqrt(counts[k]))  # 5 standard errors
        np.testing.assert_allclose(offsets.std(axis=0), std, rtol=0.15)


def test_options_change_the_mixture():
    centres, std = ring_modes(radius=1.0, modes=4, std=0.1)
    np.testing.assert_allclose(centres, [[1, 0], [0, 1], [-1, 0], [0, -1]], atol=1e-6)
    points = ring(4000, seed=1, radius=1.0, modes=4, std=0.1)
    _, distance = _assign(points, centres)
    assert distance.max() < 0.6 and np.sqrt((distance ** 2).mean() / 2) == pytest.approx(0.1, rel=0.1)
    centres, _ = grid_modes(modes_per_side=3, spacing=1.0)
    assert sorted(set(centres[:, 0].tolist())) == [-1.0, 0.0, 1.0]


def test_a_seed_fixes_the_samples():
    np.testing.assert_array_equal(ring(100, seed=3), ring(100, seed=3))
    np.testing.assert_array_equal(grid(100, seed=3), grid(100, seed=3))
    assert not np.array_equal(ring(100, seed=3), ring(100, seed=4))


def test_without_a_seed_manual_seed_fixes_the_samples():
    minigan.manual_seed(11)
    first = grid(50)
    minigan.manual_seed(11)
    np.testing.assert_array_equal(grid(50), first)
    minigan.manual_seed(12)
    assert not np.array_equal(grid(50), first)


def test_mixture_gives_a_tensor_on_the_device(device):
    t = mixture("ring", 16, seed=2, device=device)
    assert isinstance(t, minigan.Tensor) and t.device == device and t.shape == (16, 2) and t.dtype == "float32"
    np.testing.assert_array_equal(t.numpy(), ring(16, seed=2))
    centres, std = mixture_modes("grid")
    np.testing.assert_array_equal(centres, grid_modes()[0])
    with pytest.raises(ValueError, match="unknown mixture 'spiral'.*'ring'"):
        mixture("spiral", 4)
