"""evaluate_images, its cache of real statistics, the 2-D branch, and the sanity scale.

The numbers' own formulas are tested in test_metrics_*; here, that the pieces are
wired together right: the same images score FID 0 and precision/recall 1, the real
side is computed once, and the sanity scale orders real < blurred < noise.
"""

import json

import numpy as np
import pytest
from synthetic import synthetic_digits
from conftest import SHARED_DATA

from minigan.data import load_dataset, ring_modes
from minigan.metrics import evaluate as evaluate_module
from minigan.metrics.classifier import Classifier, train_classifier
from minigan.metrics.evaluate import evaluate_images, evaluate_mixture, real_statistics
from minigan.metrics.sanity import box_blur, sanity_scale

MNIST_DIR = SHARED_DATA / "mnist"

KEYS = {"fid", "classifier_score", "classes_covered", "classes_total", "class_kl_from_uniform", "class_histogram",
        "precision", "recall", "k", "samples", "real_samples", "real_samples_precision_recall"}


@pytest.fixture(scope="module")
def classifier():
    images, labels = synthetic_digits(640)
    return train_classifier(images, labels, epochs=1, lr=5e-3)  # 10 steps: right and fairly confident


@pytest.fixture(autouse=True)
def _empty_cache():
    evaluate_module._CACHE.clear()
    yield


def test_the_same_images_score_fid_0_and_full_precision_and_recall(classifier):
    images, _ = synthetic_digits(200, seed=1)
    metrics = evaluate_images(images, images, classifier)
    assert set(metrics) == KEYS
    assert abs(metrics["fid"]) < 1e-6
    assert metrics["precision"] == 1.0 and metrics["recall"] == 1.0
    assert metrics["classes_covered"] == 10 and metrics["class_kl_from_uniform"] < 0.05
    assert 5.0 < metrics["classifier_score"] <= 10.0
    json.dumps(metrics, allow_nan=False)  # plain numbers only


def test_one_class_only_is_seen_as_collapse(classifier):
    real, labels = synthetic_digits(300, seed=1)
    collapsed = synthetic_digits(300, seed=2)[0][synthetic_digits(300, seed=2)[1] == 3]
    metrics = evaluate_images(collapsed, real, classifier)
    assert metrics["classes_covered"] == 1 and metrics["class_histogram"][3] == len(collapsed)
    assert metrics["classifier_score"] < 1.5 and metrics["recall"] < 0.3
    assert metrics["class_kl_from_uniform"] == pytest.approx(np.log(10), abs=1e-9)


def test_a_class_needs_a_tenth_of_its_fair_share_to_count_as_covered(classifier):
    real, labels = synthetic_digits(1000, seed=1)
    # 200 of class 0, 200 of class 1, and 2 strays of class 2: the strays are under 10% of 402 / 10
    mixed = np.concatenate([real[labels == 0][:200], real[labels == 1][:200], real[labels == 2][:2]])
    assert evaluate_images(mixed, real, classifier)["classes_covered"] == 2


def test_precision_and_recall_compare_sets_of_the_same_size(classifier):
    real, _ = synthetic_digits(500, seed=1)
    fake, _ = synthetic_digits(100, seed=2)
    metrics = evaluate_images(fake, real, classifier)
    assert (metrics["real_samples"], metrics["real_samples_precision_recall"], metrics["samples"]) == (500, 100, 100)


def test_the_real_side_is_computed_once_and_recomputed_for_new_weights(classifier, monkeypatch):
    real, _ = synthetic_digits(100, seed=1)
    calls = []
    original = Classifier.features
    monkeypatch.setattr(Classifier, "features", lambda self, images, *a: calls.append(len(images)) or original(self, images))
    first = real_statistics(real, classifier)
    assert real_statistics(real.copy(), classifier) is first  # same content, same entry
    assert calls == [100]
    other = Classifier()  # other weights: other features
    assert real_statistics(real, other) is not first and calls == [100, 100]


def test_evaluate_images_explains_bad_input(classifier):
    real, _ = synthetic_digits(20)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\), got shape \(20, 784\)"):
        evaluate_images(real.reshape(20, -1), real, classifier)
    with pytest.raises(ValueError, match="too few"):
        evaluate_images(real[:3], real, classifier)


def test_the_2d_branch_counts_the_modes_of_the_ring():
    modes, _ = ring_modes()
    perfect = np.repeat(modes, 10, axis=0)
    metrics = evaluate_mixture(perfect, "ring")
    assert metrics["modes_covered"] == metrics["modes_total"] == len(modes)
    assert metrics["high_quality"] == 1.0 and metrics["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_box_blur_keeps_flat_images_and_spreads_a_dot_evenly():
    flat = np.full((2, 1, 28, 28), 0.25, dtype=np.float32)
    np.testing.assert_allclose(box_blur(flat), flat, atol=1e-7)
    dot = np.zeros((1, 1, 28, 28), dtype=np.float32)
    dot[0, 0, 10, 10] = 9.0
    blurred = box_blur(dot)
    np.testing.assert_allclose(blurred[0, 0, 9:12, 9:12], 1.0, atol=1e-6)
    assert blurred.sum() == pytest.approx(9.0)
    with pytest.raises(ValueError, match="odd"):
        box_blur(dot, size=2)


def test_the_sanity_scale_orders_real_blurred_noise(classifier):
    if (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        images, labels = load_dataset("mnist", "test", MNIST_DIR, download=False)
        classifier = train_classifier(images[:960], labels[:960], epochs=1, lr=2e-3)
        images = images[8000:9200]  # images the classifier has not seen
    else:
        images, _ = synthetic_digits(1200, seed=4)
    scale = sanity_scale(images, classifier, n=600)
    fid = {name: scale[name]["fid"] for name in ("real_vs_real", "real_vs_blurred", "real_vs_noise")}
    assert fid["real_vs_real"] < fid["real_vs_blurred"] < fid["real_vs_noise"], fid
    assert scale["real_vs_real"]["precision"] > scale["real_vs_noise"]["precision"]
    assert scale["real_vs_real"]["recall"] > scale["real_vs_noise"]["recall"]
    assert scale["images_per_side"] == 600
