"""DataLoader: batch shapes, drop_last, one pass over every row per epoch, seeded order, exact resume."""

import json

import numpy as np
import pytest

import minigan
from minigan.data import DataLoader


def rows(n, width=3):
    """Row i holds i in every column, so a batch tells which rows it took."""
    return np.repeat(np.arange(n, dtype=np.float32)[:, None], width, axis=1)


def ids(batch):
    return batch.numpy()[:, 0].astype(int).tolist()


def test_batches_are_tensors_on_the_device_with_the_data_dtype(device):
    images = np.zeros((10, 1, 28, 28), np.float32)
    labels = np.arange(10, dtype=np.int64)
    loader = DataLoader((images, labels), batch_size=4, device=device, seed=0)
    batches = list(loader)
    assert len(loader) == len(batches) == 2
    for x, y in batches:
        assert isinstance(x, minigan.Tensor) and x.device == device and x.shape == (4, 1, 28, 28) and x.dtype == "float32"
        assert y.device == device and y.shape == (4,) and y.dtype == "int64"


def test_the_default_device_is_minigans(device):
    batch = next(iter(DataLoader(rows(8), batch_size=4, seed=0)))
    assert batch.device == device


def test_drop_last_decides_whether_the_short_batch_is_served():
    dropped = DataLoader(rows(10), batch_size=4, drop_last=True, seed=0)
    kept = DataLoader(rows(10), batch_size=4, drop_last=False, seed=0)
    assert len(dropped) == 2 and [b.shape[0] for b in dropped] == [4, 4]
    assert len(kept) == 3 and [b.shape[0] for b in kept] == [4, 4, 2]
    assert len(DataLoader(rows(12), batch_size=4, drop_last=False)) == 3


def test_an_epoch_serves_every_row_exactly_once(device):
    loader = DataLoader(rows(103), batch_size=10, drop_last=False, seed=1, device=device)
    served = [i for batch in loader for i in ids(batch)]
    assert sorted(served) == list(range(103))
    assert served != list(range(103))  # and shuffled
    loader = DataLoader(rows(103), batch_size=10, drop_last=True, seed=1)
    served = [i for batch in loader for i in ids(batch)]
    assert len(served) == len(set(served)) == 100


def test_images_and_labels_stay_paired():
    labels = np.arange(50, dtype=np.int64)
    for x, y in DataLoader((rows(50), labels), batch_size=8, seed=3):
        assert ids(x) == y.numpy().tolist()


def test_shuffle_false_serves_the_rows_in_order():
    loader = DataLoader(rows(9), batch_size=3, shuffle=False)
    assert [ids(b) for b in loader] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert [ids(b) for b in loader] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_the_seed_fixes_the_order_whatever_else_draws_random_numbers():
    first = [ids(b) for b in DataLoader(rows(40), batch_size=8, seed=5)]
    loader = DataLoader(rows(40), batch_size=8, seed=5)
    again = []
    for batch in loader:
        minigan.randn(3)  # other randomness must not move the loader's order
        again.append(ids(batch))
    assert again == first
    assert [ids(b) for b in DataLoader(rows(40), batch_size=8, seed=6)] != first


def test_without_a_seed_manual_seed_fixes_the_order():
    minigan.manual_seed(21)
    first = [ids(b) for b in DataLoader(rows(40), batch_size=8)]
    minigan.manual_seed(21)
    assert [ids(b) for b in DataLoader(rows(40), batch_size=8)] == first


def test_each_epoch_has_a_new_order():
    loader = DataLoader(rows(40), batch_size=40, seed=7)
    epoch0, epoch1 = ids(next(iter(loader))), ids(next(iter(loader)))
    assert sorted(epoch0) == sorted(epoch1) and epoch0 != epoch1
    assert loader.state_dict()["epoch"] == 2


def test_epochs_runs_that_many_epochs_in_one_loop():
    loader = DataLoader(rows(12), batch_size=4, seed=0, epochs=3)
    batches = [ids(b) for b in loader]
    assert len(batches) == 9
    for e in range(3):
        assert sorted(sum(batches[3 * e: 3 * e + 3], [])) == list(range(12))
    assert list(loader) == []  # done; a fresh loader (or load_state_dict) starts again


def test_a_loop_that_stops_early_continues_where_it_stopped():
    loader = DataLoader(rows(20), batch_size=4, seed=8)
    reference = [ids(b) for b in DataLoader(rows(20), batch_size=4, seed=8)]
    seen = []
    for batch in loader:
        seen.append(ids(batch))
        if len(seen) == 2:
            break
    seen += [ids(b) for b in loader]
    assert seen == reference


def test_resuming_from_a_state_dict_gives_the_same_remaining_batches(device):
    data = (rows(30), np.arange(30, dtype=np.int64))
    uninterrupted = [ids(x) for x, _ in DataLoader(data, batch_size=4, seed=9, epochs=3)]
    assert len(uninterrupted) == 21

    first = DataLoader(data, batch_size=4, seed=9, epochs=3)
    stream = iter(first)
    before = [ids(next(stream)[0]) for _ in range(10)]  # 7 batches per epoch: stop inside epoch 1
    state = json.loads(json.dumps(first.state_dict()))  # a checkpoint holds plain numbers
    assert (state["epoch"], state["batch"]) == (1, 3)

    resumed = DataLoader(data, batch_size=4, seed=123, epochs=3, device=device)  # the seed comes from the state
    resumed.load_state_dict(state)
    after = [ids(x) for x, _ in resumed]
    assert before + after == uninterrupted


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="same number of rows.*\\[5, 4\\]"):
        DataLoader((rows(5), np.arange(4)), batch_size=2)
    with pytest.raises(ValueError, match="5 samples make no full batch of 8.*drop_last=False"):
        DataLoader(rows(5), batch_size=8)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(rows(5), batch_size=0)
    loader = DataLoader(rows(12), batch_size=4, seed=0)
    with pytest.raises(ValueError, match="state is for 12 samples in batches of 4.*10 samples"):
        DataLoader(rows(10), batch_size=4).load_state_dict(loader.state_dict())


def test_a_tensor_is_accepted_as_data(device):
    data = minigan.tensor(rows(6), device=device)
    assert sorted(i for b in DataLoader(data, batch_size=3, seed=0) for i in ids(b)) == list(range(6))
