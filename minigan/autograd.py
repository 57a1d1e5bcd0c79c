"""Reverse-mode automatic differentiation: the Function node and the backward pass.

Calling an op records a ``Function`` node that remembers its inputs; ``backward``
walks those nodes from the output back to the leaves in reverse topological order,
asking each node for the gradients of its inputs. Each node's ``backward`` is
written with Tensor ops, so with ``create_graph=True`` the gradients are
themselves recorded and can be differentiated again (double backprop).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from collections import Counter

from .backend import device_of, ensure_array, owns_memory, synchronize

_state = threading.local()
# The engine makes Tensors, and tensor.py builds on the engine: tensor.py binds these two
# once it has defined them (an import here would be circular, and one inside __call__,
# run for every op, cost 1-2 microseconds each time).
Tensor = as_tensor = None
_profiler = None  # a minigan.profiler.Profile while one is active


def is_grad_enabled() -> bool:
    return getattr(_state, "grad_enabled", True)


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that switches graph recording on or off."""

    enabled = True

    def __enter__(self):
        self.previous = is_grad_enabled()
        _state.grad_enabled = self.enabled

    def __exit__(self, *exc):
        _state.grad_enabled = self.previous
        return False

    def __call__(self, func):
        # A fresh instance per call keeps nested and recursive uses independent.
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with type(self)():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """``with minigan.no_grad():`` or ``@minigan.no_grad()``: ops record no graph."""

    enabled = False


class enable_grad(_GradMode):
    enabled = True


class Function:
    """One differentiable op: ``forward`` on raw arrays, ``backward`` with Tensor ops.

    Subclasses take their non-tensor arguments (axes, shapes) in ``__init__`` and
    keep what ``backward`` needs with ``save_for_backward``; the engine frees it
    after the backward pass unless the graph is retained. ``backward`` receives the
    gradient of the output (a Tensor) and returns one gradient per input (a Tensor,
    or None where ``self.needs_input_grad`` is False).
    """

    def __call__(self, *inputs):
        # (This runs for every op of every step: plain loops, where generators would cost more.)
        tensors = [x if isinstance(x, Tensor) else as_tensor(x, like=_first_tensor(inputs)) for x in inputs]
        arrays = [t.data for t in tensors]
        for a in arrays:
            if type(a) is not type(arrays[0]):  # one array type, one device
                _check_one_device(self, arrays)
        # Known before forward runs, so forward can skip keeping what no backward will need.
        recording = is_grad_enabled()
        self.needs_input_grad = tuple([recording and t.requires_grad for t in tensors])
        if _profiler is None:
            output = Tensor(ensure_array(self.forward(*arrays)))
        else:
            _profiler.enter(type(self).__name__)
            output = Tensor(ensure_array(self.forward(*arrays)))
            _profiler.exit(lambda: synchronize(output.data))
        if any(self.needs_input_grad):
            self.inputs = tensors
            self.output_ref = weakref.ref(output)  # weak: the output owns us, not the reverse
            self.freed = False
            output.requires_grad = True
            output.grad_fn = self
        else:
            self.saved_tensors = ()  # nothing will call backward: keep nothing alive
        return output

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError

    uses_output = False  # set by ops whose backward reads self.output

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors

    def release(self):
        """Drop what backward needed; a second backward through this node is then an error."""
        self.saved_tensors = ()
        self.inputs = ()
        self.freed = True

    @property
    def output(self):
        """The output Tensor, for ops whose backward is best written with it (exp, sqrt)."""
        return self.output_ref()

    def __repr__(self):
        return f"<{type(self).__name__}>"


def _check_one_device(op, arrays):
    devices = {device_of(a) for a in arrays}
    if len(devices) > 1:
        raise RuntimeError(
            f"{type(op).__name__}: inputs are on different devices ({', '.join(sorted(devices))}); "
            "move them to one device first with tensor.to(device)"
        )


def _first_tensor(values):
    return next((v for v in values if isinstance(v, Tensor)), None)


# ---------------------------------------------------------------- the backward pass

def _topological_order(roots):
    """Function nodes reachable from ``roots``, each before the nodes that made its inputs.

    Iterative depth-first search with an explicit stack, so a chain of 100,000 ops
    needs no Python recursion.
    """
    order, visited = [], set()
    stack = [(root, False) for root in roots if root is not None]
    while stack:
        node, expanded = stack.pop()
        if expanded:  # every node that made one of its inputs is already in `order`
            order.append(node)
            continue
        if id(node) in visited:
            continue
        if node.freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time: the saved tensors of {node!r} "
                "were freed by the first backward. Pass retain_graph=True to the first backward "
                "(or minigan.grad) if you need to go through the graph again."
            )
        visited.add(id(node))
        stack.append((node, True))
        for parent in node.inputs:
            if parent.grad_fn is not None and id(parent.grad_fn) not in visited:
                stack.append((parent.grad_fn, False))
    order.reverse()  # post-order reversed: consumers come before producers
    return order


