"""Hypothesis strategies shared by the engine tests: shapes, axes and float64 values.

Each strategy draws something valid for the op under test, so a test states one
property in a few lines. Values can be kept away from the points where an op is
not differentiable (abs at 0, clamp at its bounds, ties of max), since a central
difference that straddles a kink measures neither one-sided derivative.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigan

# Central differences step by 1e-6; a margin of 0.05 keeps both steps on one side of a kink.
MARGIN = 0.05


# ---------------------------------------------------------------- shapes

@st.composite
def shapes(draw, min_dims=0, max_dims=4, min_side=1, max_side=4, max_numel=None):
    """A shape of ``min_dims``..``max_dims`` sides of ``min_side``..``max_side``, at most ``max_numel`` elements.

    The element bound keeps gradient checks (one backward pass per output element) fast.
    """
    ndim = draw(st.integers(min_dims, max_dims))
    shape, budget = [], max_numel or math.inf
    for remaining in range(ndim, 0, -1):
        # Leave at least min_side for every side still to draw.
        high = max_side if max_numel is None else min(max_side, int(budget // min_side ** (remaining - 1)))
        side = draw(st.integers(min_side, max(min_side, high)))
        shape.append(side)
        budget /= side
    return tuple(shape)


@st.composite
def broadcastable_shapes(draw, min_dims=0, max_dims=4, max_side=4, max_numel=None):
    """Two shapes that broadcast together under NumPy's rules (leading dims dropped, sides set to 1)."""
    result = draw(shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side, max_numel=max_numel))

    def one():
        drop = draw(st.integers(0, len(result)))
        kept = result[drop:]
        return tuple(1 if draw(st.booleans()) else side for side in kept)

    return one(), one()


@st.composite
def matmul_shapes(draw):
    """Shapes (a, b) that ``a @ b`` accepts: 2-D, batched with broadcast batch dims, or 1-D operands."""
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["matrices", "batched", "vector @ matrix", "matrix @ vector", "vector @ vector",
                                 "vector @ batch", "batch @ vector"]))
    if kind == "batched":
        batch_a, batch_b = draw(broadcastable_shapes(min_dims=1, max_dims=2, max_side=2))
        return batch_a + (n, k), batch_b + (k, m)
    batch = (draw(st.integers(1, 2)),)
    return {
        "matrices": ((n, k), (k, m)),
        "vector @ matrix": ((k,), (k, m)),
        "matrix @ vector": ((n, k), (k,)),
        "vector @ vector": ((k,), (k,)),
        "vector @ batch": ((k,), batch + (k, m)),
        "batch @ vector": (batch + (n, k), (k,)),
    }[kind]


# ---------------------------------------------------------------- axes

@st.composite
def dims(draw, ndim, allow_none=True, allow_tuple=True):
    """A valid ``dim`` for a tensor of ``ndim`` dimensions: None, an int or a tuple, possibly negative."""
    options = ["int"] + (["none"] if allow_none else []) + (["tuple"] if allow_tuple else [])
    kind = draw(st.sampled_from(options))
    if kind == "none":
        return None
    if ndim == 0:
        return draw(st.sampled_from([0, -1])) if kind == "int" else ()
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(d - ndim if draw(st.booleans()) else d for d in chosen)


def one_dim(ndim):
    """One axis of a tensor with ``ndim >= 1`` dimensions, possibly negative."""
    return st.integers(-ndim, ndim - 1)


def normalize(dim, ndim):
    """``dim`` as a sorted tuple of non-negative axes, None meaning all (for NumPy references)."""
    if dim is None:
        return tuple(range(ndim))
    dims_ = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(sorted(d % ndim for d in dims_)) if ndim else ()


# ---------------------------------------------------------------- values

def floats(low=-2.0, high=2.0):
    return st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)


def arrays(shape, low=-2.0, high=2.0, away_from=(), margin=MARGIN):
    """A float64 array of ``shape`` with values in [low, high], each at least ``margin`` from ``away_from``."""
    elements = floats(low, high)
    if away_from:
        elements = elements.filter(lambda v: all(abs(v - p) >= margin for p in away_from))
    return hnp.arrays(np.float64, shape, elements=elements)


def positive_arrays(shape, low=0.5, high=3.0):
    """Positive values, for log, sqrt, fractional powers and denominators."""
    return arrays(shape, low, high)


