"""MNIST and Fashion-MNIST: the IDX reader on the real files, corrupt files, lookup order, split='auto'.

The real files live in ../shared/data beside the repository; tests that need them
skip when it is absent. No test touches the network: the autouse fixture points
the home cache at tmp_path and the download mirrors at a closed local port.
"""

import gzip
import socket
from pathlib import Path

import numpy as np
import pytest

from minigan.data import (
    ChecksumError, DataNotFoundError, IDXError, find_mnist_files, load_fashion_mnist, load_mnist, read_idx,
    read_idx_images, read_idx_labels, scale_images, search_dirs, write_idx,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason=f"no shared MNIST files at {SHARED}")
needs_fashion = pytest.mark.skipif(not (SHARED / "fashion-mnist").is_dir(), reason=f"no shared Fashion-MNIST files at {SHARED}")
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def offline_home(tmp_path, monkeypatch):
    """An empty home (so a real ~/.cache/minigan is never read) and mirrors that cannot be reached."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    monkeypatch.setenv("MINIGAN_MNIST_URL", closed_port_url())
    monkeypatch.setenv("MINIGAN_FASHION_MNIST_URL", closed_port_url())
    return home


def write_split(folder, names, n, first_label=0):
    """Small valid IDX files: n images whose pixels all equal their label, and the labels."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = (np.arange(n) + first_label) % 10
    write_idx(folder / names[0], np.broadcast_to(labels[:, None, None] * 25, (n, 28, 28)).astype(np.uint8))
    write_idx(folder / names[1], labels.astype(np.uint8))


# ---------------------------------------------------------------- the real files

@needs_shared
def test_real_test_images_match_the_readme():
    pixels = read_idx(SHARED / "mnist" / TEST_FILES[0], expect_magic=2051)
    assert pixels.shape == (10000, 28, 28) and pixels.dtype == np.uint8
    assert pixels.mean() == pytest.approx(33.79, abs=0.005)
    images = read_idx_images(SHARED / "mnist" / TEST_FILES[0])
    assert images.shape == (10000, 1, 28, 28) and images.dtype == np.float32
    assert images.min() == -1.0 and images.max() == 1.0
    assert images.mean() == pytest.approx(33.79 / 127.5 - 1, abs=1e-4)


@needs_shared
@needs_fashion
def test_real_labels_have_the_readme_class_counts():
    test = read_idx_labels(SHARED / "mnist" / TEST_FILES[1])
    assert test.dtype == np.int64 and test.shape == (10000,)
    assert np.bincount(test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    train = read_idx_labels(SHARED / "mnist" / TRAIN_FILES[1])
    assert np.bincount(train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    fashion = read_idx_labels(SHARED / "fashion-mnist" / TEST_FILES[1])
    assert np.bincount(fashion).tolist() == [1000] * 10


@needs_shared
def test_load_mnist_test_split_from_the_shared_folder(monkeypatch):
    images, labels = load_mnist("test", data_dir=SHARED, download=False)  # finds SHARED/mnist/<file>, MD5 checked
    assert images.shape == (10000, 1, 28, 28) and labels.shape == (10000,)
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert find_mnist_files("test", SHARED) == tuple(SHARED / "mnist" / f for f in TEST_FILES)
    assert find_mnist_files("train", SHARED) is None  # the training images are not shared
    monkeypatch.setenv("MINIGAN_DATA", str(SHARED / "mnist"))  # the folder itself works too
    assert find_mnist_files("test") == tuple(SHARED / "mnist" / f for f in TEST_FILES)


@needs_fashion
def test_the_fifty_image_fashion_subset_loads_by_path_without_checksum():
    images = read_idx_images(SHARED / "fashion-mnist" / "t10k-images-first50-idx3-ubyte.gz")
    labels = read_idx_labels(SHARED / "fashion-mnist" / "t10k-labels-first50-idx1-ubyte.gz")
    assert images.shape == (50, 1, 28, 28) and -1 <= images.min() and images.max() <= 1
    assert np.bincount(labels, minlength=10).tolist() == [3, 7, 6, 5, 5, 4, 5, 7, 4, 4]
    assert labels[:3].tolist() == [9, 2, 1]  # ankle boot, pullover, trouser


@needs_shared
def test_a_truncated_copy_of_a_real_file_is_an_error_naming_it(tmp_path):
    raw = (SHARED / "mnist" / TEST_FILES[0]).read_bytes()
    broken = tmp_path / TEST_FILES[0]
    broken.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(IDXError, match=f"{broken}.*gzip.*truncated"):
        read_idx_images(broken)


# ---------------------------------------------------------------- the reader on bad files

def test_write_then_read_round_trips_compressed_or_not(tmp_path):
    pixels = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28).astype(np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a.gz", pixels)), pixels)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a", pixels, compress=False)), pixels)


