"""minigan's image classifier: it learns, it extracts features in batches, its weights round-trip.

Training runs here are tiny (a few hundred synthetic images, one epoch), so they
take a second or two; the MNIST check uses the shared test images when present.
"""

import numpy as np
import pytest
from synthetic import synthetic_digits
from conftest import SHARED_DATA

import minigan
from minigan.metrics import classifier as classifier_module
from minigan.metrics.classifier import (
    Classifier, default_path, load_classifier, load_or_train_classifier, save_classifier, train_classifier,
    training_data,
)

MNIST_DIR = SHARED_DATA / "mnist"
needs_mnist = pytest.mark.skipif(not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(),
                                 reason="the MNIST test images are not in ../shared/data/mnist")


@pytest.fixture(scope="module")
def trained():
    """A classifier after one epoch on 640 synthetic images (10 steps)."""
    images, labels = synthetic_digits(640, seed=0)
    return train_classifier(images, labels, epochs=1, seed=0)


def test_the_classifier_learns_well_above_chance(trained):
    images, labels = synthetic_digits(300, seed=1)  # held out: another seed
    assert trained.accuracy(images, labels) > 0.8  # chance is 0.1


def test_features_and_probabilities_have_their_shapes_in_any_batch_size(trained):
    images, _ = synthetic_digits(37, seed=2)
    features, probabilities = trained.features(images, batch_size=10), trained.probabilities(images, batch_size=10)
    assert features.shape == (37, 128) and probabilities.shape == (37, 10)
    assert features.dtype == np.float64 and features.min() >= 0  # after the ReLU
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(trained.features(images, batch_size=500), features, rtol=1e-5, atol=1e-6)


def test_extraction_is_in_eval_mode_without_a_graph_and_restores_the_mode():
    model = Classifier()
    model.train()
    images, _ = synthetic_digits(8)
    first = model.probabilities(images)
    np.testing.assert_array_equal(model.probabilities(images), first)  # no dropout: the same twice
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert model.embed(minigan.tensor(images)).requires_grad  # embed, the Tensor version, is differentiable


def test_the_classifier_rejects_images_of_another_size():
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\).*got shape \(4, 3, 32, 32\)"):
        Classifier().features(np.zeros((4, 3, 32, 32), dtype=np.float32))


def test_training_is_reproducible_and_leaves_the_global_random_stream_alone():
    images, labels = synthetic_digits(128)
    minigan.manual_seed(123)
    expected = minigan.randn(5).numpy()
    minigan.manual_seed(123)
    a = train_classifier(images, labels, epochs=1, seed=5)
    np.testing.assert_array_equal(minigan.randn(5).numpy(), expected)
    b = train_classifier(images, labels, epochs=1, seed=5)
    for (key, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=key)


def test_saving_and_loading_weights_round_trips(trained, tmp_path):
    path = tmp_path / "sub" / "classifier.npz"
    save_classifier(trained, path, {"dataset": "mnist", "trained_on": "synthetic", "test_accuracy": 0.9})
    model, info = load_classifier(path)
    assert info["dataset"] == "mnist" and info["trained_on"] == "synthetic" and info["architecture"]["hidden"] == 128
    images, _ = synthetic_digits(20, seed=3)
    np.testing.assert_array_equal(model.features(images), trained.features(images))
    assert not model.training
    assert not list(tmp_path.glob("sub/.*"))  # atomic: no temporary file left behind


def test_loading_explains_a_missing_file_and_a_file_that_is_no_classifier(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_classifier(tmp_path / "nothing.npz")
    minigan.nn.save(Classifier(), tmp_path / "bare.npz")  # weights without the classifier's description
    with pytest.raises(ValueError, match="not a minigan classifier"):
        load_classifier(tmp_path / "bare.npz")


def test_the_default_classifier_is_trained_once_on_first_use(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    calls = []

    def fit(dataset, data_dir, **options):
        calls.append(dataset)
        return Classifier(), {"dataset": dataset, "trained_on": "nothing", "test_accuracy": 0.1}

    monkeypatch.setattr(classifier_module, "fit_and_describe", fit)
    messages = []
    load_or_train_classifier("mnist", log=messages.append)
    assert default_path("mnist") == tmp_path / ".cache" / "minigan" / "classifier-mnist.npz"
    assert default_path("mnist").exists() and "training one now" in messages[0]
    _, info = load_or_train_classifier("mnist", log=messages.append)
    assert calls == ["mnist"] and info["trained_on"] == "nothing"


@needs_mnist
def test_without_the_training_set_it_trains_on_8000_test_images_and_says_so():
    train_images, train_labels, test_images, test_labels, description = training_data("mnist", MNIST_DIR, download=False)
    assert (len(train_images), len(test_images)) == (8000, 2000)
    assert "test images 0-7999" in description and "8000-9999" in description


@needs_mnist
def test_on_mnist_a_short_training_is_well_above_chance():
    train_images, train_labels, test_images, test_labels, _ = training_data("mnist", MNIST_DIR, download=False)
    model = train_classifier(train_images[:960], train_labels[:960], epochs=1, lr=2e-3)
    assert model.accuracy(test_images[:500], test_labels[:500]) > 0.6  # chance is 0.1; the full run reaches 0.98
