"""Calling a module with other weights: the tool that makes an unrolled optimizer differentiable.

``functional_call(module, {"net.0.weight": w, ...}, x)`` runs ``module(x)`` as if its
parameters were the given Tensors, which may be results of other ops (w - lr * grad):
gradients then flow through them to whatever they were computed from. The
module's own Parameters are put back afterwards, whatever happens.
"""

from __future__ import annotations

from contextlib import contextmanager


def _owner(module, dotted):
    """(the sub-module that holds ``dotted``, the parameter's own name)."""
    *path, leaf = dotted.split(".")
    for name in path:
        if name not in module._modules:
            raise KeyError(f"functional_call: {type(module).__name__} has no sub-module {name!r} (in {dotted!r})")
        module = module._modules[name]
    if leaf not in module._parameters:
        raise KeyError(f"functional_call: {type(module).__name__} has no parameter {leaf!r} (in {dotted!r})")
    return module, leaf


@contextmanager
def swapped_parameters(module, parameters: dict):
    """Within the block, each named parameter of ``module`` reads as the Tensor given for it."""
    saved = []
    try:
        for dotted, tensor in parameters.items():
            owner, leaf = _owner(module, dotted)
            saved.append((owner, leaf, owner._parameters[leaf]))
            owner._parameters[leaf] = tensor
        yield module
    finally:
        for owner, leaf, original in reversed(saved):
            owner._parameters[leaf] = original


def functional_call(module, parameters: dict, *args, **kwargs):
    """module(*args, **kwargs) with ``parameters`` (name -> Tensor) in place of its own (torch.func.functional_call)."""
    with swapped_parameters(module, parameters):
        return module(*args, **kwargs)
