"""MNIST and Fashion-MNIST: find the IDX files on disk, download what is missing, load them as arrays.

Both datasets are four gzip IDX files with the same names (60,000 training and
10,000 test images of 28x28 grey pixels, and their labels 0-9). ``load_mnist``
returns images as float32 (N, 1, 28, 28) in [-1, 1] and labels as int64 (N,),
ready for a ``DataLoader``. Files are looked up in ``data_dir``, then in
``$MINIGAN_DATA``, then in ``~/.cache/minigan``; in each, both in the
``mnist/`` (or ``fashion-mnist/``) subfolder and directly. A missing file is
downloaded from the first mirror that has it, checked against its published
MD5, and kept in the first of those folders. Files found on disk are checked
against the same MD5s (``verify=True``, a few hundredths of a second), because a
truncated copy or Fashion-MNIST's file of the same name would otherwise train
silently on the wrong data; ``read_idx_images`` reads any other file, unchecked.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from .download import ChecksumError, DownloadError, fetch, md5_of
from .idx import IDXError, read_idx_images, read_idx_labels

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# The published MD5 of each original .gz file (torchvision and the datasets' own pages use the same).
MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


@dataclass(frozen=True)
class _Dataset:
    name: str          # the key in MD5 and the name of its subfolder
    title: str
    url_variable: str  # the environment variable that overrides the mirrors
    mirrors: tuple     # base URLs, tried in order


DATASETS = {
    "mnist": _Dataset("mnist", "MNIST", "MINIGAN_MNIST_URL", (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",      # torchvision's mirror
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's mirror
        "http://yann.lecun.com/exdb/mnist/",                   # the original page
    )),
    "fashion-mnist": _Dataset("fashion-mnist", "Fashion-MNIST", "MINIGAN_FASHION_MNIST_URL", (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # Zalando's bucket
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    )),
}


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are neither on disk nor downloadable; the message says where to put them."""


# ---------------------------------------------------------------- where the files are

def search_dirs(dataset="mnist", data_dir=None) -> list:
    """The folders searched for ``dataset``'s files, in order.

    For each root (``data_dir``, then ``$MINIGAN_DATA``, then ``~/.cache/minigan``):
    first ``<root>/<dataset>``, then ``<root>`` itself.
    """
    name = _dataset(dataset).name
    dirs = []
    for root in _roots(data_dir):
        for folder in (root / name, root):
            if folder not in dirs:
                dirs.append(folder)
    return dirs


def download_dir(dataset="mnist", data_dir=None) -> Path:
    """Where downloads go: ``<first root>/<dataset>``, e.g. ``~/.cache/minigan/mnist`` when nothing is set."""
    return _roots(data_dir)[0] / _dataset(dataset).name


def find_files(dataset, split, data_dir=None):
    """(images path, labels path) of a split found on disk, or None if either is missing. Downloads nothing."""
    paths = [_locate(dataset, filename, data_dir) for filename in _files(split)]
    return None if None in paths else tuple(paths)


def find_mnist_files(split, data_dir=None):
    """(images, labels) paths of MNIST's 'train' or 'test' split on disk, or None: what is usable offline."""
    return find_files("mnist", split, data_dir)


def find_fashion_mnist_files(split, data_dir=None):
    """(images, labels) paths of Fashion-MNIST's 'train' or 'test' split on disk, or None."""
    return find_files("fashion-mnist", split, data_dir)


# ---------------------------------------------------------------- loading

def load_mnist(split="train", data_dir=None, download=True, base_url=None, verify=True, timeout=30.0):
    """MNIST digits as (images float32 (N, 1, 28, 28) in [-1, 1], labels int64 (N,)).

    split: 'train' (60,000), 'test' (10,000), or 'auto': the training set if it is
    on disk or can be downloaded, else the test set with a warning.
    download: fetch missing files (from ``base_url``, a URL or a list of them, else
    ``$MINIGAN_MNIST_URL``, else the public mirrors), with ``timeout`` seconds per
    network call. verify: also check the MD5 of files found on disk, so that a
    truncated copy or another dataset's file of the same name is caught; pass
    False for a re-compressed copy. Downloads are always checked.
    """
    return load_dataset("mnist", split, data_dir, download, base_url, verify, timeout)


