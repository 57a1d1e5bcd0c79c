"""The Optimizer base class: parameter groups, per-parameter state, and saving both."""

from __future__ import annotations

import copy

import numpy as np

from .. import backend
from ..tensor import Tensor


class Optimizer:
    """Holds ``param_groups`` (lists of parameters with their hyper-parameters) and ``state``.

    Subclasses implement ``update(param, grad, state, group)`` on raw arrays; ``step``
    calls it for every parameter that has a gradient.
    """

    def __init__(self, params, defaults: dict):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = defaults
        self.param_groups = []
        self.state = {}  # id(param) -> dict of raw arrays and counters
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict):
        group = dict(group)
        group["params"] = list(group["params"])
        for p in group["params"]:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{type(self).__name__}: every parameter must be a Tensor with requires_grad=True, got {p!r:.60}")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown option(s) {sorted(unknown)}; known: {sorted(self.defaults)}")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check(group)
        self.param_groups.append(group)

    def _check(self, group):
        if group["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {group['lr']} (must be >= 0)")

    def zero_grad(self, set_to_none: bool = True):
        """Forget the gradients before the next backward (they accumulate otherwise)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def step(self):
        from ..autograd import no_grad

        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    self.update(p, p.grad.data, self.state.setdefault(id(p), {}), group)

    def update(self, param, grad, state, group):
        raise NotImplementedError

    # ------------------------------------------------------------ saving and resuming
    def state_dict(self) -> dict:
        """As PyTorch: {'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}; arrays as NumPy."""
        index, groups = {}, []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: copy.deepcopy(v) for k, v in group.items() if k != "params"}, "params": ids})
        state = {}
        for pid, s in self.state.items():
            if pid in index:
                # copies: a saved state must not move on with the optimizer (to_numpy shares on the CPU)
                state[index[pid]] = {k: np.array(backend.to_numpy(v), copy=True) if _is_array(v) else v for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: {len(groups)} parameter groups saved, {len(self.param_groups)} here")
        params = {}
        for saved, group in zip(groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: a saved group has {len(saved['params'])} parameters, "
                    f"the optimizer's has {len(group['params'])}"
                )
            for i, p in zip(saved["params"], group["params"]):
                params[int(i)] = p
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            self.state[id(p)] = {
                k: backend.asarray(np.asarray(v), dtype=p.dtype, device=p.device) if isinstance(v, np.ndarray) else v
                for k, v in s.items()
            }


def _is_array(value):
    return hasattr(value, "shape") and hasattr(value, "dtype")
