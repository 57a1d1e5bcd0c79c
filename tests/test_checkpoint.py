"""Training checkpoints: nested state in one .npz, read back exactly, written atomically.

A checkpoint must give back every array bit for bit and every JSON value as it
was; a damaged file must raise CheckpointError naming the file; and a save that
fails half way must leave the previous checkpoint untouched and no temporary file.
"""

import os

import numpy as np
import pytest

import minigan
from minigan import nn, optim
from minigan.gan.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def nested_state():
    rng = np.random.default_rng(0)
    return {
        "format": "test-1",
        "step": 42,
        "config": {"train": {"lr": 2e-4, "progress": False, "name": "ring", "nothing": None}},
        "model": {"net.0.weight": rng.standard_normal((3, 2)).astype(np.float32), "net.0.bias": np.zeros(3, np.float32)},
        "tensor": minigan.tensor(np.arange(6, dtype=np.float64).reshape(2, 3)),
        "list": [1, 2.5, "x", True, None, np.array([7, 8], dtype=np.int64), {"deep": np.ones((1, 1, 2), np.uint8)}],
        "scalars": {"numpy_float": np.float32(1.5), "numpy_int": np.int64(3)},
        "empty": {},
    }


def test_round_trip_of_nested_dicts_arrays_tensors_and_json_values(tmp_path):
    path = tmp_path / "ckpt.npz"
    state = nested_state()
    save_checkpoint(path, state)
    back = load_checkpoint(path)
    assert back["format"] == "test-1" and back["step"] == 42 and back["empty"] == {}
    assert back["config"] == state["config"]
    for key in ("net.0.weight", "net.0.bias"):
        assert back["model"][key].dtype == state["model"][key].dtype
        np.testing.assert_array_equal(back["model"][key], state["model"][key])
    assert isinstance(back["tensor"], np.ndarray) and back["tensor"].dtype == np.float64
    np.testing.assert_array_equal(back["tensor"], np.arange(6.0).reshape(2, 3))
    assert back["list"][:5] == [1, 2.5, "x", True, None]
    np.testing.assert_array_equal(back["list"][5], [7, 8])
    assert back["list"][5].dtype == np.int64
    assert back["list"][6]["deep"].dtype == np.uint8 and back["list"][6]["deep"].shape == (1, 1, 2)
    assert back["scalars"] == {"numpy_float": 1.5, "numpy_int": 3}
    assert type(back["scalars"]["numpy_int"]) is int


def test_a_checkpoint_is_an_npz_that_numpy_alone_can_open(tmp_path):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, {"model": {"w": np.ones(3)}})
    with np.load(path) as archive:
        assert "meta" in archive.files and "model/w" in archive.files


def test_keys_that_contain_slashes_do_not_collide(tmp_path):
    """'a/b' at the top and 'b' inside 'a' are different entries and must stay different."""
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, {"a/b": np.array([1.0]), "a": {"b": np.array([2.0])}})
    back = load_checkpoint(path)
    np.testing.assert_array_equal(back["a/b"], [1.0])
    np.testing.assert_array_equal(back["a"]["b"], [2.0])


def test_model_and_optimizer_state_round_trip(tmp_path, device):
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(minigan.randn(4, 2)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, {"model": model.state_dict(), "opt": opt.state_dict()})
    back = load_checkpoint(path)
    other = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    other.load_state_dict(back["model"])
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
        assert b.device == device
    fresh = optim.Adam(other.parameters(), lr=0.5)
    fresh.load_state_dict(back["opt"])
    assert fresh.param_groups[0]["lr"] == 0.01
    assert fresh.state[id(next(iter(other.parameters())))]["step"] == 1


# ---------------------------------------------------------------- damaged files

def test_missing_file_raises_checkpoint_error_naming_it(tmp_path):
    path = tmp_path / "missing.npz"
    with pytest.raises(CheckpointError, match="missing.npz"):
        load_checkpoint(path)


def test_a_directory_raises_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match=str(tmp_path.name)):
        load_checkpoint(tmp_path)


def test_truncated_file_raises_checkpoint_error_naming_it(tmp_path):
    path = tmp_path / "step-0000010.npz"
    save_checkpoint(path, {"model": {"w": np.random.default_rng(0).standard_normal(5000)}, "step": 10})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "step-0000010.npz" in str(info.value)


def test_garbage_file_raises_checkpoint_error_naming_it(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(CheckpointError, match="garbage.npz"):
        load_checkpoint(path)


def test_an_npz_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, w=np.ones(3))
    with pytest.raises(CheckpointError, match="weights.npz") as info:
        load_checkpoint(path)
    assert "meta" in str(info.value)


def test_damaged_meta_entry(tmp_path):
    path = tmp_path / "bad-meta.npz"
    np.savez(path, meta=np.frombuffer(b"{not json", dtype=np.uint8))
    with pytest.raises(CheckpointError, match="bad-meta.npz"):
        load_checkpoint(path)


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


# ---------------------------------------------------------------- atomic writes

def test_a_save_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, {"step": 1, "model": {"w": np.ones(100)}})
    old_bytes = path.read_bytes()
    real_savez = np.savez

    def failing_savez(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half an archive")  # some bytes reach the disk, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, {"step": 2, "model": {"w": np.zeros(100)}})
    monkeypatch.setattr(np, "savez", real_savez)
    assert path.read_bytes() == old_bytes
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]
    assert load_checkpoint(path)["step"] == 1


def test_a_save_into_a_missing_directory_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_checkpoint(tmp_path / "nowhere" / "ckpt.npz", {"step": 1})


def test_saving_again_replaces_the_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, {"step": 1})
    save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path)["step"] == 2
    assert os.listdir(tmp_path) == ["ckpt.npz"]
