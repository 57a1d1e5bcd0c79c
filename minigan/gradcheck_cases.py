"""The registry of gradient-check cases that ``python -m minigan gradcheck`` runs.

Each case builds a function and float64 inputs on a device; the CLI checks its
first derivatives and, unless the op is piecewise linear at the chosen point in a
way that makes second derivatives trivial, its second derivatives too. Layers
add their own cases with the same ``case`` decorator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import ops
from .tensor import Tensor, tensor


@dataclass
class Case:
    name: str
    config: str
    build: Callable  # build(device) -> (fn, inputs)
    second_order: bool = True


CASES: list[Case] = []


def case(name, config, second_order=True):
    """Register ``build(device) -> (fn, inputs)`` as a gradient-check case."""

    def register(build):
        CASES.append(Case(name, config, build, second_order))
        return build

    return register


def leaf(rng, *shape, device="cpu", low=None, positive=False, away_from=None):
    """A float64 leaf tensor of normal values, optionally positive or kept 0.1 away from given points."""
    values = rng.standard_normal(shape)
    if positive:
        values = np.abs(values) + 0.5
    if away_from is not None:
        for point in away_from:
            close = np.abs(values - point) < 0.1
            values[close] += np.where(values[close] >= point, 0.2, -0.2)
    return tensor(values, dtype="float64", device=device, requires_grad=True)


def _binary(name, op, shapes, positive_b=False):
    for sa, sb in shapes:
        @case(name, f"{sa} with {sb}")
        def build(device, sa=sa, sb=sb):
            rng = np.random.default_rng(0)
            return op, (leaf(rng, *sa, device=device), leaf(rng, *sb, device=device, positive=positive_b))


_BROADCASTS = [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), (1, 4)), ((), (2, 3))]
_binary("add", lambda a, b: a + b, _BROADCASTS)
_binary("sub", lambda a, b: a - b, _BROADCASTS)
_binary("mul", lambda a, b: a * b, _BROADCASTS)
_binary("div", lambda a, b: a / b, _BROADCASTS, positive_b=True)


def _unary(name, op, shape=(3, 4), config="(3, 4)", **leaf_options):
    @case(name, config)
    def build(device):
        rng = np.random.default_rng(1)
        return op, (leaf(rng, *shape, device=device, **leaf_options),)


_unary("neg", lambda a: -a)
_unary("pow", lambda a: a ** 3, config="(3, 4) ** 3")
_unary("pow", lambda a: a ** -1.5, config="(3, 4) ** -1.5, positive base", positive=True)
_unary("exp", ops.exp)
_unary("log", ops.log, positive=True)
_unary("sqrt", ops.sqrt, positive=True)
_unary("abs", ops.abs, away_from=[0.0])
_unary("clamp", lambda a: ops.clamp(a, -0.5, 0.7), config="(3, 4) to [-0.5, 0.7]", away_from=[-0.5, 0.7])
_unary("sum", lambda a: ops.sum(a, 1, keepdim=True), config="dim=1, keepdim")
_unary("sum", lambda a: ops.sum(a, (0, 2)), shape=(2, 3, 4), config="(2, 3, 4) dim=(0, 2)")
_unary("mean", lambda a: ops.mean(a, 0), config="dim=0")
_unary("var", lambda a: ops.var(a, 1), config="dim=1, unbiased")
_unary("var", lambda a: ops.var(a, None, correction=0), config="all, biased")
_unary("std", lambda a: ops.std(a, 0), config="dim=0")
_unary("amax", lambda a: ops.amax(a, 1), config="dim=1")
_unary("amin", lambda a: ops.amin(a, (0, 1)), config="all")
_unary("max", lambda a: ops.max(a, 0).values, config="dim=0 values")
_unary("reshape", lambda a: ops.reshape(a, (2, -1, 3)), config="(3, 4) -> (2, 2, 3)")
_unary("permute", lambda a: ops.permute(a, (2, 0, 1)), shape=(2, 3, 4), config="(2, 0, 1)")
_unary("transpose", lambda a: ops.transpose(a, 0, 1), config="0, 1")
_unary("broadcast_to", lambda a: ops.broadcast_to(a, (2, 3, 4)), shape=(3, 1), config="(3, 1) -> (2, 3, 4)")
_unary("getitem", lambda a: a[1:, ::2], config="[1:, ::2]")
_unary("getitem", lambda a: a[..., None, 2], shape=(2, 3, 4), config="[..., None, 2]")
_unary("getitem", lambda a: a[[2, 0, 2]], config="[[2, 0, 2]] (repeats)")
_unary("index_select", lambda a: ops.index_select(a, 1, [3, 3, 0]), config="dim=1, [3, 3, 0]")


@case("maximum", "(3, 4) with (4,)")
def _maximum(device):
    rng = np.random.default_rng(2)
    a = leaf(rng, 3, 4, device=device)
    b = tensor(rng.standard_normal(4) + 0.35, dtype="float64", device=device, requires_grad=True)
    return ops.maximum, (a, b)


@case("minimum", "(3, 4) with (3, 4)")
def _minimum(device):
    rng = np.random.default_rng(3)
    return ops.minimum, (leaf(rng, 3, 4, device=device), leaf(rng, 3, 4, device=device))


@case("matmul", "(3, 4) @ (4, 5)")
def _matmul(device):
    rng = np.random.default_rng(4)
    return ops.matmul, (leaf(rng, 3, 4, device=device), leaf(rng, 4, 5, device=device))


@case("matmul", "batched (2, 3, 4) @ (4, 2)")
def _bmm(device):
    rng = np.random.default_rng(5)
    return ops.matmul, (leaf(rng, 2, 3, 4, device=device), leaf(rng, 4, 2, device=device))


@case("matmul", "vector (4,) @ (2, 4, 3)")
def _vm(device):
    rng = np.random.default_rng(6)
    return ops.matmul, (leaf(rng, 4, device=device), leaf(rng, 2, 4, 3, device=device))


@case("cat", "dim=1 of (2, 3) and (2, 1)")
def _cat(device):
    rng = np.random.default_rng(7)
    return (lambda a, b: ops.cat([a, b], 1)), (leaf(rng, 2, 3, device=device), leaf(rng, 2, 1, device=device))


@case("stack", "dim=0 of two (2, 3)")
def _stack(device):
    rng = np.random.default_rng(8)
    return (lambda a, b: ops.stack([a, b], 0)), (leaf(rng, 2, 3, device=device), leaf(rng, 2, 3, device=device))


@case("where", "condition a > 0")
def _where(device):
    rng = np.random.default_rng(9)
    a, b = leaf(rng, 3, 4, device=device), leaf(rng, 3, 4, device=device)
    condition = Tensor(a.data > 0)
    return (lambda a, b: ops.where(condition, a * a, b)), (a, b)


def load_all_cases():
    """Import the modules that register layer cases (kept lazy: minigan.nn imports this module)."""
    import importlib

    for module in ("minigan.nn.functional.gradcheck_cases", "minigan.nn.gradcheck_cases"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
    return CASES


def run_cases(device="cpu", only=None, second_order=True):
    """Yield (case, order, report) for every registered case (or those named in ``only``)."""
    from .gradcheck import check_gradients, check_second_derivatives

    for c in load_all_cases():
        if only and c.name not in only:
            continue
        fn, inputs = c.build(device)
        yield c, 1, check_gradients(fn, inputs)
        if second_order and c.second_order:
            fn, inputs = c.build(device)
            yield c, 2, check_second_derivatives(fn, inputs)
