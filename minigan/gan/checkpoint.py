"""Checkpoints: everything a run needs to continue exactly, in one atomically written .npz.

The generator, the discriminator, the EMA copy, both optimizers, the random
generator's state, the data loader's position, the step and the config. Arrays
are stored under slash-separated names ('generator/net.0.weight',
'opt_d/state/3/exp_avg'); everything else is one JSON document stored as bytes
under 'meta', where each array appears as {"__array__": its name}.
"""

from __future__ import annotations

import json

import numpy as np

from .. import backend
from ..nn import load, save
from ..tensor import Tensor


class CheckpointError(ValueError):
    """A checkpoint file that is missing, unreadable or not a minigan training checkpoint."""


def _split(value, name, arrays):
    """Replace every array inside ``value`` by a reference, collecting the arrays by name."""
    if isinstance(value, dict):
        return {str(k): _split(v, f"{name}/{k}", arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split(v, f"{name}/{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, Tensor):
        value = value.numpy()
    elif hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, np.generic):
        value = backend.to_numpy(value)
    if isinstance(value, np.ndarray):
        if name in arrays:  # a key with '/' in it ('a/b') met a nested one (a -> b): keep both
            name = f"{name}~{len(arrays)}"
        arrays[name] = value
        return {"__array__": name}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _join(value, arrays):
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        return {k: _join(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, arrays) for v in value]
    return value


def save_checkpoint(path, state: dict) -> None:
    """Write ``state`` (nested dicts of arrays, Tensors and JSON values) to ``path`` atomically."""
    arrays = {}
    meta = {key: _split(value, key, arrays) for key, value in state.items()}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    save(arrays, path)


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by ``save_checkpoint``; errors name the file and say what is wrong."""
    try:
        arrays = load(path)
    except (FileNotFoundError, IsADirectoryError) as err:
        raise CheckpointError(str(err).replace("minigan.nn.load: ", "")) from None
    except ValueError as err:
        raise CheckpointError(str(err).replace("minigan.nn.load: ", "")) from None
    if "meta" not in arrays:
        raise CheckpointError(f"'{path}' is an .npz file but not a minigan training checkpoint (it has no 'meta' entry)")
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"'{path}': its 'meta' entry is damaged ({err})") from None
    return _join(meta, arrays)
