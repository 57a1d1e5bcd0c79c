"""minigan: a small, readable deep-learning framework for learning and training GANs.

The flow of the package: backend (NumPy/CuPy) -> tensor and autograd -> ops ->
gradient checks; later layers, losses, optimizers and the trainer build on these.
"""

from .autograd import Function, enable_grad, grad, is_grad_enabled, no_grad
from .backend import get_device, get_rng_state, manual_seed, set_device, set_rng_state
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import (
    abs, amax, amin, broadcast_to, cat, clamp, concatenate, exp, flatten, index_select, log, matmul,
    max, maximum, mean, min, minimum, permute, reshape, sign, sqrt, squeeze, stack, std, sum,
    transpose, unsqueeze, var, where,
)
from .tensor import (
    Tensor, arange, as_tensor, eye, full, full_like, linspace, ones, ones_like, rand, randint,
    randn, randperm, tensor, zeros, zeros_like,
)

from . import data, gan, metrics, nn, optim  # noqa: E402  (they build on everything above)

float32, float64, int64, bool_ = "float32", "float64", "int64", "bool"

__version__ = "0.1.0"
