"""``minigan.gan``: the parts that make a GAN: losses, penalties, models and the trainer."""

from .losses import LOSSES, GANLoss, get_loss  # noqa: F401
from .penalties import clip_weights, gradient_penalty, r1_penalty  # noqa: F401
