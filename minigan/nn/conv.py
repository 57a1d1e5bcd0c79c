"""Conv2d and ConvTranspose2d: the layers of a DCGAN's discriminator and generator.

A strided Conv2d halves an image's height and width (the discriminator's way
down); a ConvTranspose2d with the same arguments doubles them (the generator's
way up), being the adjoint of the convolution. Both hold their weights and call
``F.conv2d`` / ``F.conv_transpose2d``.
"""

from __future__ import annotations


from .. import backend
from ..tensor import Tensor, zeros
from . import functional as F
from . import init
from .module import Module, Parameter


def _pair(value, name, layer, minimum):
    """An int or a pair of ints, as a pair, each at least ``minimum``."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(pair, (tuple, list)) or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
    ):
        raise ValueError(f"{layer}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{layer}: {name} must be at least {minimum}, got {value!r}")
    return tuple(pair)


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: argument checks, parameters, default init, repr."""

    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding,
                 groups, bias, padding_mode, device, dtype):
        super().__init__()
        name = type(self).__name__
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
        label = f"{name}({in_channels}, {out_channels})"
        if groups != 1:
            raise ValueError(f"{label}: groups={groups} is not supported by minigan; only groups=1")
        if padding_mode != "zeros":
            raise ValueError(f"{label}: padding_mode={padding_mode!r} is not supported by minigan; only 'zeros'")
        if isinstance(padding, str):
            raise ValueError(f"{label}: padding={padding!r} is not supported by minigan; give an int or a pair of ints")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size", label, 1)
        self.stride = _pair(stride, "stride", label, 1)
        self.padding = _pair(padding, "padding", label, 0)
        self.dilation = _pair(dilation, "dilation", label, 1)
        self.output_padding = _pair(output_padding, "output_padding", label, 0)
        if any(op >= max(s, d) for op, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(
                f"{label}: output_padding {self.output_padding} must be smaller than stride {self.stride} "
                f"or dilation {self.dilation} in each dimension (it only picks among the output sizes a stride allows)"
            )
        self.groups, self.padding_mode = groups, padding_mode
        dtype = "float32" if dtype is None else backend.dtype_name(dtype)
        # Conv2d: (out, in, kh, kw); ConvTranspose2d: (in, out, kh, kw), PyTorch's layouts.
        channels = (in_channels, out_channels) if self.transposed else (out_channels, in_channels)
        self.weight = Parameter(zeros(*channels, *self.kernel_size, dtype=dtype, device=device))
        self.bias = Parameter(zeros(out_channels, dtype=dtype, device=device)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.default_(self.weight, self.bias)

    def _label(self):
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"

    def _check_input(self, x):
        c = self.in_channels
        if x.ndim != 4:
            single_image = x.ndim == 3 and x.shape[0] == c
            hint = "; for a single image add a batch dimension with x.unsqueeze(0)" if single_image else ""
            raise ValueError(f"{self._label()}: expected a 4-D input (N, {c}, H, W), got shape {x.shape}{hint}")
        if x.shape[1] != c:
            raise ValueError(f"{self._label()}: expected input with {c} channels (N, {c}, H, W), got shape {x.shape}")

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """y[n, o] = b[o] + sum_c W[o, c] (cross-correlated with) x[n, c].

    x (N, in_channels, H, W) -> y (N, out_channels, H_out, W_out),
    H_out = floor((H + 2 padding - dilation (kernel - 1) - 1) / stride) + 1.
    weight (out_channels, in_channels, kh, kw), bias (out_channels,).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        size = tuple(
            F.conv_output_size(x.shape[2 + i], self.kernel_size[i], self.stride[i], self.padding[i], self.dilation[i])
            for i in range(2)
        )
        if min(size) < 1:
            reach = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation))
            raise ValueError(
                f"{self._label()}: input of height and width {x.shape[2:]} padded by {self.padding} is smaller "
                f"than the (dilated) kernel {reach}; got shape {x.shape}"
            )
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


class ConvTranspose2d(_ConvNd):
    """The adjoint of Conv2d: each input pixel adds a weighted copy of the kernel to the output.

    x (N, in_channels, H, W) -> y (N, out_channels, H_out, W_out),
    H_out = (H - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1.
    weight (in_channels, out_channels, kh, kw), bias (out_channels,).
    """

    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        size = tuple(
            F.conv_transpose_output_size(x.shape[2 + i], self.kernel_size[i], self.stride[i], self.padding[i],
                                         self.output_padding[i], self.dilation[i])
            for i in range(2)
        )
        if min(size) < 1:
            raise ValueError(
                f"{self._label()}: an input of shape {x.shape} gives an output of height and width {size}; "
                f"reduce padding {self.padding} or use a larger input"
            )
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.dilation)
