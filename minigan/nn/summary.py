"""summary: a table of a model's layers, their output shapes and parameter counts.

The quickest check that a generator really turns (N, 100) noise into (N, 1, 28, 28)
images, and of where its parameters are. It runs one forward pass on zeros and
records each leaf layer's output with a forward hook.
"""

from __future__ import annotations

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor, zeros
from .module import Module


def _shape_text(output):
    if isinstance(output, Tensor):
        return str(output.shape)
    if isinstance(output, (tuple, list)):
        return ", ".join(_shape_text(o) for o in output)
    return type(output).__name__


def summary(module: Module, input_shape, dtype=None, device=None, print_table=True) -> str:
    """Print (and return) each leaf layer's name, type, output shape and parameter count, then totals.

    ``input_shape`` includes the batch dimension, e.g. (16, 100). The pass runs under
    ``no_grad`` in eval mode (so BatchNorm's running statistics are not touched) and each
    module's mode is restored afterwards. The input is zeros, in the dtype and on the device
    of the model's parameters unless given, so that no random number is drawn.
    """
    first = next(module.parameters(), None)
    dtype = dtype or (first.dtype if first is not None else "float32")
    device = device or (first.device if first is not None else backend.get_device())
    x = zeros(*tuple(input_shape), dtype=dtype, device=device)

    rows = []  # (name, type, output shape, params), in the order the layers ran
    handles = []
    for name, layer in module.named_modules():
        if next(layer.children(), None) is None:  # a leaf: the layers that compute something
            def record(layer, inputs, output, name=name):
                rows.append((name or "-", type(layer).__name__, _shape_text(output), sum(p.numel() for p in layer.parameters())))
            handles.append(layer.register_forward_hook(record))
    modes = [(layer, layer.training) for layer in module.modules()]
    module.eval()
    try:
        with no_grad():
            module(x)
    finally:
        for handle in handles:
            handle.remove()
        for layer, mode in modes:
            layer.training = mode

    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    header = ("Layer", "Type", "Output shape", "Params")
    table = [header] + [(name, kind, shape, f"{count:,}") for name, kind, shape, count in rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]

    def line(row):
        return "  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))

    rule = "-" * len(line(header))
    lines = [f"{type(module).__name__} on input {tuple(input_shape)}", rule, line(header), rule]
    lines += [line(row) for row in table[1:]]
    lines += [
        rule,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
    ]
    text = "\n".join(lines)
    if print_table:
        print(text)
    return text