def load_fashion_mnist(split="train", data_dir=None, download=True, base_url=None, verify=True, timeout=30.0):
    """Fashion-MNIST clothes, as ``load_mnist`` (``$MINIGAN_FASHION_MNIST_URL``; classes in FASHION_MNIST_CLASSES)."""
    return load_dataset("fashion-mnist", split, data_dir, download, base_url, verify, timeout)


def load_dataset(dataset, split="train", data_dir=None, download=True, base_url=None, verify=True, timeout=30.0):
    """``load_mnist`` for the dataset named ``dataset`` ('mnist' or 'fashion-mnist')."""
    info = _dataset(dataset)
    if split == "auto":
        try:
            return load_dataset(dataset, "train", data_dir, download, base_url, verify, timeout)
        except DataNotFoundError as err:
            warnings.warn(
                f"{info.title}: the training set is not available, so the 10,000 test images are used instead.\n{err}",
                stacklevel=3,
            )
            split = "test"
    images_path, labels_path = _locate_or_download(info, split, data_dir, download, base_url, verify, timeout)
    images, labels = read_idx_images(images_path), read_idx_labels(labels_path)
    if len(images) != len(labels):
        raise IDXError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
    return images, labels


def _locate_or_download(info, split, data_dir, download, base_url, verify, timeout):
    found = {filename: _locate(info.name, filename, data_dir) for filename in _files(split)}
    if verify:
        for path in found.values():
            if path is not None:
                _verify(info, path)
    missing = [filename for filename, path in found.items() if path is None]
    if missing and not download:
        raise DataNotFoundError(_missing_message(info, split, missing, data_dir, "download=False, so nothing was downloaded."))
    for i, filename in enumerate(missing):
        try:
            found[filename] = fetch(filename, _base_urls(info, base_url), download_dir(info.name, data_dir),
                                    md5=MD5[info.name][filename], timeout=timeout)
        except DownloadError as err:
            raise DataNotFoundError(_missing_message(info, split, missing[i:], data_dir, f"The download failed: {err}")) from err
    return tuple(found.values())


def _verify(info, path):
    expected, actual = MD5[info.name][path.name], md5_of(path)
    if actual != expected:
        raise ChecksumError(
            f"{path}: MD5 {actual}, but the published {info.title} file {path.name} has {expected}. "
            "Another dataset's file of the same name, or a truncated copy? Delete it and minigan will download the "
            "original; if it is a re-compressed copy of the right data, pass verify=False."
        )


def _missing_message(info, split, missing, data_dir, reason):
    folders = "\n".join(f"  {folder}" for folder in search_dirs(info.name, data_dir))
    return (
        f"{info.title} {split} split: missing {', '.join(missing)}.\n"
        f"Looked in:\n{folders}\n"
        f"{reason}\n"
        f"Put the files (from {info.mirrors[0]}) in one of those folders, or set the MINIGAN_DATA environment "
        f"variable (or data_dir=) to a folder that holds them, directly or in a {info.name}/ subfolder. "
        f"With network access, minigan downloads them into {download_dir(info.name, data_dir)}."
    )


# ---------------------------------------------------------------- small helpers

def _dataset(dataset) -> _Dataset:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(repr(k) for k in DATASETS)}")
    return DATASETS[dataset]


def _files(split):
    if split not in FILES:
        raise ValueError(f"unknown split {split!r}: choose 'train', 'test' or (when loading) 'auto'")
    return FILES[split]


def _roots(data_dir) -> list:
    roots = [data_dir, os.environ.get("MINIGAN_DATA") or None, Path.home() / ".cache" / "minigan"]
    return [Path(root).expanduser().absolute() for root in roots if root is not None]


def _locate(dataset, filename, data_dir):
    for folder in search_dirs(dataset, data_dir):
        if (folder / filename).is_file():
            return folder / filename
    return None


def _base_urls(info, base_url) -> list:
    if base_url is None:
        base_url = os.environ.get(info.url_variable) or list(info.mirrors)
    if isinstance(base_url, str):
        base_url = re.split(r"[,\s]+", base_url.strip())  # the variable may list several mirrors
    return [url for url in base_url if url]
