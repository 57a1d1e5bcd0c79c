"""Gradient checks: compare autograd's derivatives with central finite differences.

For a function f of tensors, the analytic Jacobian (one backward pass per output
element) must match the numeric one, column j being

    (f(x + eps e_j) - f(x - eps e_j)) / (2 eps),    error O(eps^2 f''') + O(u f / eps)

element by element, within ``atol + rtol * |numeric|``. The second term is the
rounding error (u is the unit roundoff): in float32 (u ~ 6e-8) it swamps any
useful eps, which is why the checks insist on float64 (u ~ 1e-16).
``gradgradcheck`` runs the same check on the map x -> J(x)^T v for a random v,
which is what a gradient penalty differentiates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import backend
from .autograd import enable_grad, grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """A gradient check failed; the message names the input, the element and both values."""


@dataclass
class GradcheckReport:
    """The outcome of a check: the largest errors seen, and the worst element if it failed."""

    passed: bool
    max_abs_error: float
    max_rel_error: float
    message: str = ""
    analytic: list = field(default_factory=list, repr=False)  # one Jacobian per checked input
    numeric: list = field(default_factory=list, repr=False)


def _as_outputs(result):
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: the function must return Tensors, but output {i} is a {type(out).__name__}")
    return outputs


def _flat_host(outputs):
    return np.concatenate([np.asarray(o.numpy(), dtype=np.float64).ravel() for o in outputs]) if outputs else np.zeros(0)


def _check_inputs(inputs, caller):
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(f"{caller}: no input has requires_grad=True, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != "float64":
            raise TypeError(
                f"{caller}: input {i} is {inputs[i].dtype}, but gradient checks need float64. With "
                "float32's unit roundoff of 6e-8, the rounding error of a central difference "
                "(about 6e-8 * |f| / eps) is larger than the errors the check looks for at any useful eps. "
                "Convert with x.double() (and the layer with .double())."
            )
    return inputs, checked


def _analytic_jacobians(fn, inputs, checked):
    """Row k of each Jacobian is the gradient of output element k: one backward pass per row."""
    with enable_grad():
        outputs = _as_outputs(fn(*inputs))
    sizes = [o.numel() for o in outputs]
    total = sum(sizes)
    jacobians = [np.zeros((total, inputs[i].numel())) for i in checked]
    differentiable = [p for p, o in enumerate(outputs) if o.requires_grad]
    row = 0
    for position, (out, size) in enumerate(zip(outputs, sizes)):
        if not out.requires_grad:  # a constant output: its rows stay zero
            row += size
            continue
        for k in range(size):
            seeds = []
            for p in differentiable:  # one-hot on element k of this output, zeros on the others
                host = np.zeros(outputs[p].numel())
                if p == position:
                    host[k] = 1.0
                seeds.append(Tensor(backend.asarray(host.reshape(outputs[p].shape), dtype=outputs[p].dtype, device=outputs[p].device)))
            targets = [inputs[i] for i in checked]
            grads = grad([outputs[p] for p in differentiable], targets, seeds, retain_graph=True, allow_unused=True)
            for jac, g in zip(jacobians, grads):
                if g is not None:
                    jac[row + k] = g.numpy().ravel()
        row += size
    return jacobians, total


def _numeric_jacobians(fn, inputs, checked, eps, rows):
    jacobians = []
    for i in checked:
        x = inputs[i]
        original = x.data
        host = backend.to_numpy(original).astype(np.float64)
        jac = np.zeros((rows, host.size))
        try:
            for j in range(host.size):
                columns = []
                for step in (eps, -eps):
                    moved = host.copy().ravel()
                    moved[j] += step
                    x.data = backend.asarray(moved.reshape(host.shape), dtype="float64", device=x.device)
                    # grad mode stays on: fn may differentiate inside (a gradient penalty does)
                    columns.append(_flat_host(_as_outputs(fn(*inputs))))
                jac[:, j] = (columns[0] - columns[1]) / (2 * eps)
        finally:
            x.data = original
        jacobians.append(jac)
    return jacobians


def _compare(analytic, numeric, inputs, checked, atol, rtol, caller):
    max_abs = max_rel = 0.0
    worst = None  # (violation, input position, row, column)
    for pos, (a, n) in enumerate(zip(analytic, numeric)):
        if a.size == 0:
            continue
        diff = np.abs(a - n)
        max_abs = max(max_abs, float(diff.max()))
        significant = np.abs(n) > atol
        if significant.any():
            max_rel = max(max_rel, float((diff[significant] / np.abs(n[significant])).max()))
        violation = diff - (atol + rtol * np.abs(n))
        r, c = np.unravel_index(np.argmax(violation), violation.shape)
        if violation[r, c] > 0 and (worst is None or violation[r, c] > worst[0]):
            worst = (violation[r, c], pos, r, c)
        if np.isnan(a).any() or np.isnan(n).any():
            worst = (np.inf, pos, *np.unravel_index(np.argmax(np.isnan(a) | np.isnan(n)), a.shape))
    if worst is None:
        return GradcheckReport(True, max_abs, max_rel, "", analytic, numeric)
    _, pos, r, c = worst
    i = checked[pos]
    shape = inputs[i].shape
    element = tuple(int(v) for v in np.unravel_index(c, shape)) if shape else ()
    a_val, n_val = analytic[pos][r, c], numeric[pos][r, c]
    message = (
        f"{caller} failed for input {i} (shape {shape}) at element {element}, output element {r}: "
        f"analytic {a_val:.10g}, numeric {n_val:.10g}, |difference| {abs(a_val - n_val):.3g} > "
        f"atol + rtol * |numeric| = {atol + rtol * abs(n_val):.3g}."
    )
    if analytic[pos].shape[1] <= 64:
        with np.printoptions(precision=6, suppress=True, linewidth=120):
            message += (
                f"\n  input {i}:\n{backend.to_numpy(inputs[i].data).reshape(shape)}"
                f"\n  analytic d(output {r})/d(input {i}):\n{analytic[pos][r].reshape(shape)}"
                f"\n  numeric  d(output {r})/d(input {i}):\n{numeric[pos][r].reshape(shape)}"
            )
    return GradcheckReport(False, max_abs, max_rel, message, analytic, numeric)


def check_gradients(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, caller="gradcheck") -> GradcheckReport:
    """Run the comparison and return a report instead of raising (the CLI prints these)."""
    inputs, checked = _check_inputs(inputs, caller)
    analytic, rows = _analytic_jacobians(fn, inputs, checked)
    numeric = _numeric_jacobians(fn, inputs, checked, eps, rows)
    return _compare(analytic, numeric, inputs, checked, atol, rtol, caller)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """Check autograd's first derivatives of ``fn`` for every input that requires grad.

    ``fn(*inputs)`` returns a Tensor or a tuple of Tensors; inputs that require grad
    must be float64. Returns True, or raises GradcheckError naming the input, the
    element with the worst error, and the analytic and numeric values.
    """
    report = check_gradients(fn, inputs, eps, atol, rtol)
    if not report.passed and raise_exception:
        raise GradcheckError(report.message)
    return report.passed


def first_derivatives(fn, inputs, seed=0):
    """The map (inputs..., v...) -> J(inputs)^T v that gradgradcheck differentiates, and its inputs.

    v (one random float64 tensor per output, requiring grad) is drawn from a private
    generator, so a check never disturbs minigan's own random stream.
    """
    inputs, checked = _check_inputs(inputs, "gradgradcheck")
    with enable_grad():
        outputs = [o for o in _as_outputs(fn(*inputs)) if o.requires_grad]
    # [seed, constant]: a stream that cannot coincide with minigan.manual_seed(seed)'s, or an input
    # drawn right after manual_seed could equal v, and some wrong second derivatives vanish along it.
    rng = np.random.default_rng([seed, 0x5EED])
    vs = [
        Tensor(backend.asarray(rng.standard_normal(o.shape), dtype="float64", device=o.device), requires_grad=True)
        for o in outputs
    ]
    n = len(inputs)

    def vjp(*args):
        xs, v = args[:n], args[n:]
        with enable_grad():
            outs = [o for o in _as_outputs(fn(*xs)) if o.requires_grad]
            grads = grad(outs, [xs[i] for i in checked], list(v), create_graph=True, allow_unused=True)
        return tuple(
            g if g is not None else Tensor(xs[i].get_namespace().zeros_like(xs[i].data))
            for i, g in zip(checked, grads)
        )

    return vjp, tuple(inputs) + tuple(vs)


def check_second_derivatives(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0) -> GradcheckReport:
    vjp, all_inputs = first_derivatives(fn, inputs, seed)
    return check_gradients(vjp, all_inputs, eps, atol, rtol, caller="gradgradcheck")


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True) -> bool:
    """Check second derivatives: the first-order check applied to x, v -> J(x)^T v.

    The gradient computed with ``create_graph=True`` is itself differentiated by
    autograd and compared with central differences of the gradient, element by
    element, for a random projection v of the outputs.
    """
    report = check_second_derivatives(fn, inputs, eps, atol, rtol, seed)
    if not report.passed and raise_exception:
        raise GradcheckError(report.message)
    return report.passed
