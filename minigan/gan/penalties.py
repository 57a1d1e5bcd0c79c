"""Keeping the discriminator smooth: gradient penalties (double backprop) and weight clipping."""

from __future__ import annotations

from .. import backend, ops
from ..autograd import grad, no_grad
from ..tensor import Tensor


def _per_sample_norm(g):
    """||g_n||_2 for each sample n; the 1e-12 keeps sqrt differentiable where a gradient is exactly 0."""
    flat = g.reshape(g.shape[0], -1)
    return ops.sqrt((flat * flat).sum(1) + 1e-12)


def gradient_penalty(critic, real, fake, weight: float = 10.0):
    """WGAN-GP (Gulrajani et al. 2017):  weight * E[(||grad_x D(x_hat)||_2 - 1)^2].

    x_hat = e x + (1 - e) G(z), e ~ U(0, 1) per sample: points between the two
    distributions, where the optimal critic has gradient norm 1. The gradient is
    taken with create_graph=True, so this penalty's own gradient flows back through
    it into the critic's weights (double backprop).
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {real.shape} and fake {fake.shape} batches must have the same shape")
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    e = Tensor(backend.random_uniform(shape, dtype=real.dtype, device=real.device))
    x_hat = (e * real.detach() + (1.0 - e) * fake.detach()).detach().requires_grad_()
    (g,) = grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return weight * ((_per_sample_norm(g) - 1.0) ** 2).mean()


def r1_penalty(discriminator, real, gamma: float = 10.0):
    """R1 (Mescheder et al. 2018):  gamma / 2 * E[||grad_x D(x)||^2] on real data only."""
    x = real.detach().requires_grad_()
    (g,) = grad(discriminator(x).sum(), x, create_graph=True)
    flat = g.reshape(g.shape[0], -1)
    return 0.5 * gamma * (flat * flat).sum(1).mean()


@no_grad()
def clip_weights(module, clip_value: float = 0.01):
    """The original WGAN's crude Lipschitz constraint: clamp every parameter to [-c, c]."""
    for p in module.parameters():
        p.data = p.get_namespace().clip(p.data, -clip_value, clip_value)
