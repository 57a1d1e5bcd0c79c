"""Weight initialization: fill a Parameter in place with values of a chosen scale.

A layer's starting weights decide whether signals keep their size through a deep
stack: Xavier (Glorot) and Kaiming (He) pick the spread from the fan-in and
fan-out so activations neither vanish nor explode. Every draw comes from
minigan's seeded generator, so ``minigan.manual_seed`` makes a model's init
reproducible. Names and formulas are PyTorch's (``torch.nn.init``).
"""

from __future__ import annotations

import math

from .. import backend

_GAINS = {
    "linear": 1.0, "identity": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0,
    "conv_transpose1d": 1.0, "conv_transpose2d": 1.0, "conv_transpose3d": 1.0,
    "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 3.0 / 4,
}


def calculate_gain(nonlinearity, param=None) -> float:
    """The factor by which a nonlinearity shrinks a signal's standard deviation, to undo in init.

    relu: sqrt(2);  leaky_relu: sqrt(2 / (1 + slope^2)) (slope ``param``, default 0.01);
    tanh: 5/3;  linear, conv and sigmoid: 1;  selu: 3/4.
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain('leaky_relu', param): the negative slope must be a number, got {param!r}")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; choose one of {', '.join(sorted(_GAINS) + ['leaky_relu'])}")
    return _GAINS[nonlinearity]


def _calculate_fan_in_and_fan_out(tensor):
    """fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field (PyTorch's rule).

    For Linear (out, in) and Conv2d (out, in, kh, kw) that is the number of inputs and
    outputs of one unit. For a transposed conv's (in, out, kh, kw) weight PyTorch applies
    the same rule, so its "fan_in" is out * kh * kw; we keep that, so that inits match.
    """
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 dimensions, got shape {tensor.shape}")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' (keep the forward signal's scale) or 'fan_out' (the backward one's), got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _check_float(tensor, name):
    if not tensor.is_floating_point():
        raise TypeError(f"init.{name}: can only fill a floating-point tensor, got dtype {tensor.dtype}")


# ---------------------------------------------------------------- basic fills

def uniform_(tensor, a=0.0, b=1.0):
    """Fill with U(a, b), in place; returns the tensor."""
    _check_float(tensor, "uniform_")
    tensor.data = backend.random_uniform(tensor.shape, a, b, dtype=tensor.dtype, device=tensor.device)
    return tensor


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with N(mean, std^2), in place; returns the tensor."""
    _check_float(tensor, "normal_")
    tensor.data = backend.random_normal(tensor.shape, dtype=tensor.dtype, device=tensor.device) * std + mean
    return tensor


def constant_(tensor, val):
    """Fill with the value ``val``, in place."""
    if tensor.is_floating_point():
        val = float(val)  # the array API standard does not mix an int fill with a float array
    tensor.data = tensor.get_namespace().full_like(tensor.data, val)
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


# ---------------------------------------------------------------- scaled to the fans

def xavier_uniform_(tensor, gain=1.0):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))  (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std  # U(-a, a) has standard deviation a / sqrt(3)
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-b, b) with b = gain * sqrt(3 / fan)  (He et al., 2015); ``a`` is leaky_relu's slope.

    PyTorch's default for Linear and Conv weights is a = sqrt(5), which gives b = 1/sqrt(fan_in).
    """
    if tensor.numel() == 0:
        return tensor  # nothing to fill, and a zero fan would divide by zero
    std = calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    if tensor.numel() == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))
    return normal_(tensor, 0.0, std)


# ---------------------------------------------------------------- DCGAN

def dcgan_weights(module):
    """DCGAN's init for one layer (Radford et al., 2016, and PyTorch's DCGAN tutorial):
    conv, conv-transpose and linear weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0.

    Use as ``model.apply(init.dcgan_weights)``. Biases of conv and linear layers keep
    their default init, as in the tutorial (DCGAN's convolutions have none).
    """
    # Imported here: the layer files import this one for their default init.
    from .batchnorm import _BatchNorm
    from .conv import Conv2d, ConvTranspose2d
    from .linear import Linear

    if isinstance(module, (Conv2d, ConvTranspose2d, Linear)):
        normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, _BatchNorm) and module.affine:
        normal_(module.weight, 1.0, 0.02)
        zeros_(module.bias)


def dcgan_(module):
    """Apply DCGAN's init to every layer of ``module``, in place; returns the module."""
    return module.apply(dcgan_weights)


def default_(weight, bias=None):
    """PyTorch's default init of Linear and conv layers: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    (kaiming_uniform_ with a = sqrt(5) gives that weight bound.) For a transposed-conv
    weight (in, out, kh, kw) PyTorch's fan_in is out * kh * kw; kept, so inits match.
    """
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)
