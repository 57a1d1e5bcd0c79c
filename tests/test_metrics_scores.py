"""Scores from class predictions: the classifier (Inception) score, class histogram, coverage, KL from uniform.

Confident predictions spread evenly over K classes score K; identical predictions
score 1; a two-sample case and the splits are worked out by hand. The class
counts follow mixture_metrics: one class only gives KL = log K and one class covered.
"""

import numpy as np
import pytest

from minigan.metrics.scores import class_histogram, class_kl_from_uniform, classes_covered, classifier_score


@pytest.mark.parametrize("k", [2, 3, 10])
def test_confident_predictions_spread_evenly_score_k(k):
    probs = np.tile(np.eye(k), (5, 1))  # every class 5 times, each with probability 1
    assert classifier_score(probs) == pytest.approx(k, rel=1e-12)


def test_identical_predictions_score_one():
    rng = np.random.default_rng(0)
    row = rng.dirichlet(np.ones(7))
    assert classifier_score(np.tile(row, (20, 1))) == pytest.approx(1.0, abs=1e-12)
    assert classifier_score(np.tile(np.eye(7)[3], (20, 1))) == pytest.approx(1.0, abs=1e-12)  # confident, one class


def test_a_small_case_by_hand():
    """p(y|x1) = (1, 0), p(y|x2) = (1/2, 1/2): p(y) = (3/4, 1/4).
    KL1 = log(4/3); KL2 = 1/2 log(2/3) + 1/2 log 2 = 1/2 log(4/3); mean 3/4 log(4/3); score (4/3)^(3/4)."""
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert classifier_score(probs) == pytest.approx((4 / 3) ** 0.75, rel=1e-12)


def test_against_the_formula_on_random_predictions():
    """The score of random softmax outputs against a plain evaluation of exp(E_x KL(p(y|x) || p(y)))."""
    rng = np.random.default_rng(1)
    logits = 3 * rng.standard_normal((50, 6))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    marginal = probs.mean(axis=0)
    expected = np.exp(np.mean([np.sum(p * np.log(p / marginal)) for p in probs]))
    assert classifier_score(probs) == pytest.approx(expected, rel=1e-12)
    assert 1.0 <= classifier_score(probs) <= 6.0


def test_splits_score_groups_apart_and_give_mean_and_std():
    """First half: all class 0 (score 1). Second half: classes 0 and 1 alternating, confident (score 2)."""
    first = np.tile([1.0, 0.0], (4, 1))
    second = np.tile(np.eye(2), (2, 1))
    mean, std = classifier_score(np.concatenate([first, second]), splits=2)
    assert mean == pytest.approx(1.5) and std == pytest.approx(0.5)
    # Scored whole: 6 confident class-0 and 2 class-1 predictions, p(y) = (3/4, 1/4), KL = log(1 / p(y)).
    whole = classifier_score(np.concatenate([first, second]))
    assert whole == pytest.approx(np.exp(0.75 * np.log(4 / 3) + 0.25 * np.log(4)), rel=1e-12)


def test_splits_of_uneven_size_cover_every_sample():
    """7 samples in 2 splits: groups of 3 and 4, as in the paper (boundaries i * N // splits)."""
    probs = np.concatenate([np.tile([1.0, 0.0], (3, 1)), np.tile(np.eye(2), (2, 1))])
    mean, std = classifier_score(probs, splits=2)
    assert (mean, std) == (pytest.approx(1.5), pytest.approx(0.5))
    scores = classifier_score(np.tile(np.eye(4), (3, 1)), splits=3)  # each group of 4 covers all 4 classes
    assert scores == (pytest.approx(4.0), pytest.approx(0.0, abs=1e-12))


def test_zero_probabilities_are_safe():
    probs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # class 2 never predicted: 0 log 0 = 0
    with np.errstate(all="raise"):
        assert classifier_score(probs) == pytest.approx(2.0)
        assert class_kl_from_uniform(np.array([0, 1]), 3) == pytest.approx(np.log(3) - np.log(2))


def test_the_results_are_floats():
    probs = np.tile(np.eye(3), (2, 1))
    assert type(classifier_score(probs)) is float
    mean, std = classifier_score(probs, splits=2)
    assert type(mean) is float and type(std) is float


def test_probs_that_are_not_distributions_are_refused():
    with pytest.raises(ValueError, match="softmax"):
        classifier_score(np.array([[2.0, -1.0], [0.5, 0.5]]))  # logits, not probabilities
    with pytest.raises(ValueError, match="softmax"):
        classifier_score(np.array([[0.2, 0.2], [0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        classifier_score(np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="splits"):
        classifier_score(np.eye(3), splits=4)
    with pytest.raises(ValueError, match="splits"):
        classifier_score(np.eye(3), splits=0)


def test_class_histogram_counts_labels_and_argmax_of_probs():
    labels = np.array([0, 2, 2, 3, 2])
    np.testing.assert_array_equal(class_histogram(labels, 5), [1, 0, 3, 1, 0])
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]])
    np.testing.assert_array_equal(class_histogram(probs, 3), [1, 1, 1])
    np.testing.assert_array_equal(class_histogram(np.array([], dtype=np.int64), 3), [0, 0, 0])


def test_classes_covered_by_hand():
    labels = np.array([0, 2, 2, 3, 2, 3])
    assert classes_covered(labels, 5) == 3
    assert classes_covered(labels, 5, min_count=2) == 2
    assert classes_covered(labels, 5, min_count=3) == 1
    assert classes_covered(np.zeros(10, dtype=int), 10) == 1  # all one class
    assert type(classes_covered(labels, 5)) is int


def test_kl_from_uniform_by_hand():
    assert class_kl_from_uniform(np.zeros(10, dtype=int), 10) == pytest.approx(np.log(10), abs=1e-12)  # all one class
    assert class_kl_from_uniform(np.arange(10), 10) == pytest.approx(0.0, abs=1e-12)  # balanced
    # Counts (2, 1, 0) over 3 classes: p = (2/3, 1/3, 0), KL = log 3 + 2/3 log(2/3) + 1/3 log(1/3).
    expected = np.log(3) + 2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3)
    assert class_kl_from_uniform(np.array([0, 1, 0]), 3) == pytest.approx(expected, abs=1e-12)
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.3, 0.1]])  # argmax 0, 1, 0: the same
    assert class_kl_from_uniform(probs, 3) == pytest.approx(expected, abs=1e-12)
    assert type(class_kl_from_uniform(probs, 3)) is float


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match=r"0\.\.4"):
        class_histogram(np.array([0, 5]), 5)
    with pytest.raises(ValueError, match=r"0\.\.4"):
        classes_covered(np.array([-1, 2]), 5)
    with pytest.raises(ValueError, match="integers"):
        class_histogram(np.array([0.0, 1.0]), 5)
    with pytest.raises(ValueError, match=r"\(N, 5\)"):
        class_histogram(np.ones((4, 3)) / 3, 5)
    with pytest.raises(ValueError, match="num_classes"):
        class_histogram(np.array([0, 1]), 0)
    with pytest.raises(ValueError, match="no samples"):
        class_kl_from_uniform(np.array([], dtype=np.int64), 3)
