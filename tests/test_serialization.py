"""minigan.nn.save / load: .npz round trips, atomic writes, and errors that name the file."""

import os
from collections import OrderedDict

import numpy as np
import pytest

import minigan
from minigan import nn


def model():
    return nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1, bias=False), nn.BatchNorm2d(4), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(16, 1))


def test_round_trip_keeps_keys_order_dtypes_and_values(tmp_path):
    source = model()
    source(minigan.randn(3, 1, 4, 4))  # move the running statistics off their initial values
    path = tmp_path / "d.npz"
    assert nn.save(source, path) is None
    state = nn.load(path)
    assert isinstance(state, OrderedDict) and list(state) == list(source.state_dict())
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert state["1.num_batches_tracked"].dtype == np.int64 and state["1.num_batches_tracked"].shape == ()
    assert state["0.weight"].dtype == np.float32
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(state[key], value.numpy(), err_msg=key)

    target = model()
    target.load_state_dict(state)
    source.eval(), target.eval()
    x = minigan.randn(2, 1, 4, 4)
    np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())


def test_save_accepts_a_state_dict_and_writes_exactly_the_given_path(tmp_path):
    path = tmp_path / "weights.ckpt"
    nn.save(OrderedDict([("a", minigan.ones(2)), ("b", np.arange(3))]), str(path))
    assert os.listdir(tmp_path) == ["weights.ckpt"]
    state = nn.load(str(path))
    assert list(state) == ["a", "b"] and state["b"].tolist() == [0, 1, 2]


def test_save_overwrites_an_older_checkpoint(tmp_path):
    path = tmp_path / "g.npz"
    nn.save({"w": minigan.zeros(2)}, path)
    nn.save({"w": minigan.ones(3)}, path)
    assert nn.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
    assert os.listdir(tmp_path) == ["g.npz"]


def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "g.npz"
    nn.save(model(), path)
    before = path.read_bytes()

    def half_written(file, **arrays):
        file.write(b"PK\x03\x04 a partial archive")  # some bytes reach the disk, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", half_written)
    with pytest.raises(OSError, match="No space left"):
        nn.save(model(), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["g.npz"]  # no temporary file left behind
    monkeypatch.undo()
    nn.load(path)


def test_saving_into_a_missing_directory_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nn.save(model(), tmp_path / "no" / "such" / "g.npz")


def test_loading_a_missing_file_names_it(tmp_path):
    path = tmp_path / "missing.npz"
    with pytest.raises(FileNotFoundError, match="no such file '.*missing.npz'"):
        nn.load(path)


def test_a_truncated_file_is_an_error_that_names_it(tmp_path):
    path = tmp_path / "cut.npz"
    nn.save(model(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cannot read '.*cut.npz' as a minigan checkpoint .*truncated or corrupt"):
        nn.load(path)


def test_a_corrupted_file_is_an_error_that_names_it(tmp_path):
    path = tmp_path / "flipped.npz"
    nn.save({"w": minigan.zeros(1000)}, path)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2  # inside the array's bytes: the zip's CRC no longer matches
    data[middle:middle + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"cannot read '.*flipped.npz'.*truncated or corrupt"):
        nn.load(path)


@pytest.mark.parametrize("content", [b"this is not a checkpoint", b""])
def test_a_file_that_is_not_an_archive_is_an_error_that_names_it(tmp_path, content):
    path = tmp_path / "notes.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="cannot read '.*notes.npz'"):
        nn.load(path)


def test_a_single_array_file_is_not_a_state_dict(tmp_path):
    path = tmp_path / "one.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match="'.*one.npy'.*a single array, not a state dict"):
        nn.load(path)


def test_save_rejects_what_is_not_a_state_dict(tmp_path):
    with pytest.raises(TypeError, match="expected a Module or a state dict"):
        nn.save([1, 2, 3], tmp_path / "x.npz")
