"""Mode coverage on the 2-D mixtures: modes covered, share of high-quality samples, reverse KL.

Samples drawn from the mixture itself cover every mode, are nearly all within 3
std of a mode, and have a reverse KL near 0; samples from one mode cover 1 and
have KL = log K; small cases are worked out by hand.
"""

import numpy as np
import pytest

from minigan.data import grid_modes, ring_modes, sample_mixture
from minigan.metrics import mixture_metrics


@pytest.mark.parametrize("modes_fn", [ring_modes, grid_modes], ids=["ring", "grid"])
def test_samples_from_the_mixture_score_perfectly(modes_fn):
    modes, std = modes_fn()
    samples = sample_mixture(modes, std, 20_000, seed=0)
    m = mixture_metrics(samples, modes, std)
    assert m["modes_covered"] == m["modes_total"] == len(modes)
    # P(|z| <= 3) for a 2-D standard normal is 1 - exp(-9/2) = 0.9889.
    assert m["high_quality"] == pytest.approx(1 - np.exp(-4.5), abs=0.005)
    assert 0.0 <= m["reverse_kl"] < 0.01
    assert m["samples"] == 20_000


def test_samples_from_one_mode_cover_one_with_kl_log_k():
    modes, std = ring_modes()
    samples = modes[3] + std * np.random.default_rng(0).standard_normal((500, 2))
    m = mixture_metrics(samples, modes, std)
    assert m["modes_covered"] == 1
    assert m["reverse_kl"] == pytest.approx(np.log(8), abs=1e-12)
    assert m["high_quality"] > 0.95


def test_samples_split_evenly_between_two_of_eight_modes_give_kl_log_4():
    modes, std = ring_modes()
    samples = np.concatenate([np.repeat(modes[:1], 10, 0), np.repeat(modes[5:6], 10, 0)])
    m = mixture_metrics(samples, modes, std)
    assert m["modes_covered"] == 2 and m["high_quality"] == 1.0
    assert m["reverse_kl"] == pytest.approx(np.log(8) - np.log(2), abs=1e-12)


def test_points_far_away_are_not_high_quality():
    modes, std = ring_modes()
    far = np.array([[0.0, 0.0], [10.0, 10.0], [2.0 + 4 * std, 0.0], [-2.0, 3.5 * std]])
    m = mixture_metrics(far, modes, std)
    assert m["high_quality"] == 0.0 and m["modes_covered"] == 0
    assert m["reverse_kl"] is None  # undefined without high-quality samples; JSON has no infinity


def test_a_small_case_by_hand():
    """Two modes 10 apart, std 1: threshold 3.

    (0.5, 0)  -> mode 0 at 0.5: good     (9, 0)    -> mode 1 at 1.0: good
    (5, 0)    -> 5 from both: not good   (0, 2.9)  -> mode 0 at 2.9: good
    (0, 3.1)  -> mode 0 at 3.1: not good
    Good samples: 2 at mode 0, 1 at mode 1: p = (2/3, 1/3), KL = log 2 - H(p).
    """
    modes = np.array([[0.0, 0.0], [10.0, 0.0]])
    samples = np.array([[0.5, 0.0], [9.0, 0.0], [5.0, 0.0], [0.0, 2.9], [0.0, 3.1]])
    m = mixture_metrics(samples, modes, 1.0)
    p = np.array([2 / 3, 1 / 3])
    assert m == {
        "modes_covered": 2,
        "modes_total": 2,
        "high_quality": pytest.approx(0.6),
        "reverse_kl": pytest.approx(np.log(2) + np.sum(p * np.log(p)), abs=1e-12),
        "samples": 5,
    }


def test_the_threshold_is_in_standard_deviations():
    modes = np.array([[0.0, 0.0]])
    samples = np.array([[0.0, 1.5], [0.0, 2.5]])
    assert mixture_metrics(samples, modes, 1.0, threshold=2.0)["high_quality"] == 0.5
    assert mixture_metrics(samples, modes, 0.4, threshold=3.0)["high_quality"] == 0.0
    assert mixture_metrics(samples, modes, 1.0)["high_quality"] == 1.0


def test_results_are_plain_python_numbers():
    modes, std = grid_modes()
    m = mixture_metrics(sample_mixture(modes, std, 100, seed=1), modes, std)
    assert type(m["modes_covered"]) is int and type(m["modes_total"]) is int
    assert type(m["high_quality"]) is float and type(m["reverse_kl"]) is float and type(m["samples"]) is int


def test_wrong_sample_shapes_are_refused():
    modes, std = ring_modes()
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        mixture_metrics(np.zeros((5, 3)), modes, std)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        mixture_metrics(np.zeros(10), modes, std)


def test_no_samples():
    modes, std = ring_modes()
    m = mixture_metrics(np.zeros((0, 2)), modes, std)
    assert m["samples"] == 0 and m["modes_covered"] == 0 and m["high_quality"] == 0.0
