"""save and load: a model's state dict on disk, as a NumPy .npz archive.

An .npz holds one named array per state-dict key ('0.weight', '1.running_mean'),
so a checkpoint can be opened with NumPy alone. ``save`` writes atomically: a
crash or a full disk in the middle of a save leaves the previous checkpoint as it
was, which matters when a long GAN run overwrites the same file every epoch.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from ..io import atomic_write
from .module import Module, _to_host


def _host_arrays(module_or_state_dict):
    state = module_or_state_dict.state_dict() if isinstance(module_or_state_dict, Module) else module_or_state_dict
    if not hasattr(state, "items"):
        raise TypeError(f"minigan.nn.save: expected a Module or a state dict (name -> Tensor), got {type(state).__name__}")
    arrays = OrderedDict()
    for key, value in state.items():
        if not isinstance(key, str):
            raise TypeError(f"minigan.nn.save: state dict keys must be strings, got {key!r}")
        arrays[key] = _to_host(value, key)
        if arrays[key].dtype == object:
            raise TypeError(f"minigan.nn.save: the value for '{key}' is not numeric ({type(value).__name__}); a state dict holds arrays")
    return arrays


def save(module_or_state_dict, path) -> None:
    """Write ``module.state_dict()`` (or a state dict) to ``path`` as .npz, atomically.

    The archive is written to a temporary file in the same directory, flushed to disk
    (fsync) and then renamed over ``path`` (os.replace, atomic on POSIX and Windows),
    so ``path`` always holds either the old checkpoint or the complete new one.
    The file is written at exactly ``path``; '.npz' is not appended.
    """
    arrays = _host_arrays(module_or_state_dict)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"minigan.nn.save: cannot write '{path}': the directory '{directory}' does not exist")
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def load(path) -> OrderedDict:
    """Read a state dict written by ``save``: an OrderedDict name -> NumPy array, in saved order.

    Pass it to ``module.load_state_dict``, which copies each array to the module's device
    and dtype. A missing, truncated or corrupt file raises an error naming the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"minigan.nn.load: no such file '{path}' (check the path, and that the checkpoint was saved)")
    if os.path.isdir(path):
        raise IsADirectoryError(f"minigan.nn.load: '{path}' is a directory, not a checkpoint file")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not a state dict of named arrays")
        with archive:
            # Read every array now, so that a damaged entry fails here, not later in load_state_dict.
            return OrderedDict((key, archive[key]) for key in archive.files)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(
            f"minigan.nn.load: cannot read '{path}' as a minigan checkpoint (.npz): {err}. The file is "
            "truncated or corrupt, or was not written by minigan.nn.save; restore it from a backup or save it again."
        ) from err
