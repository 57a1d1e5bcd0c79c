"""minigan's own digit classifier: the feature extractor behind FID and the classifier score on MNIST.

FID was defined on Inception-v3 features of ImageNet photos; for 28x28 digits a
small convolutional network trained on the data itself sees what matters (strokes,
shapes, classes) and runs in seconds on a CPU. It is built from minigan's own
layers and trained with its own Adam. Its 128 penultimate activations are the
features of FID and of precision/recall; its softmax gives the class
probabilities of the classifier score and the class histogram.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .. import backend, nn, optim
from ..autograd import no_grad
from ..data import DataLoader, DataNotFoundError, load_dataset
from ..nn import functional as F
from ..tensor import Tensor

FORMAT = "minigan-classifier-1"
DATASETS = ("mnist", "fashion-mnist")
# Without the training set (as in a checkout holding only MNIST's test files), train on
# the first HELD_IN test images and report accuracy on the rest.
HELD_IN = 8000


class Classifier(nn.Module):
    """image (N, 1, 28, 28) in [-1, 1] -> logits (N, num_classes).

    conv 3x3 stride 2 (1 -> 32, 14x14), ReLU; conv 3x3 stride 2 (32 -> 64, 7x7), ReLU;
    flatten; linear 3136 -> 128, ReLU: the *features*; dropout; linear 128 -> num_classes.
    Strided convolutions instead of pooling keep it to three matrix products per batch.
    """

    def __init__(self, num_classes=10, channels=(32, 64), hidden=128, dropout=0.5):
        super().__init__()
        self.config = {"num_classes": num_classes, "channels": list(channels), "hidden": hidden, "dropout": dropout}
        c1, c2 = channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * 7 * 7, hidden), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.head(self.body(_check_images(x, "Classifier")))

    def embed(self, x):
        """The penultimate activations (N, hidden) as a Tensor, differentiable: what ``features`` returns in batches."""
        return self.body(_check_images(x, "Classifier.embed"))

    @no_grad()
    def features_and_probabilities(self, images, batch_size=500):
        """images (N, 1, 28, 28) -> (features (N, hidden), probabilities (N, num_classes)), NumPy float64.

        In eval mode (dropout off) and without a graph, ``batch_size`` images at a
        time so memory stays flat whatever N is; the module's mode is restored after.
        """
        images = np.asarray(backend.to_numpy(images.data) if isinstance(images, Tensor) else images)
        _check_images(images, "Classifier.features")
        was_training = self.training
        self.eval()
        features, probabilities = [], []
        try:
            for start in range(0, len(images), batch_size):
                x = Tensor(backend.asarray(images[start:start + batch_size], dtype="float32"))
                h = self.body(x)
                features.append(h.numpy())
                probabilities.append(F.softmax(self.head(h), 1).numpy())
        finally:
            self.train(was_training)
        hidden, classes = self.config["hidden"], self.config["num_classes"]
        if not features:
            return np.zeros((0, hidden)), np.zeros((0, classes))
        return np.concatenate(features).astype(np.float64), np.concatenate(probabilities).astype(np.float64)

    def features(self, images, batch_size=500) -> np.ndarray:
        """images (N, 1, 28, 28) -> the 128 penultimate activations (N, 128), the features of FID."""
        return self.features_and_probabilities(images, batch_size)[0]

    def probabilities(self, images, batch_size=500) -> np.ndarray:
        """images (N, 1, 28, 28) -> softmax class probabilities (N, 10), each row summing to 1."""
        return self.features_and_probabilities(images, batch_size)[1]

    def accuracy(self, images, labels, batch_size=500) -> float:
        """The share of ``images`` whose most probable class is their label."""
        predicted = self.probabilities(images, batch_size).argmax(axis=1)
        return float(np.mean(predicted == np.asarray(labels)))


def _check_images(x, where):
    shape = tuple(x.shape)
    if len(shape) != 4 or shape[1:] != (1, 28, 28):
        raise ValueError(
            f"{where}: expected 28x28 grey images of shape (N, 1, 28, 28) in [-1, 1], got shape {shape}; "
            "the classifier reads MNIST-sized images only"
        )
    return x


# ---------------------------------------------------------------- training

def train_classifier(images, labels, epochs=5, batch_size=64, lr=1e-3, seed=0, log=None, **architecture):
    """Train a ``Classifier`` on images (N, 1, 28, 28) and integer labels (N,) with Adam and cosine decay.

    Cross entropy on shuffled batches; the learning rate falls from ``lr`` to 0 along
    a cosine over all the steps. ``seed`` fixes the initial weights, the dropout
    masks and the batch order; minigan's global random stream is left as it was.
    ``log(message)`` hears one line per epoch.
    """
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"train_classifier: epochs must be a positive integer, got {epochs}")
    images, labels = np.asarray(images, dtype=np.float32), np.asarray(labels, dtype=np.int64)
    _check_images(images, "train_classifier")
    if labels.shape != (len(images),):
        raise ValueError(f"train_classifier: expected one label per image, shape ({len(images)},), got {labels.shape}")
    saved_rng = backend.get_rng_state()
    backend.manual_seed(seed)
    try:
        model = Classifier(**architecture)
        loader = DataLoader((images, labels), min(batch_size, len(images)), shuffle=True, drop_last=True, seed=seed)
        optimizer = optim.Adam(model.parameters(), lr=lr)
        schedule = optim.CosineAnnealingLR(optimizer, epochs * len(loader))
        model.train()
        for epoch in range(int(epochs)):
            started, total, seen = time.perf_counter(), 0.0, 0
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                total, seen = total + float(loss.item()) * len(y), seen + len(y)
            if log is not None:
                log(f"epoch {epoch + 1}/{epochs}: loss {total / seen:.4f} ({time.perf_counter() - started:.1f} s)")
    finally:
        backend.set_rng_state(saved_rng)
    model.eval()
    return model


def training_data(dataset="mnist", data_dir=None, download=True):
    """(train images, train labels, test images, test labels, description) for training the classifier.

    The dataset's own split when its training set is on disk (or downloadable);
    otherwise the first 8,000 test images to train and the last 2,000 to test, which
    the description says, since a classifier trained on test images must say so.
    """
    if dataset not in DATASETS:
        raise ValueError(f"the classifier is for {' or '.join(DATASETS)}, not {dataset!r}")
    test_images, test_labels = load_dataset(dataset, "test", data_dir, download=download)
    try:
        train_images, train_labels = load_dataset(dataset, "train", data_dir, download=download)
    except DataNotFoundError:
        if len(test_images) <= HELD_IN:
            raise DataNotFoundError(
                f"{dataset}: neither the training set nor the full test set is on disk (found {len(test_images)} test "
                f"images); the classifier needs one of them"
            ) from None
        description = (f"{dataset} test images 0-{HELD_IN - 1} (the training set was not available); "
                       f"accuracy on test images {HELD_IN}-{len(test_images) - 1}")
        return (test_images[:HELD_IN], test_labels[:HELD_IN], test_images[HELD_IN:], test_labels[HELD_IN:], description)
    description = f"{dataset} training set ({len(train_images)} images); accuracy on its {len(test_images)} test images"
    return train_images, train_labels, test_images, test_labels, description


# ---------------------------------------------------------------- saving and loading

def default_path(dataset="mnist") -> Path:
    """Where ``eval`` and ``sanity`` look for the classifier of ``dataset``: ~/.cache/minigan/classifier-<dataset>.npz."""
    return Path.home() / ".cache" / "minigan" / f"classifier-{dataset}.npz"


def save_classifier(model, path, info) -> None:
    """Write the weights and ``info`` (a JSON-able dict: dataset, trained on, accuracy) atomically with ``nn.save``.

    ``info`` and the architecture travel as a JSON string stored in bytes under
    'meta', as checkpoints do, so the file still opens with NumPy alone.
    """
    meta = {"format": FORMAT, "architecture": model.config, **info}
    state = {key: value.numpy() for key, value in model.state_dict().items()}
    state["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    nn.save(state, path)


def load_classifier(path):
    """(classifier in eval mode on the current device, info dict) from a file written by ``save_classifier``."""
    try:
        arrays = nn.load(path)
    except (FileNotFoundError, IsADirectoryError, ValueError) as err:
        raise ValueError(str(err).replace("minigan.nn.load: ", "classifier: ")) from None
    meta = arrays.pop("meta", None)
    try:
        info = json.loads(meta.tobytes().decode("utf-8")) if meta is not None else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        info = {}
    if info.get("format") != FORMAT:
        raise ValueError(
            f"'{path}' is not a minigan classifier (written by 'python -m minigan classifier train'); "
            "is it a training checkpoint? Pass that as --checkpoint"
        )
    model = Classifier(**info["architecture"])
    try:
        model.load_state_dict(arrays)
    except RuntimeError as err:
        raise ValueError(f"'{path}': the weights do not fit the classifier they describe: {err}") from None
    model.eval()
    return model, info


def load_or_train_classifier(dataset="mnist", path=None, data_dir=None, download=True, epochs=None, log=print):
    """(classifier, info) from ``path``; with no path, from ``default_path(dataset)``, trained and saved there if missing.

    An explicit ``path`` must exist. Training on first use takes a minute or two on a
    CPU and says so through ``log``, with the data it trains on.
    """
    if path is not None:
        return load_classifier(path)
    path = default_path(dataset)
    if path.exists():
        return load_classifier(path)
    log(f"no {dataset} classifier at {path} yet: training one now (once; 'python -m minigan classifier train' does the same)")
    model, info = fit_and_describe(dataset, data_dir, download=download, epochs=epochs, log=log)
    save_classifier(model, path, info)
    log(f"saved the classifier to {path}: trained on {info['trained_on']}, test accuracy {info['test_accuracy']:.4f}")
    return model, info


def fit_and_describe(dataset="mnist", data_dir=None, download=True, epochs=None, seed=0, log=print):
    """Train the classifier on ``training_data(dataset)``; returns (model, info) with its data and test accuracy."""
    train_images, train_labels, test_images, test_labels, description = training_data(dataset, data_dir, download)
    epochs = epochs or default_epochs(len(train_images))
    log(f"training the {dataset} classifier for {epochs} epochs on {description}")
    started = time.perf_counter()
    model = train_classifier(train_images, train_labels, epochs=epochs, seed=seed, log=log)
    info = {
        "dataset": dataset,
        "trained_on": description,
        "train_images": int(len(train_images)),
        "test_images": int(len(test_images)),
        "test_accuracy": model.accuracy(test_images, test_labels),
        "epochs": int(epochs),
        "seed": int(seed),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return model, info


def default_epochs(n_train) -> int:
    """Epochs that reach the accuracy targets in about the same number of steps: more passes over fewer images."""
    return 3 if n_train >= 30_000 else 10