def test_scale_images_maps_0_to_minus_1_and_255_to_1():
    scaled = scale_images(np.array([[[0, 51, 255]]], dtype=np.uint8))
    assert scaled.shape == (1, 1, 1, 3) and scaled.dtype == np.float32
    np.testing.assert_allclose(scaled.ravel(), [-1.0, 51 / 127.5 - 1, 1.0], rtol=1e-6)


def _gz(path, data):
    path.write_bytes(gzip.compress(data))
    return path


def test_a_cut_gzip_stream_is_an_error_naming_the_file(tmp_path):
    good = write_idx(tmp_path / "good.gz", np.zeros((20, 28, 28), np.uint8) + 7)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(good.read_bytes()[:-12])
    with pytest.raises(IDXError, match=f"{cut}: not a valid gzip stream.*(EOFError|truncated)"):
        read_idx(cut)


def test_corrupt_gzip_data_is_an_error_naming_the_file(tmp_path):
    raw = bytearray(write_idx(tmp_path / "good.gz", np.arange(784 * 3, dtype=np.int64).astype(np.uint8).reshape(3, 28, 28)).read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad = tmp_path / "bad.gz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(IDXError, match=f"{bad}: not a valid gzip stream"):
        read_idx(bad)


def test_a_wrong_magic_number_is_an_error_naming_the_file(tmp_path):
    bad = _gz(tmp_path / "magic.gz", (2052).to_bytes(4, "big") + (1).to_bytes(4, "big") * 4 + b"\x00")
    with pytest.raises(IDXError, match=f"{bad}: magic number 2052"):
        read_idx(bad)
    labels = write_idx(tmp_path / "labels.gz", np.zeros(4, np.uint8))
    with pytest.raises(IDXError, match=f"{labels}: magic number 2049 where images \\(2051\\) were expected"):
        read_idx_images(labels)
    text = _gz(tmp_path / "text.gz", b"<html>404 Not Found</html>")
    with pytest.raises(IDXError, match=f"{text}: magic number"):
        read_idx(text)


def test_a_short_or_long_payload_is_an_error_naming_the_file(tmp_path):
    header = (2051).to_bytes(4, "big") + (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    short = _gz(tmp_path / "short.gz", header + bytes(4 * 784))
    with pytest.raises(IDXError, match=f"{short}: truncated: the header says 5 x 28 x 28 = 3920 bytes.*only 3136"):
        read_idx(short)
    long = _gz(tmp_path / "long.gz", header + bytes(5 * 784 + 3))
    with pytest.raises(IDXError, match=f"{long}: .*3 more follow"):
        read_idx(long)
    stub = _gz(tmp_path / "stub.gz", header[:10])
    with pytest.raises(IDXError, match=f"{stub}: the header"):
        read_idx(stub)


def test_images_and_labels_of_different_lengths_are_an_error(tmp_path):
    write_split(tmp_path, TEST_FILES, 4)
    write_idx(tmp_path / TEST_FILES[1], np.zeros(3, np.uint8))
    with pytest.raises(IDXError, match="4 images but .* 3 labels"):
        load_mnist("test", data_dir=tmp_path, download=False, verify=False)


# ---------------------------------------------------------------- finding the files

def test_lookup_order_is_argument_then_environment_then_home_cache(tmp_path, offline_home, monkeypatch):
    write_split(tmp_path / "arg", TEST_FILES, 3)                 # <dir>/<file>
    write_split(tmp_path / "env" / "mnist", TEST_FILES, 4)       # <dir>/mnist/<file>
    write_split(offline_home / ".cache" / "minigan" / "mnist", TEST_FILES, 5)
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path / "env"))
    assert len(load_mnist("test", data_dir=tmp_path / "arg", download=False, verify=False)[0]) == 3
    assert len(load_mnist("test", download=False, verify=False)[0]) == 4
    monkeypatch.delenv("MINIGAN_DATA")
    assert len(load_mnist("test", download=False, verify=False)[0]) == 5
    assert search_dirs("mnist", tmp_path / "arg")[:2] == [tmp_path / "arg" / "mnist", tmp_path / "arg"]
    assert search_dirs("mnist")[0] == offline_home / ".cache" / "minigan" / "mnist"