@st.composite
def distinct_arrays(draw, shape, spacing=0.25):
    """A shuffled ladder of values 3/4 ``spacing`` apart or more: no max or min ties, and std > 0."""
    n = math.prod(shape)
    order = draw(st.permutations(range(n)))
    jitter = draw(hnp.arrays(np.float64, (n,), elements=floats(0.0, spacing / 4)))
    values = (np.asarray(order, dtype=np.float64) - n / 2) * spacing + jitter
    return values.reshape(shape)


@st.composite
def separated_pair(draw, shape_a, shape_b):
    """Two arrays whose elements differ by at least 0.1 wherever they meet after broadcasting.

    a lies on the grid 0.25 * k and b on the grid shifted by 0.125, each with jitter below
    0.02, so no pair ties (maximum, minimum) while either may be the larger.
    """
    def on_grid(shape, offset):
        steps = draw(hnp.arrays(np.int64, shape, elements=st.integers(-8, 8)))
        jitter = draw(hnp.arrays(np.float64, shape, elements=floats(0.0, 0.02)))
        return steps * 0.25 + offset + jitter

    return on_grid(shape_a, 0.0), on_grid(shape_b, 0.125)


# ---------------------------------------------------------------- tensors

def leaf(values, requires_grad=True):
    """A float64 leaf tensor on the default device (cpu or strict, as the suite runs)."""
    return minigan.tensor(np.asarray(values, dtype=np.float64), dtype="float64", requires_grad=requires_grad)


# ---------------------------------------------------------------- random composite expressions

# Smooth ops written with the library's own functions (minigan or torch, passed as `lib`), so the
# same drawn expression can be evaluated by both. Each keeps bounded inputs bounded.
UNARY = {
    "tanh": lambda lib, a: (1.0 - lib.exp(-2.0 * a)) / (1.0 + lib.exp(-2.0 * a)),
    "sigmoid": lambda lib, a: 1.0 / (1.0 + lib.exp(-a)),
    "softplus": lambda lib, a: lib.log(1.0 + lib.exp(a)),
    "log1p_square": lambda lib, a: lib.log(1.0 + a * a),
    "sqrt1p_square": lambda lib, a: lib.sqrt(1.0 + a * a),
    "rational": lambda lib, a: a / (1.0 + a * a),
    "affine": lambda lib, a: 0.5 * a - 0.25,
    "square": lambda lib, a: a ** 2,
    "neg": lambda lib, a: -a,
    "centre": lambda lib, a: a - a.mean(-1, keepdim=True),
}
BINARY = {
    "add": lambda lib, a, b: a + b,
    "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / (1.0 + b * b),
    "scaled_sum": lambda lib, a, b: 2.0 * a + b * 0.5,
}


@st.composite
def expressions(draw, n_inputs=2, min_ops=3, max_ops=6):
    """A random composite: a list of steps ('unary', name, i) or ('binary', name, i, j).

    Step k appends a new value computed from earlier values (the inputs are values 0..n-1);
    the expression's result is the last value.
    """
    steps = []
    for k in range(draw(st.integers(min_ops, max_ops))):
        available = n_inputs + k
        # Favour the latest value so the ops compose rather than sit side by side.
        latest = st.just(available - 1)
        if draw(st.booleans()):
            steps.append(("unary", draw(st.sampled_from(sorted(UNARY))), draw(st.one_of(latest, st.integers(0, available - 1)))))
        else:
            i = draw(st.one_of(latest, st.integers(0, available - 1)))
            j = draw(st.integers(0, available - 1))
            steps.append(("binary", draw(st.sampled_from(sorted(BINARY))), i, j))
    return steps


def evaluate(steps, lib, *inputs, every_value=False):
    """Run the steps of ``expressions`` with ``lib`` (minigan or torch) on the inputs.

    Returns the result, or with ``every_value`` the inputs and every intermediate, so a test
    can skip compositions whose values grow past what a central difference resolves.
    """
    values = list(inputs)
    for step in steps:
        if step[0] == "unary":
            values.append(UNARY[step[1]](lib, values[step[2]]))
        else:
            values.append(BINARY[step[1]](lib, values[step[2]], values[step[3]]))
    return values if every_value else values[-1]


def well_scaled(values, bound=50.0):
    """True when every value is finite and at most ``bound`` in size (squares of squares grow fast)."""
    return all(bool(np.all(np.abs(np.asarray(v)) <= bound)) for v in values)
