"""minigan.nn: layers and models, the second step of the flow (data -> models -> losses -> ...).

``Module`` holds Parameters and sub-modules; the layers here (Linear, Conv2d,
ConvTranspose2d, BatchNorm, activations, Dropout, Flatten) hold their weights and
call the stateless ops of ``minigan.nn.functional``. ``init`` fills weights,
``save``/``load`` write and read state dicts, ``summary`` prints a model's shapes.
Names, arguments and state-dict keys are PyTorch's (``torch.nn``).
"""

from . import functional, init  # noqa: F401
from .activation import LeakyReLU, ReLU, Sigmoid, Tanh  # noqa: F401
from .batchnorm import BatchNorm1d, BatchNorm2d  # noqa: F401
from .containers import Sequential  # noqa: F401
from .conv import Conv2d, ConvTranspose2d  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .flatten import Flatten, Unflatten  # noqa: F401
from .linear import Linear  # noqa: F401
from .minibatch_std import MinibatchStdDev  # noqa: F401
from .module import Module, Parameter  # noqa: F401
from .serialization import load, save  # noqa: F401
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401
from .summary import summary  # noqa: F401
from . import utils  # noqa: F401  (nn.utils.spectral_norm, as in PyTorch)
