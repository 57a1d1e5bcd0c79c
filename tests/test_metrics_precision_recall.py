"""Improved precision and recall: k-nearest-neighbour balls around real and generated features.

Identical sets score 1 and 1, far-apart sets 0 and 0; a generator that reaches
half of the real clusters keeps its precision and halves its recall. A tiny 1-D
case is worked out by hand, and random sets are checked against a plain
all-pairs version; the batch size changes nothing.
"""

import numpy as np
import pytest

from minigan.metrics.precision_recall import precision_recall


def all_pairs_reference(real, fake, k):
    """The definition, all distances at once: fine for a few hundred samples."""
    def radii(x):
        d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=2)
        return np.sort(d, axis=1)[:, k]  # column 0 is the sample itself
    cross = np.linalg.norm(fake[:, None, :] - real[None, :, :], axis=2)  # (M, N)
    precision = np.mean(np.any(cross <= radii(real)[None, :], axis=1))
    recall = np.mean(np.any(cross.T <= radii(fake)[None, :], axis=1))
    return precision, recall


def clusters(rng, centers, per_cluster, std=1.0):
    return (centers[:, None, :] + std * rng.standard_normal((len(centers), per_cluster, centers.shape[1]))).reshape(
        -1, centers.shape[1]
    )


def test_identical_sets_score_one_and_one():
    features = np.random.default_rng(0).standard_normal((300, 8))
    m = precision_recall(features, features)
    assert m["precision"] == 1.0 and m["recall"] == 1.0


def test_far_apart_sets_score_zero_and_zero():
    rng = np.random.default_rng(1)
    m = precision_recall(rng.standard_normal((200, 5)), rng.standard_normal((150, 5)) + 100.0)
    assert m["precision"] == 0.0 and m["recall"] == 0.0


def test_reaching_half_of_the_clusters_halves_recall_and_keeps_precision():
    """10 real clusters, 20 apart; the fake samples come from 5 of them only. Fake samples land in
    real balls (precision near 1); only real samples of the 5 reached clusters lie in fake balls."""
    rng = np.random.default_rng(2)
    centers = 20 * rng.standard_normal((10, 2))
    real = clusters(rng, centers, 100)
    fake = clusters(rng, centers[:5], 200)
    m = precision_recall(real, fake)
    assert m["precision"] > 0.95
    assert 0.45 <= m["recall"] <= 0.5  # a few real samples at the rims of reached clusters are missed too
    swapped = precision_recall(fake, real)  # the roles exchanged: recall and precision exchange
    assert swapped["recall"] > 0.95 and 0.45 <= swapped["precision"] <= 0.5


def test_a_tiny_case_by_hand_with_k_1():
    """Real 0, 2, 6: radii 2, 2, 4. Fake -3, 1, 10, 11: radii 4, 4, 1, 1.

    Precision: 1 (within 2 of 0) and 10 (exactly 4 from 6: the ball is closed) are in;
    11 (5 from 6) and -3 (3 from 0) are out: 2/4.
    Recall: 0 and 2 lie within 4 of fake 1; 6 is 5 from 1 and 4 from 10 (radius 1): out: 2/3.
    Integer coordinates make every squared distance exact.
    """
    real = np.array([[0.0], [2.0], [6.0]])
    fake = np.array([[-3.0], [1.0], [10.0], [11.0]])
    m = precision_recall(real, fake, k=1)
    assert m == {"precision": 0.5, "recall": pytest.approx(2 / 3), "k": 1, "real_samples": 3, "fake_samples": 4}


