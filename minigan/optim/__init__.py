"""``minigan.optim``: optimizers with PyTorch's update rules and argument names.

Each optimizer updates ``param.data`` in place from ``param.grad`` (no graph is
recorded), keeps per-parameter state (momentum buffers, moment estimates) that
``state_dict``/``load_state_dict`` save and restore, so training resumes exactly.
"""

from .adam import Adam, AdamW  # noqa: F401
from .clip import clip_grad_norm_, clip_grad_value_  # noqa: F401
from .ema import EMA  # noqa: F401
from .lr_scheduler import CosineAnnealingLR, LambdaLR, LinearLR  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .sgd import SGD  # noqa: F401
