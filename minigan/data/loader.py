"""Batches for training: shuffle a dataset each epoch and hand it out as minigan Tensors on a device.

The data stay on the host as NumPy arrays; each batch is gathered there with one
fancy index and copied to the device once. The order of epoch e is a permutation
drawn from a NumPy Generator seeded with (seed, e), so it depends on nothing but
the seed and the epoch number: a checkpoint needs only (seed, epoch, batch) to
resume with exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor


def seed_from_minigan() -> int:
    """A fresh seed drawn from minigan's generator, so that ``minigan.manual_seed`` fixes it."""
    return int(backend.to_numpy(backend.random_integers(0, 2**31 - 1, (1,)))[0])


class DataLoader:
    """Iterate over ``data`` in batches of ``batch_size`` rows, as Tensors on ``device``.

    data: one array (N, ...) or a tuple of arrays with the same N, e.g. (images,
    labels); a batch is then one Tensor or a tuple of Tensors. shuffle: a new order
    each epoch (seeded by ``seed``, or by minigan's generator if None). drop_last:
    skip the last, smaller batch. epochs: None gives one epoch per ``iter()`` (like
    PyTorch); a number makes one ``for`` loop run until that many epochs are done.
    ``len(loader)`` is the number of batches per epoch.

    The loader remembers where it is: a loop that stops early (or a loader given
    a ``state_dict`` from a checkpoint) continues with the next batch.
    """

    def __init__(self, data, batch_size, shuffle=True, drop_last=True, seed=None, epochs=None, device=None):
        self.single = not isinstance(data, tuple)
        arrays = [data] if self.single else list(data)
        self.arrays = [backend.to_numpy(a.data) if isinstance(a, Tensor) else np.asarray(a) for a in arrays]
        lengths = [len(a) for a in self.arrays]
        if not self.arrays or len(set(lengths)) != 1:
            raise ValueError(f"DataLoader: every array must have the same number of rows, got lengths {lengths}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.num_samples, self.batch_size = lengths[0], int(batch_size)
        self.shuffle, self.drop_last, self.epochs = bool(shuffle), bool(drop_last), epochs
        if len(self) == 0:
            raise ValueError(
                f"DataLoader: {self.num_samples} samples make no full batch of {self.batch_size}; "
                "lower batch_size or pass drop_last=False"
            )
        self.device = None if device is None else backend.check_device(device)
        self.seed = seed_from_minigan() if seed is None else int(seed)
        self.epoch = 0  # the epoch of the next batch
        self.batch = 0  # the index of the next batch within its epoch

    def __len__(self) -> int:
        full, rest = divmod(self.num_samples, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def order(self, epoch) -> np.ndarray:
        """The row indices of one epoch, in the order they are served: int64 (N,)."""
        if not self.shuffle:
            return np.arange(self.num_samples)
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_samples)

    def __iter__(self):
        return self._one_epoch() if self.epochs is None else self._all_epochs()

    def _all_epochs(self):
        while self.epoch < self.epochs:
            yield from self._one_epoch()

    def _one_epoch(self):
        epoch, n = self.epoch, len(self)
        order = self.order(epoch)
        for b in range(self.batch, n):
            # Move the position before handing out the batch, so a state_dict taken
            # now points at the batch after this one.
            self.epoch, self.batch = (epoch, b + 1) if b + 1 < n else (epoch + 1, 0)
            yield self._gather(order[b * self.batch_size:(b + 1) * self.batch_size])

    def _gather(self, indices):
        device = self.device or backend.get_device()
        batch = tuple(Tensor(backend.to_device(a[indices], device)) for a in self.arrays)
        return batch[0] if self.single else batch

    def state_dict(self) -> dict:
        """Where the loader is: the seed, the epoch and the batch within it that come next."""
        return {"seed": self.seed, "epoch": self.epoch, "batch": self.batch,
                "num_samples": self.num_samples, "batch_size": self.batch_size}

    def load_state_dict(self, state) -> None:
        """Continue from a ``state_dict``: the next batch is the one an uninterrupted run would see."""
        saved = (state.get("num_samples", self.num_samples), state.get("batch_size", self.batch_size))
        if saved != (self.num_samples, self.batch_size):
            raise ValueError(
                f"DataLoader.load_state_dict: the state is for {saved[0]} samples in batches of {saved[1]}, "
                f"but this loader has {self.num_samples} samples in batches of {self.batch_size}"
            )
        if not 0 <= state["batch"] < len(self):
            raise ValueError(f"DataLoader.load_state_dict: batch {state['batch']} is outside an epoch of {len(self)} batches")
        self.seed, self.epoch, self.batch = int(state["seed"]), int(state["epoch"]), int(state["batch"])

    def __repr__(self):
        return (f"DataLoader({self.num_samples} samples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, epochs={self.epochs}, epoch={self.epoch}, batch={self.batch})")
