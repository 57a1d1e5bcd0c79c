"""Unrolled GAN (Metz et al. 2017): the generator plays against where D is about to go.

G's loss is taken against D after k more gradient steps on its own loss,

    theta_0 = theta_D,   theta_{i+1} = theta_i - eta * grad_theta L_D(theta_i; x, G(z)),
    L_G = generator_loss(D_{theta_k}(G(z))),

and every step is built with ``create_graph=True``, so dL_G/dtheta_G includes how D's
reply depends on G's samples. A generator that collapses onto one mode is punished
by the reply it provokes, which is what keeps it spread out. The D update itself is
the ordinary one: the unrolled copies only shape G's gradient and are then dropped.
"""

from __future__ import annotations

from ..autograd import grad
from ..nn.stateless import functional_call


def unrolled_generator_loss(discriminator, loss, real, fake, steps: int, lr: float, prepare=lambda x: x):
    """L_G against D unrolled ``steps`` plain gradient steps of size ``lr`` (on ``real`` and ``fake``).

    ``prepare`` turns samples into D's input (PacGAN packing). Buffers (BatchNorm's running
    statistics) are restored afterwards, so the look-ahead leaves no trace in D.
    """
    names = [name for name, _ in discriminator.named_parameters()]
    theta = [p.detach().requires_grad_() for _, p in discriminator.named_parameters()]
    saved_buffers = [(b, b.get_namespace().asarray(b.data, copy=True)) for b in discriminator.buffers()]
    try:
        x_real, x_fake = prepare(real.detach()), prepare(fake)
        for _ in range(steps):
            weights = dict(zip(names, theta))
            loss_d = loss.discriminator(functional_call(discriminator, weights, x_real),
                                        functional_call(discriminator, weights, x_fake))
            grads = grad(loss_d, theta, create_graph=True, allow_unused=True)
            theta = [t if g is None else t - lr * g for t, g in zip(theta, grads)]
        return loss.generator(functional_call(discriminator, dict(zip(names, theta)), x_fake))
    finally:
        for buffer, data in saved_buffers:
            buffer.data = data
