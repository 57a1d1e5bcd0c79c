"""Spectral normalization (Miyato et al. 2018): divide a layer's weight by its largest singular value.

``spectral_norm(nn.Conv2d(...))`` keeps the layer's raw weight as ``weight_orig`` and,
before every call, sets ``weight = weight_orig / sigma``, sigma estimated by power
iteration. Every layer of a discriminator so wrapped is at most 1-Lipschitz, which
keeps its gradients tame without a gradient penalty. Names, defaults and state-dict
keys (``weight_orig``, ``weight_u``, ``weight_v``) are ``torch.nn.utils.spectral_norm``'s.
"""

from __future__ import annotations

from .. import ops
from ..autograd import no_grad
from ..tensor import randn
from .conv import ConvTranspose2d
from .module import Module, Parameter


def _normalize(x, eps):
    """x / max(||x||, eps), as torch.nn.functional.normalize: eps keeps a zero vector finite."""
    return x / ops.clamp(ops.sqrt(ops.sum(x * x)), min=eps)


def _label(module):
    return f"{type(module).__name__}({module.extra_repr()})"


class SpectralNorm:
    """The forward pre-hook: weight = weight_orig / sigma, sigma = u^T W v, W = weight_orig as a matrix.

    In training mode each call first runs ``n_power_iterations`` steps of
    v <- W^T u / ||W^T u||, u <- W v / ||W v||, outside the graph; in eval mode the
    stored u and v are used as they are. Gradients treat u and v as constants, as in
    the paper: d sigma = u^T dW v, the derivative of the top singular value once u, v converge.
    """

    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def weight_matrix(self, weight):
        """weight as (weight.shape[dim], -1): rows are output units (dim 0 for Linear and Conv2d,
        1 for ConvTranspose2d, whose weight is (in, out, kh, kw))."""
        if self.dim != 0:
            weight = weight.permute(self.dim, *[d for d in range(weight.ndim) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def power_iteration(self, module):
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        with no_grad():
            matrix = self.weight_matrix(getattr(module, self.name + "_orig").detach())
            for _ in range(self.n_power_iterations):
                # New arrays, never written in place: a graph built by an earlier call keeps its own u, v.
                v.data = _normalize(matrix.T @ u, self.eps).data
                u.data = _normalize(matrix @ v, self.eps).data

    def compute_weight(self, module):
        weight = getattr(module, self.name + "_orig")
        # detach(): this call's u and v as constants; a later call replaces the buffers' arrays, not these.
        u, v = getattr(module, self.name + "_u").detach(), getattr(module, self.name + "_v").detach()
        sigma = u @ (self.weight_matrix(weight) @ v)
        return weight / sigma

    def __call__(self, module, inputs):
        if module.training:
            self.power_iteration(module)
        setattr(module, self.name, self.compute_weight(module))


def _find_hook(module, name):
    """The key and SpectralNorm hook of ``module`` for parameter ``name``, or (None, None)."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            return key, hook
    return None, None


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Spectrally normalize ``module.<name>`` in place and return the module.

    W_SN = W / sigma(W), sigma(W) the largest singular value of W reshaped to (W.shape[dim], -1);
    ``dim=None`` means 1 for ConvTranspose2d and 0 for every other layer, as in PyTorch.
    u starts as normalized noise from minigan's seeded generator and v as W^T u normalized
    (PyTorch draws v at random too), so sigma is sensible even before the first training call.
    """
    if not isinstance(module, Module):
        raise TypeError(f"spectral_norm: expected an nn.Module (a layer such as nn.Linear), got {type(module).__name__}")
    if _find_hook(module, name)[1] is not None:
        raise RuntimeError(
            f"spectral_norm: {_label(module)} already has spectral normalization on '{name}'; apply it once "
            f"(call remove_spectral_norm(module, '{name}') first to change its settings)"
        )
    weight = module._parameters.get(name)
    if weight is None:
        state = "is None" if getattr(module, name, 0) is None else "does not exist"  # e.g. bias=False
        names = ", ".join(f"'{n}'" for n, p in module._parameters.items() if p is not None) or "none"
        raise ValueError(
            f"spectral_norm: parameter '{name}' of {_label(module)} {state} (its parameters: {names}); pass name= one of them"
        )
    if isinstance(n_power_iterations, bool) or not isinstance(n_power_iterations, int) or n_power_iterations <= 0:
        raise ValueError(f"spectral_norm: n_power_iterations must be a positive int, got {n_power_iterations!r}")
    if dim is None:
        dim = 1 if isinstance(module, ConvTranspose2d) else 0
    if not -weight.ndim <= dim < weight.ndim:
        raise ValueError(f"spectral_norm: dim={dim} is out of range for '{name}' of {_label(module)}, of shape {weight.shape}")
    hook = SpectralNorm(name, n_power_iterations, dim % weight.ndim, eps)
    with no_grad():
        matrix = hook.weight_matrix(weight.detach())
        u = _normalize(randn(matrix.shape[0], dtype=weight.dtype, device=weight.device), eps)
        v = _normalize(matrix.T @ u, eps)
    delattr(module, name)
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())  # a plain attribute, until the first call replaces it
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``module.<name>`` is a Parameter again, holding weight_orig / sigma
    (sigma from the stored u and v), and ``<name>_orig``, ``<name>_u``, ``<name>_v`` are gone."""
    key, hook = _find_hook(module, name) if isinstance(module, Module) else (None, None)
    if hook is None:
        label = _label(module) if isinstance(module, Module) else type(module).__name__
        raise ValueError(
            f"remove_spectral_norm: spectral_norm was not applied to '{name}' of {label}, so there is nothing to remove"
        )
    with no_grad():
        weight = hook.compute_weight(module)
    requires_grad = getattr(module, name + "_orig").requires_grad
    del module._forward_pre_hooks[key]
    for attribute in (name, name + "_orig", name + "_u", name + "_v"):
        delattr(module, attribute)
    module.register_parameter(name, Parameter(weight, requires_grad=requires_grad))
    return module