def _run_backward(outputs, grad_outputs, targets, retain_graph, create_graph):
    """Propagate ``grad_outputs`` back from ``outputs``; return {id(tensor): grad} for the targets.

    ``targets`` are the tensors whose gradients are wanted: None means every leaf
    that requires grad (``Tensor.backward``); otherwise any tensors (``grad``), and
    nodes from which no target can be reached are skipped.
    """
    order = _topological_order([t.grad_fn for t in outputs])
    if targets is None:
        target_ids, target_by_fn = None, {}
        needed = {id(node) for node in order}
    else:
        target_ids = {id(t) for t in targets}
        target_by_fn = {id(t.grad_fn): t for t in targets if t.grad_fn is not None}
        needed = set()
        for node in reversed(order):  # producers first, so `needed` is known for every input
            if id(node) in target_by_fn or any(
                id(x) in target_ids or id(x.grad_fn) in needed for x in node.inputs
            ):
                needed.add(id(node))

    def wanted_leaf(x):
        return x.grad_fn is None and x.requires_grad and (target_ids is None or id(x) in target_ids)

    # Ops such as exp read their output in backward; it must outlive the consumers we free.
    alive = [node.output for node in order if node.uses_output]
    node_grads = {}  # id(node) -> gradient of the node's output, summed over its consumers
    found = {}  # id(target) -> (target, gradient)

    def accumulate(store, key, grad):
        store[key] = grad if key not in store else store[key] + grad

    def accumulate_found(x, grad):
        found[id(x)] = (x, grad) if id(x) not in found else (x, found[id(x)][1] + grad)

    for tensor, grad in zip(outputs, grad_outputs):
        if tensor.grad_fn is None:
            if wanted_leaf(tensor):
                accumulate_found(tensor, grad)
        else:
            accumulate(node_grads, id(tensor.grad_fn), grad)

    with enable_grad() if create_graph else no_grad():
        for node in order:
            grad_out = node_grads.pop(id(node), None)
            if grad_out is not None and id(node) in needed:
                if id(node) in target_by_fn:
                    accumulate_found(target_by_fn[id(node)], grad_out)
                if _profiler is None:
                    grads = node.backward(grad_out)
                else:
                    _profiler.enter(f"{type(node).__name__}.backward")
                    grads = node.backward(grad_out)
                    _profiler.exit()
                grads = grads if isinstance(grads, tuple) else (grads,)
                for x, g in zip(node.inputs, grads):
                    if g is None or not x.requires_grad:
                        continue
                    if g.shape != x.shape:
                        raise RuntimeError(
                            f"{node!r}.backward returned a gradient of shape {g.shape} for an input of shape {x.shape}"
                        )
                    if wanted_leaf(x):
                        accumulate_found(x, g)
                    elif x.grad_fn is not None and id(x.grad_fn) in needed:
                        accumulate(node_grads, id(x.grad_fn), g)
                if not retain_graph:
                    node.release()
    del alive
    return found


def _check_roots(outputs, grad_outputs, caller):
    from .tensor import Tensor, ones_like

    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{caller}: output {i} is a {type(out).__name__}, not a Tensor")
        if not out.requires_grad:
            raise RuntimeError(
                f"{caller}: output {i} does not require grad and has no grad_fn: nothing it was computed "
                "from has requires_grad=True (or it was computed under no_grad)."
            )
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(
                    f"{caller}: grad can be implicitly created only for scalar outputs, but output {i} has "
                    f"shape {out.shape}. Pass a gradient of that shape, or reduce the output first (e.g. .sum())."
                )
            g = ones_like(out)
        elif not isinstance(g, Tensor):
            raise TypeError(f"{caller}: the gradient for output {i} must be a Tensor, got {type(g).__name__}")
        if g.shape != out.shape:
            raise RuntimeError(f"{caller}: gradient of shape {g.shape} given for output {i} of shape {out.shape}")
        grads.append(g)
    return grads


def backward(tensor, grad=None, retain_graph=None, create_graph=False):
    """Accumulate d(tensor)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    As in PyTorch, gradients add up across calls: zero them between steps.
    ``retain_graph`` defaults to ``create_graph``.
    """
    from .tensor import Tensor

    (grad,) = _check_roots([tensor], [grad], "backward")
    if retain_graph is None:
        retain_graph = create_graph
    found = _run_backward([tensor], [grad], None, retain_graph, create_graph)
    # A gradient may be a broadcast view, the caller's own array, or shared with another leaf
    # (as in a + b); each leaf gets an array of its own, which optimizers may then update in
    # place. A fresh array no one else holds is handed over as it is (PyTorch's AccumulateGrad
    # does the same): one copy per such gradient and step saved.
    holders = Counter(id(g.data) for _, g in found.values())
    for leaf, g in found.values():
        if leaf.grad is not None:
            leaf.grad = leaf.grad + g
        elif create_graph:
            leaf.grad = g
        elif holders[id(g.data)] == 1 and g.data is not grad.data and owns_memory(g.data):
            leaf.grad = Tensor(g.data)
        else:
            leaf.grad = Tensor(g.get_namespace().asarray(g.data, copy=True))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Return d(outputs)/d(inputs) as a tuple of Tensors without touching ``.grad``.

    ``grad_outputs`` weights each output (needed for non-scalar outputs);
    ``create_graph=True`` records the gradient computation so it can be
    differentiated again, as a gradient penalty needs. ``retain_graph`` defaults
    to ``create_graph``, as in PyTorch.
    """
    from .tensor import Tensor

    single_output = isinstance(outputs, Tensor)
    outputs = [outputs] if single_output else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = _check_roots(outputs, list(grad_outputs), "grad")
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {x.shape}) does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    found = _run_backward(outputs, grad_outputs, inputs, retain_graph, create_graph)
    result = []
    for i, x in enumerate(inputs):
        g = found[id(x)][1] if id(x) in found else None
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {x.shape}) was not used to compute the outputs. "
                "Pass allow_unused=True to get None for it."
            )
        result.append(g)
    return tuple(result)