def test_k_counts_neighbours_other_than_the_sample_itself():
    """Real 0, 1, 3, 10 with k=2: the second nearest other sample gives radii 3, 2, 3, 9.

    Fake -2.5 (2.5 from 0) and 19 (exactly 9 from 10) are in; 20 and -3.5 are out: 1/2.
    Counting the sample itself as a neighbour (radii 1, 1, 2, 7) would give 0; one
    neighbour too far (radii 10, 9, 7, 10) would give 1.
    """
    real = np.array([[0.0], [1.0], [3.0], [10.0]])
    fake = np.array([[-2.5], [19.0], [20.0], [-3.5]])
    assert precision_recall(real, fake, k=2)["precision"] == 0.5


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_the_all_pairs_definition(k):
    rng = np.random.default_rng(3 + k)
    real = rng.standard_normal((150, 6))
    fake = 0.8 * rng.standard_normal((120, 6)) + 0.5
    m = precision_recall(real, fake, k=k)
    assert (m["precision"], m["recall"]) == pytest.approx(all_pairs_reference(real, fake, k), abs=1e-12)
    assert 0 < m["precision"] < 1 and 0 < m["recall"] < 1  # a case where both balls matter


def test_batch_size_changes_nothing():
    rng = np.random.default_rng(4)
    real, fake = rng.standard_normal((257, 10)), rng.standard_normal((131, 10)) + 0.3
    expected = precision_recall(real, fake)
    for batch_size in [1, 7, 64, 131, 1000]:
        assert precision_recall(real, fake, batch_size=batch_size) == expected


def test_duplicates_are_neighbours_at_distance_zero():
    """Only the sample itself is skipped: a copy of it is a real neighbour (radius 0 with k=1)."""
    real = np.array([[0.0], [0.0], [5.0], [5.0]])
    fake = np.array([[0.0], [0.1], [5.0], [6.0]])
    assert precision_recall(real, fake, k=1)["precision"] == 0.5


def test_a_common_offset_changes_nothing():
    """Far from the origin, ||a||^2 + ||b||^2 - 2 a.b loses every digit of a small distance to cancellation."""
    rng = np.random.default_rng(9)
    real, fake = rng.standard_normal((200, 4)), rng.standard_normal((200, 4)) + 0.5
    offset = np.array([1e7, -3e7, 2e7, 5e6])
    assert precision_recall(real + offset, fake + offset) == pytest.approx(precision_recall(real, fake), abs=0.006)


def test_float32_features_are_measured_in_float64():
    rng = np.random.default_rng(5)
    real, fake = rng.standard_normal((100, 4)), rng.standard_normal((100, 4))
    expected = precision_recall(real.astype(np.float32).astype(np.float64), fake.astype(np.float32).astype(np.float64))
    assert precision_recall(real.astype(np.float32), fake.astype(np.float32)) == expected


def test_results_are_plain_python_numbers():
    rng = np.random.default_rng(6)
    m = precision_recall(rng.standard_normal((20, 3)), rng.standard_normal((30, 3)))
    assert type(m["precision"]) is float and type(m["recall"]) is float
    assert type(m["k"]) is int and m["real_samples"] == 20 and m["fake_samples"] == 30


def test_malformed_inputs_are_refused():
    rng = np.random.default_rng(7)
    real, fake = rng.standard_normal((10, 3)), rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match="same layer"):
        precision_recall(real, rng.standard_normal((10, 4)))
    with pytest.raises(ValueError, match=r"real_features must be \(N, D\)"):
        precision_recall(np.zeros(10), fake)
    with pytest.raises(ValueError, match="at least 4"):
        precision_recall(real, fake[:3])
    with pytest.raises(ValueError, match="k must be"):
        precision_recall(real, fake, k=0)
    with pytest.raises(ValueError, match="batch_size"):
        precision_recall(real, fake, batch_size=0)


@pytest.mark.slow
def test_ten_thousand_by_ten_thousand_fits_in_batches():
    rng = np.random.default_rng(8)
    real, fake = rng.standard_normal((10_000, 64)), rng.standard_normal((10_000, 64))
    m = precision_recall(real, fake)
    assert 0.3 < m["precision"] < 0.9 and 0.3 < m["recall"] < 0.9
