"""The downloader against a local HTTP server on 127.0.0.1: success, checksum mismatch, mirrors, offline.

The server serves small, valid IDX files made here; the MD5 table is patched to
their checksums. Nothing leaves the machine.
"""

import functools
import hashlib
import http.server
import socket
import tempfile
import threading
import time

import numpy as np
import pytest

import minigan.data.mnist as mnist
from minigan.data import (
    ChecksumError, DataNotFoundError, DownloadError, download, load_fashion_mnist, load_mnist, write_idx,
)

TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` ({url path: bytes}); /slow/ waits before answering, /cut/ sends half a body."""

    def __init__(self, *args, files, log, **kwargs):
        self.files, self.log = files, log
        super().__init__(*args, **kwargs)

    def do_GET(self):
        self.log.append(self.path)
        if self.path.startswith("/slow/"):
            time.sleep(1.5)
        body = self.files.get(self.path.replace("/slow/", "/files/").replace("/cut/", "/files/"))
        if body is None:
            self.send_error(404, "File not found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body[: len(body) // 2] if self.path.startswith("/cut/") else body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout test)
            pass

    def log_message(self, *args):  # keep the test output quiet
        pass


class Server:
    def __init__(self):
        self.files, self.log = {}, []
        handler = functools.partial(_Handler, files=self.files, log=self.log)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    running = Server()
    yield running
    running.stop()


def idx_bytes(array, tmp_path, name):
    return write_idx(tmp_path / "made" / name, array).read_bytes()


@pytest.fixture
def served(server, tmp_path, monkeypatch):
    """The MNIST test split (6 images, made here) at <server>/files/, with the MD5 table patched to match."""
    (tmp_path / "made").mkdir()
    rng = np.random.default_rng(0)
    arrays = {TEST_FILES[0]: rng.integers(0, 256, (6, 28, 28)).astype(np.uint8),
              TEST_FILES[1]: np.array([3, 1, 4, 1, 5, 9], np.uint8)}
    for name, array in arrays.items():
        body = idx_bytes(array, tmp_path, name)
        server.files["/files/" + name] = body
        for dataset in ("mnist", "fashion-mnist"):
            monkeypatch.setitem(mnist.MD5[dataset], name, hashlib.md5(body).hexdigest())
    return arrays


@pytest.fixture(autouse=True)
def offline_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("MINIGAN_DATA", "MINIGAN_MNIST_URL", "MINIGAN_FASHION_MNIST_URL"):
        monkeypatch.delenv(name, raising=False)
    return home


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def files_in(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# ---------------------------------------------------------------- download()

def test_download_writes_the_file_and_checks_its_md5(server, served, tmp_path):
    target = tmp_path / "out" / TEST_FILES[1]
    body = server.files["/files/" + TEST_FILES[1]]
    download(server.url + "files/" + TEST_FILES[1], target, md5=hashlib.md5(body).hexdigest(), timeout=5)
    assert target.read_bytes() == body
    assert files_in(tmp_path / "out") == [TEST_FILES[1]]  # no temporary file left behind


def test_a_checksum_mismatch_names_url_and_both_md5s_and_keeps_nothing(server, served, tmp_path):
    url = server.url + "files/" + TEST_FILES[1]
    actual = hashlib.md5(server.files["/files/" + TEST_FILES[1]]).hexdigest()
    with pytest.raises(ChecksumError, match=f"{url}: MD5 {actual}, expected {'0' * 32}"):
        download(url, tmp_path / "out" / TEST_FILES[1], md5="0" * 32, timeout=5)
    assert files_in(tmp_path / "out") == []


def test_a_404_is_a_download_error_naming_the_url(server, tmp_path):
    with pytest.raises(DownloadError, match=f"{server.url}files/nothing.gz: HTTP Error 404"):
        download(server.url + "files/nothing.gz", tmp_path / "out" / "nothing.gz", timeout=5)
    assert files_in(tmp_path / "out") == []


def test_a_cut_off_body_is_an_error_and_keeps_nothing(server, served, tmp_path):
    with pytest.raises(DownloadError, match=f"{server.url}cut/{TEST_FILES[0]}: the connection closed after"):
        download(server.url + "cut/" + TEST_FILES[0], tmp_path / "out" / TEST_FILES[0], timeout=5)
    assert files_in(tmp_path / "out") == []


def test_a_folder_that_cannot_be_written_is_a_download_error(server, served, tmp_path, monkeypatch):
    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied", str(kwargs["dir"]))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(DownloadError, match=f"cannot write the download of .* into {tmp_path / 'out'}: .*Permission denied"):
        download(server.url + "files/" + TEST_FILES[1], tmp_path / "out" / TEST_FILES[1], timeout=5)


def test_an_unreachable_server_leaves_no_folder_behind(tmp_path):
    with pytest.raises(DownloadError):
        download(closed_port_url() + "x.gz", tmp_path / "out" / "x.gz", timeout=5)
    assert not (tmp_path / "out").exists()


def test_a_server_that_does_not_answer_times_out(server, served, tmp_path):
    start = time.monotonic()
    with pytest.raises(DownloadError, match="timed out"):
        download(server.url + "slow/" + TEST_FILES[1], tmp_path / "out" / TEST_FILES[1], timeout=0.2)
    assert time.monotonic() - start < 1.2
    assert files_in(tmp_path / "out") == []


# ---------------------------------------------------------------- load_mnist with downloads

def test_load_mnist_downloads_missing_files_once(server, served, tmp_path):
    images, labels = load_mnist("test", data_dir=tmp_path / "data", base_url=server.url + "files/", timeout=5)
    assert images.shape == (6, 1, 28, 28) and images.dtype == np.float32
    np.testing.assert_allclose(images[:, 0], served[TEST_FILES[0]] / 127.5 - 1, atol=1e-6)
    assert labels.tolist() == [3, 1, 4, 1, 5, 9] and labels.dtype == np.int64
    assert files_in(tmp_path / "data") == sorted(TEST_FILES)
    assert (tmp_path / "data" / "mnist" / TEST_FILES[0]).is_file()
    requests = len(server.log)
    load_mnist("test", data_dir=tmp_path / "data", base_url=server.url + "files/", timeout=5)
    assert len(server.log) == requests  # found on disk (and MD5-verified) the second time


def test_without_a_directory_downloads_go_to_the_home_cache(server, served, offline_home, monkeypatch):
    monkeypatch.setenv("MINIGAN_MNIST_URL", server.url + "files/")
    load_mnist("test", timeout=5)
    assert files_in(offline_home / ".cache" / "minigan" / "mnist") == sorted(TEST_FILES)


def test_fashion_mnist_uses_its_own_variable_and_folder(server, served, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGAN_FASHION_MNIST_URL", server.url + "files/")
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path / "data"))
    images, _ = load_fashion_mnist("test", timeout=5)
    assert len(images) == 6
    assert files_in(tmp_path / "data" / "fashion-mnist") == sorted(TEST_FILES)


def test_a_404_moves_on_to_the_next_mirror(server, served, tmp_path):
    mirrors = [server.url + "gone/", server.url + "files/"]
    images, _ = load_mnist("test", data_dir=tmp_path, base_url=mirrors, timeout=5)
    assert len(images) == 6
    assert server.log[:2] == ["/gone/" + TEST_FILES[0], "/files/" + TEST_FILES[0]]


def test_the_url_variable_may_list_several_mirrors(server, served, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGAN_MNIST_URL", f"{closed_port_url()}, {server.url}files/")
    assert len(load_mnist("test", data_dir=tmp_path, timeout=5)[0]) == 6


def test_a_mismatching_download_fails_with_the_md5s_and_leaves_no_file(server, served, tmp_path, monkeypatch):
    monkeypatch.setitem(mnist.MD5["mnist"], TEST_FILES[0], "f" * 32)
    actual = hashlib.md5(server.files["/files/" + TEST_FILES[0]]).hexdigest()
    with pytest.raises(DataNotFoundError) as info:
        load_mnist("test", data_dir=tmp_path / "data", base_url=server.url + "files/", timeout=5)
    message = str(info.value)
    assert f"{server.url}files/{TEST_FILES[0]}: MD5 {actual}, expected {'f' * 32}" in message
    assert files_in(tmp_path / "data") == []


def test_offline_gives_one_message_listing_files_and_folders(tmp_path, offline_home):
    url = closed_port_url()
    with pytest.raises(DataNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path / "data", base_url=url, timeout=5)
    message = str(info.value)
    for expected in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", str(tmp_path / "data" / "mnist"),
                     str(offline_home / ".cache" / "minigan" / "mnist"), "MINIGAN_DATA", url + "train-images"):
        assert expected in message, f"{expected!r} missing from:\n{message}"
    assert files_in(tmp_path / "data") == []
