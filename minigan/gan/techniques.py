"""Stabilization techniques that change what the players optimize, each one short.

- instance noise (Sønderby et al. 2017; Arjovsky & Bottou 2017): D sees x + sigma_t e,
  e ~ N(0, I), for real and fake alike, with sigma_t annealed linearly to 0, so the two
  distributions overlap and D's gradient carries information early on;
- feature matching (Salimans et al. 2016): G matches the mean of D's last hidden features
  on real data instead of maximizing D's output;
- historical averaging (Salimans et al. 2016): each player pays ||theta - mean of its past
  thetas||^2, a pull toward the average that damps cycling.

Unrolling D (Metz et al. 2017) lives in ``unrolled.py``; packing, the minibatch
standard-deviation feature, dropout and spectral normalization are parts of the
discriminator (``models.py``); label smoothing is in the losses.
"""

from __future__ import annotations

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor


def instance_noise_std(initial: float, step: int, total_steps: int) -> float:
    """sigma_t = sigma_0 (1 - t / T): linear annealing from ``initial`` at step 0 to 0 at the last step."""
    return max(0.0, initial * (1.0 - step / max(1, total_steps)))


def add_instance_noise(x: Tensor, std: float) -> Tensor:
    """x + std * e, e ~ N(0, I) from minigan's seeded generator; x itself when std is 0."""
    if std <= 0:
        return x
    e = backend.random_normal(tuple(x.shape), dtype=x.dtype, device=x.device)
    return x + std * Tensor(e)


def feature_matching_loss(features_real: Tensor, features_fake: Tensor) -> Tensor:
    """||E f(x) - E f(G(z))||_2^2 over D's features f; the real side is a constant target."""
    difference = features_real.detach().mean(0) - features_fake.mean(0)
    return (difference * difference).sum()


class HistoricalAverage:
    """The running mean of a module's past parameter values, and the penalty toward it.

    ``penalty()`` = sum over parameters of ||theta - theta_bar||^2, where theta_bar is the mean
    of theta after every update so far (``update()`` after each optimizer step).
    """

    def __init__(self, module):
        self.module = module
        self.count = 0
        self.means = [backend_copy(p.data) for p in module.parameters()]

    def penalty(self) -> Tensor:
        total = None
        for p, mean in zip(self.module.parameters(), self.means):
            d = p - Tensor(mean)
            term = (d * d).sum()
            total = term if total is None else total + term
        return total

    @no_grad()
    def update(self):
        """theta_bar <- theta_bar + (theta - theta_bar) / t: the mean of the t values seen so far."""
        self.count += 1
        for i, p in enumerate(self.module.parameters()):
            self.means[i] = self.means[i] + (p.data - self.means[i]) / self.count

    def state_dict(self) -> dict:
        return {"count": self.count, "means": [backend.to_numpy(m) for m in self.means]}

    def load_state_dict(self, state):
        self.count = int(state["count"])
        self.means = [backend.asarray(m) for m in state["means"]]


def backend_copy(array):
    """An independent copy of an array, on its own device."""
    return backend.get_namespace(array).asarray(array, copy=True)
