"""The GAN games: a discriminator loss and a generator loss for each, on raw D outputs (logits).

Every loss is written on logits with softplus, never log(sigmoid(.)), so logits of
+-1e4 give no overflow and no NaN:  -log sigmoid(z) = softplus(-z),
-log(1 - sigmoid(z)) = softplus(z).
"""

from __future__ import annotations

from ..nn import functional as F


class GANLoss:
    """A pair of losses. ``discriminator(real, fake)`` and ``generator(fake)`` take D's raw outputs."""

    name = ""
    uses_probabilities = True  # D's outputs are logits of P(real); False for critics (WGAN, hinge, LSGAN)

    def __init__(self, label_smoothing: float = 0.0):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"{self.name}: label_smoothing must lie in [0, 1), got {label_smoothing}")
        if label_smoothing and not self.supports_smoothing:
            raise ValueError(
                f"one-sided label smoothing applies to the BCE and least-squares losses, not to '{self.name}': "
                f"set loss.label_smoothing = 0 (--label-smoothing 0)"
            )
        self.label_smoothing = label_smoothing

    supports_smoothing = True

    @property
    def real_target(self) -> float:
        """One-sided label smoothing (Salimans et al. 2016): real labels 1 - s, fake labels stay 0."""
        return 1.0 - self.label_smoothing

    def discriminator(self, real, fake):
        raise NotImplementedError

    def generator(self, fake):
        raise NotImplementedError

    def __repr__(self):
        smoothing = f", label_smoothing={self.label_smoothing}" if self.label_smoothing else ""
        return f"{type(self).__name__}({smoothing.lstrip(', ')})"


class Minimax(GANLoss):
    """The original game (Goodfellow et al. 2014).

    D: -E[log D(x)] - E[log(1 - D(G(z)))] = E[softplus(-r)] + E[softplus(f)]
    G: E[log(1 - D(G(z)))] = -E[softplus(f)]  (saturates: its gradient sigmoid(f) -> 0 when D wins)
    """

    name = "minimax"

    def discriminator(self, real, fake):
        t = self.real_target
        return (F.softplus(real) - t * real).mean() + F.softplus(fake).mean()

    def generator(self, fake):
        return -F.softplus(fake).mean()


class NonSaturating(Minimax):
    """The same D; G maximizes log D(G(z)) instead:  G: -E[log D(G(z))] = E[softplus(-f)].

    Same fixed point, but a strong gradient 1 - sigmoid(f) exactly when D rejects the fakes.
    """

    name = "non-saturating"

    def generator(self, fake):
        return F.softplus(-fake).mean()


class LeastSquares(GANLoss):
    """LSGAN (Mao et al. 2017), targets a=0 (fake), b=1 (real), c=1 (what G wants):

    D: 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2];  G: 1/2 E[(D(G(z)) - c)^2]
    """

    name = "lsgan"
    uses_probabilities = False

    def discriminator(self, real, fake):
        return 0.5 * ((real - self.real_target) ** 2).mean() + 0.5 * (fake ** 2).mean()

    def generator(self, fake):
        return 0.5 * ((fake - 1.0) ** 2).mean()


class Hinge(GANLoss):
    """The hinge game (Lim & Ye 2017; Miyato et al. 2018):

    D: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))];  G: -E[D(G(z))]
    """

    name = "hinge"
    uses_probabilities = False
    supports_smoothing = False

    def discriminator(self, real, fake):
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()

    def generator(self, fake):
        return -fake.mean()


class Wasserstein(GANLoss):
    """WGAN (Arjovsky et al. 2017): the critic estimates W1 through Kantorovich-Rubinstein duality.

    critic: E[D(G(z))] - E[D(x)];  G: -E[D(G(z))]. The critic must stay 1-Lipschitz:
    weight clipping or a gradient penalty (``minigan.gan.penalties``).
    """

    name = "wasserstein"
    uses_probabilities = False
    supports_smoothing = False

    def discriminator(self, real, fake):
        return fake.mean() - real.mean()

    def generator(self, fake):
        return -fake.mean()


LOSSES = {cls.name: cls for cls in (Minimax, NonSaturating, LeastSquares, Hinge, Wasserstein)}


def get_loss(name: str, label_smoothing: float = 0.0) -> GANLoss:
    """The loss pair called ``name``: minimax, non-saturating, lsgan, hinge or wasserstein."""
    try:
        return LOSSES[name](label_smoothing)
    except KeyError:
        raise ValueError(f"unknown GAN loss {name!r}; choose one of {', '.join(LOSSES)}") from None
