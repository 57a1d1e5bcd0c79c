"""``minigan.nn.functional`` (import it as F): the differentiable layer ops, stateless.

Each takes its weights as arguments, like ``torch.nn.functional``; the layers in
``minigan.nn`` hold the weights and call these.
"""

from .activations import (  # noqa: F401
    leaky_relu, log_sigmoid, relu, sigmoid, softplus, tanh,
)
from .batchnorm import batch_norm  # noqa: F401
from .conv import (  # noqa: F401
    conv2d, conv_output_size, conv_transpose2d, conv_transpose_output_size,
)
from .dropout import dropout  # noqa: F401
from .linear import linear  # noqa: F401
from .losses import (  # noqa: F401
    binary_cross_entropy_with_logits, cross_entropy, log_softmax, mse_loss, nll_loss, softmax,
)
