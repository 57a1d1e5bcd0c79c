"""Module and Parameter: how a model holds its weights and the layers inside it.

A ``Module`` notices what is assigned to it: a ``Parameter`` becomes one of its
weights, another ``Module`` one of its children, and ``register_buffer`` adds
state that is saved but not trained (BatchNorm's running statistics). From those
three registries come ``parameters()`` (for the optimizer), ``state_dict()`` (for
checkpoints, with PyTorch's key names) and ``train()``/``eval()``.
"""

from __future__ import annotations

import os
from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend
from ..tensor import Tensor, zeros


class Parameter(Tensor):
    """A Tensor that is a weight of a Module: a leaf that requires grad by default.

    Assigning one to a Module attribute registers it, so ``module.parameters()``
    finds it. It shares ``data`` with the tensor or array it is made from.
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = zeros(0)  # an empty float32 placeholder, as torch.nn.Parameter() gives
        if isinstance(data, Tensor):
            data = data.data  # only the values: a Parameter is always a leaf
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class RemovableHandle:
    """Returned by ``register_forward_hook`` and ``register_forward_pre_hook``; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks):
        self.hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self.hooks.pop(self.id, None)


# What load_state_dict reports when strict=False, as in PyTorch.
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """The base class of every layer and model: subclass it, assign layers in ``__init__``,
    and compute the output in ``forward``.

        class Generator(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(100, 784)
                self.out = nn.Tanh()

            def forward(self, z):
                return self.out(self.fc(z))
    """

    def __init__(self):
        # object.__setattr__ because our own __setattr__ routes through these dictionaries.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())

    # ------------------------------------------------------------ running it
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'{type(self).__name__} is missing the required "forward" method: define forward(self, x)')

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:  # as in PyTorch, a pre-hook may replace the inputs
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:  # as in PyTorch, a hook may replace the output
                output = result
        return output

    def register_forward_pre_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before every forward; it may return new inputs (a tuple, or one value).

        ``spectral_norm`` uses one to recompute the normalized weight before each call.
        """
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward (``summary`` uses this)."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__ and isinstance(value, (Parameter, Module)):
            raise AttributeError(
                f"cannot assign {type(value).__name__} '{name}' before Module.__init__() has run: "
                f"call super().__init__() first in {type(self).__name__}.__init__"
            )
        params, buffers, modules = self.__dict__.get("_parameters"), self.__dict__.get("_buffers"), self.__dict__.get("_modules")
        if isinstance(value, Parameter):
            self._forget(name, params)
            params[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} as parameter '{name}' of {type(self).__name__}: "
                    "assign an nn.Parameter (or None), or change the existing parameter's values through its .data"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._forget(name, modules)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as child module '{name}' (a Module or None expected)")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} as buffer '{name}' (a Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep):
        """Remove ``name`` from the plain attributes and from every registry but ``keep``, where
        overwriting it in place keeps its position (and so the order of the state dict)."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name):
        # Only called when normal lookup fails; reads __dict__ directly so that a half-built
        # object (copy.deepcopy, pickle) cannot recurse here.
        for registry in ("_parameters", "_buffers", "_modules"):
            found = self.__dict__.get(registry)
            if found is not None and name in found:
                return found[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def _check_new_name(self, name, kind):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{kind} name {name!r} is not allowed: it must be non-empty and contain no '.' (dots join nested names)")
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot register {kind} '{name}' before Module.__init__() has run: call super().__init__() first")

    def register_buffer(self, name, tensor, persistent=True):
        """Add state that is not a weight (running statistics): moved by ``to()``, saved in
        ``state_dict()`` unless ``persistent=False``, but never returned by ``parameters()``."""
        self._check_new_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer('{name}'): expected a Tensor or None, got {type(tensor).__name__}")
        self._forget(name, self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def register_parameter(self, name, param):
        self._check_new_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter('{name}'): expected an nn.Parameter or None, got {type(param).__name__}")
        self._forget(name, self._parameters)
        self._parameters[name] = param

    def add_module(self, name, module):
        self._check_new_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module('{name}'): expected a Module or None, got {type(module).__name__}")
        self._forget(name, self._modules)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------ walking the tree
    def named_modules(self, memo=None, prefix=""):
        """(name, module) for this module and every module inside it, each once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry, prefix, recurse):
        seen = set()  # a weight shared by two layers is yielded once, as in PyTorch
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        """(name, Parameter) pairs, names joined by dots as in ``state_dict`` ('0.weight')."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn):
        """Call ``fn(module)`` on every child (recursively), then on this module, as PyTorch does."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ modes and gradients
    def train(self, mode=True):
        """Training mode (BatchNorm uses batch statistics, Dropout drops) for this module and all inside it."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be True or False, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: BatchNorm uses its running statistics and Dropout passes inputs through."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Switch gradient tracking of every parameter (e.g. freeze the discriminator)."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Forget the gradients of the last backward: None by default, as in PyTorch 2."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad = Tensor(param.grad.get_namespace().zeros_like(param.grad.data))

    # ------------------------------------------------------------ devices and dtypes
    def _apply_to_tensors(self, convert):
        """Replace the array of every parameter, buffer and gradient by ``convert(array)``.

        The Tensor objects stay the same (only their ``.data`` changes), so an optimizer
        built before ``to()`` still holds this model's parameters.
        """
        seen = set()
        for module in self.modules():
            for registry in (module._parameters, module._buffers):
                for t in registry.values():
                    if t is None or id(t) in seen:
                        continue
                    seen.add(id(t))
                    t.data = convert(t.data)
                    if t.grad is not None:
                        t.grad = Tensor(convert(t.grad.data))
        return self

    def to(self, device=None, dtype=None):
        """Move parameters and buffers to a device and/or cast the floating-point ones to a dtype, in place.

        ``model.to("cuda")``, ``model.to("float64")``, ``model.to(device, dtype)``; returns the model.
        """
        if isinstance(device, str) and backend.dtype_name(device) in backend.FLOAT_DTYPES + ("int64", "bool"):
            device, dtype = None, device
        elif device is not None and not isinstance(device, str):
            device, dtype = None, device  # a dtype object such as np.float64
        if dtype is not None:
            dtype = backend.dtype_name(dtype)
            if dtype not in backend.FLOAT_DTYPES:
                raise TypeError(f"Module.to only accepts floating-point dtypes ({', '.join(backend.FLOAT_DTYPES)}), got {dtype}")

            def cast(array):
                if backend.dtype_name(array.dtype) not in backend.FLOAT_DTYPES:
                    return array  # counters such as num_batches_tracked stay int64, as in PyTorch
                xp = backend.get_namespace(array)
                return xp.astype(array, backend.dtype_of(dtype, xp))

            self._apply_to_tensors(cast)
        if device is not None:
            device = backend.check_device(device)
            self._apply_to_tensors(lambda array: backend.to_device(array, device))
        return self

    def double(self):
        return self.to(dtype="float64")

    def float(self):
        return self.to(dtype="float32")

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    # ------------------------------------------------------------ checkpoints
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An OrderedDict name -> Tensor of every parameter and persistent buffer, with PyTorch's
        keys: 'weight', 'running_mean', ..., nested names joined by dots ('0.weight', 'main.3.bias')."""
        destination = OrderedDict() if destination is None else destination
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = buffer if keep_vars else buffer.detach()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (Tensors or arrays) from ``state_dict`` into this module's parameters and buffers.

        Each value is copied to the device and dtype of the tensor it replaces, which keeps
        its identity. With ``strict=True`` the keys must match exactly; shapes must match
        either way. Nothing is copied unless every check passes. Returns
        ``(missing_keys, unexpected_keys)``.
        """
        if isinstance(state_dict, (str, os.PathLike)):
            raise TypeError(f"load_state_dict expects a state dict, not a path: use model.load_state_dict(nn.load({str(state_dict)!r}))")
        if not hasattr(state_dict, "keys") or isinstance(state_dict, Module):
            raise TypeError(
                f"load_state_dict expects a dict name -> Tensor or array (another model's .state_dict(), or "
                f"nn.load(path)), got {type(state_dict).__name__}"
            )
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        values, mismatched = {}, []
        for key, target in own.items():
            if key not in state_dict:
                continue
            values[key] = _to_host(state_dict[key], key)
            if tuple(values[key].shape) != target.shape:
                mismatched.append(f"'{key}': the model expects shape {target.shape}, the state dict has {tuple(values[key].shape)}")
        problems = []
        if strict and missing:
            problems.append("missing keys (in the model, not in the state dict): " + ", ".join(f"'{k}'" for k in missing))
        if strict and unexpected:
            problems.append("unexpected keys (in the state dict, not in the model): " + ", ".join(f"'{k}'" for k in unexpected))
        if mismatched:
            problems.append("shape mismatches: " + "; ".join(mismatched))
        if problems:
            hint = "Pass strict=False to load only the keys both have (shapes must match either way)." if strict and (missing or unexpected) else ""
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n  " + "\n  ".join(problems) + ("\n" + hint if hint else "")
            )
        for key, host in values.items():
            target = own[key]
            # np.array(copy=True): the module must never share memory with the caller's arrays.
            host = np.array(host, dtype=target.dtype, copy=True)
            target.data = backend.asarray(host, dtype=target.dtype, device=target.device)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The arguments shown inside this module's repr, e.g. 'in_features=100, out_features=784, bias=True'."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _indent(repr(child), 2) for name, child in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"


def _indent(text, spaces):
    """Indent every line but the first, so a child's repr nests under its '(name): '."""
    lines = text.split("\n")
    return "\n".join(lines[:1] + [" " * spaces + line for line in lines[1:]])


def _to_host(value, key):
    """A state-dict value (minigan Tensor, NumPy/CuPy/strict array, or anything NumPy can read) as a NumPy array."""
    if isinstance(value, Tensor):
        return value.numpy()
    try:
        return backend.to_numpy(value)
    except TypeError:
        pass
    try:
        return np.asarray(value)  # e.g. a torch tensor from torch_model.state_dict()
    except Exception as err:
        raise TypeError(f"state dict: the value for '{key}' is a {type(value).__name__}, which is not a Tensor or an array") from err
