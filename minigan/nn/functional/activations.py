"""Activation functions, each stable for inputs of any size (+-1e4 gives no overflow or NaN).

Smooth ones (sigmoid, tanh, softplus) write their backward with the output or
with another op, so their second derivatives are right; the piecewise-linear ones
(relu, leaky_relu) multiply by a constant slope mask, whose derivative is zero.
"""

from __future__ import annotations

from ...autograd import Function, is_grad_enabled
from ...backend import Fused, get_namespace
from ...tensor import Tensor


def _relu_grad(gy, x):
    return gy * get_namespace(x).astype(x > 0, x.dtype)


def _slope_factor(x, slope):
    # the factor 1 or slope, built in place: two fewer temporaries (0.8 against 1.2 ms at
    # the DCGAN's 64 x 64 x 14 x 14 activations)
    factor = get_namespace(x).astype(x > 0, x.dtype)
    factor *= 1.0 - slope
    factor += slope
    return factor


def _leaky_relu(x, slope):
    xp = get_namespace(x)
    # max(x, slope x) for slope <= 1 (min otherwise): one pass, where `where` takes several
    pick = xp.maximum if slope <= 1 else xp.minimum
    return pick(x, x * slope)


def _leaky_relu_grad(gy, x, slope):
    return gy * _slope_factor(x, slope)


def _sigmoid(x):
    xp = get_namespace(x)
    e = xp.exp(-xp.abs(x))  # in (0, 1]: never overflows, unlike exp(-x) for x = -1e4
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_grad(gy, y):
    return gy * y * (1.0 - y)


def _tanh_grad(gy, y):
    return gy * (1.0 - y * y)


def _softplus(x):
    xp = get_namespace(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def _softplus_grad(gy, x):
    return gy * _sigmoid(x)


# The first-order passes as one kernel each on the GPU (backend.Fused), where the array
# operations beside them take two to ten launches. The double-backprop paths below
# stay Tensor ops, so second derivatives remain in the graph.
_SIGMOID = "T e = exp(-fabs(x)); T s = x >= 0 ? 1 / (1 + e) : e / (1 + e);"
relu_grad_kernel = Fused("relu_grad", "T gy, T x", "T gx", "gx = x > 0 ? gy : (T)0", _relu_grad)
leaky_relu_kernel = Fused("leaky_relu", "T x, T slope", "T y", "y = x > 0 ? x : x * slope", _leaky_relu)
leaky_relu_grad_kernel = Fused(
    "leaky_relu_grad", "T gy, T x, T slope", "T gx", "gx = x > 0 ? gy : gy * slope", _leaky_relu_grad
)
sigmoid_kernel = Fused("sigmoid", "T x", "T y", _SIGMOID + " y = s;", _sigmoid)
sigmoid_grad_kernel = Fused("sigmoid_grad", "T gy, T y", "T gx", "gx = gy * y * (1 - y)", _sigmoid_grad)
tanh_grad_kernel = Fused("tanh_grad", "T gy, T y", "T gx", "gx = gy * (1 - y * y)", _tanh_grad)
softplus_kernel = Fused(
    "softplus", "T x", "T y", "y = (x > 0 ? x : (T)0) + log1p(exp(-fabs(x)))", _softplus
)
softplus_grad_kernel = Fused("softplus_grad", "T gy, T x", "T gx", _SIGMOID + " gx = gy * s;", _softplus_grad)


class ReLU(Function):
    """y = max(x, 0);  dx = gy * [x > 0]"""

    def forward(self, x):
        return get_namespace(x).maximum(x, 0)

    def backward(self, gy):
        (x,) = self.inputs
        if not is_grad_enabled():
            return Tensor(relu_grad_kernel(gy.data, x.data))
        xp = x.get_namespace()
        return gy * Tensor(xp.astype(x.data > 0, x.data.dtype))


class LeakyReLU(Function):
    """y = x if x > 0 else slope * x;  dx = gy * (1 or slope)"""

    def __init__(self, negative_slope):
        self.negative_slope = negative_slope

    def forward(self, x):
        return leaky_relu_kernel(x, self.negative_slope)

    def backward(self, gy):
        (x,) = self.inputs
        if not is_grad_enabled():  # the usual backward: raw arrays, one pass
            return Tensor(leaky_relu_grad_kernel(gy.data, x.data, self.negative_slope))
        # Double backprop (a gradient penalty): gy stays in the graph; the 1-or-slope
        # factor is a constant, so its derivative is zero.
        return gy * Tensor(_slope_factor(x.data, self.negative_slope))


class Sigmoid(Function):
    """y = 1 / (1 + e^-x);  dx = gy * y * (1 - y)"""

    uses_output = True

    def forward(self, x):
        return sigmoid_kernel(x)

    def backward(self, gy):
        y = self.output
        if not is_grad_enabled():
            return Tensor(sigmoid_grad_kernel(gy.data, y.data))
        return gy * y * (1.0 - y)


class Tanh(Function):
    """y = tanh x;  dx = gy * (1 - y^2)"""

    uses_output = True

    def forward(self, x):
        return get_namespace(x).tanh(x)

    def backward(self, gy):
        y = self.output
        if not is_grad_enabled():
            return Tensor(tanh_grad_kernel(gy.data, y.data))
        return gy * (1.0 - y * y)


class Softplus(Function):
    """y = log(1 + e^x) = max(x, 0) + log1p(e^-|x|);  dx = gy * sigmoid(x)"""

    def forward(self, x):
        return softplus_kernel(x)

    def backward(self, gy):
        (x,) = self.inputs
        if not is_grad_enabled():
            return Tensor(softplus_grad_kernel(gy.data, x.data))
        return gy * sigmoid(x)


def relu(x):
    return ReLU()(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU(negative_slope)(x)


def sigmoid(x):
    return Sigmoid()(x)


def tanh(x):
    return Tanh()(x)


def softplus(x):
    return Softplus()(x)


def log_sigmoid(x):
    """log sigmoid(x) = -softplus(-x), stable for large |x|."""
    return -softplus(-x)