def test_the_dataset_subfolder_comes_before_the_folder_itself(tmp_path):
    write_split(tmp_path, TEST_FILES, 3)                       # e.g. MNIST lying flat
    write_split(tmp_path / "fashion-mnist", TEST_FILES, 6)     # and Fashion-MNIST in its subfolder
    assert len(load_fashion_mnist("test", data_dir=tmp_path, download=False, verify=False)[0]) == 6
    assert len(load_mnist("test", data_dir=tmp_path, download=False, verify=False)[0]) == 3


def test_verify_checks_local_files_against_the_published_md5(tmp_path):
    write_split(tmp_path / "mnist", TEST_FILES, 3)
    with pytest.raises(ChecksumError, match=f"{tmp_path / 'mnist' / TEST_FILES[0]}: MD5 .* 9fb629c4189551a2d022fa330f9573f3.*verify=False"):
        load_mnist("test", data_dir=tmp_path, download=False)
    assert len(load_mnist("test", data_dir=tmp_path, download=False, verify=False)[0]) == 3


def test_missing_files_without_download_give_one_message_saying_where_to_put_them(tmp_path, offline_home):
    with pytest.raises(DataNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path / "data", download=False)
    message = str(info.value)
    for expected in (*TRAIN_FILES, str(tmp_path / "data" / "mnist"), str(offline_home / ".cache" / "minigan"),
                     "MINIGAN_DATA", "download=False"):
        assert expected in message, f"{expected!r} missing from:\n{message}"
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        load_mnist("validation")


# ---------------------------------------------------------------- split="auto"

def test_auto_uses_the_training_set_when_it_is_there(tmp_path, recwarn):
    write_split(tmp_path, TRAIN_FILES, 7)
    write_split(tmp_path, TEST_FILES, 3)
    assert len(load_mnist("auto", data_dir=tmp_path, download=False, verify=False)[0]) == 7
    assert not [w for w in recwarn if "test images" in str(w.message)]


def test_auto_falls_back_to_the_test_images_with_a_warning(tmp_path):
    write_split(tmp_path, TEST_FILES, 3)
    write_idx(tmp_path / TRAIN_FILES[1], np.zeros(9, np.uint8))  # like ../shared: training labels, no images
    with pytest.warns(UserWarning, match="MNIST: the training set is not available, so the 10,000 test images are used"):
        images, labels = load_mnist("auto", data_dir=tmp_path, download=False, verify=False)
    assert len(images) == 3
    # With downloads allowed but no mirror reachable, the warning says why.
    with pytest.warns(UserWarning, match=r"(?s)train-images-idx3-ubyte.gz.*download failed.*127\.0\.0\.1"):
        assert len(load_mnist("auto", data_dir=tmp_path, verify=False, timeout=5)[0]) == 3
    assert not (tmp_path / "mnist").exists() or not list((tmp_path / "mnist").iterdir())


@needs_shared
def test_auto_on_the_shared_folder_gives_the_real_test_set():
    with pytest.warns(UserWarning, match="test images"):
        images, labels = load_mnist("auto", data_dir=SHARED, download=False)
    assert images.shape == (10000, 1, 28, 28) and labels.shape == (10000,)
