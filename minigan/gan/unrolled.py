"""Unrolled GAN (Metz et al. 2017): the generator plays against where D is about to go.

G's loss is taken against D after k more steps on D's own loss,

    theta_0 = theta_D,   theta_{i+1} = theta_i - step_i(grad_theta L_D(theta_i; x, G(z))),
    L_G = generator_loss(D_{theta_k}(G(z))),

and every step is built with ``create_graph=True``, so dL_G/dtheta_G includes how D's
reply depends on G's samples. A generator that collapses onto one mode is punished
by the reply it provokes, which is what keeps it spread out. The D update itself is
the ordinary one: the unrolled copies only shape G's gradient and are then dropped.

The step is D's own update rule, as in the paper: Adam's when D trains with Adam
(continuing from its moments, so the look-ahead is where D would really go), else a
plain gradient step lr * g. Adam normalizes its steps to about lr per weight; a plain
step's size depends on the gradient's scale, so it needs a learning rate of its own.
"""

from __future__ import annotations

from ..autograd import grad
from ..nn.stateless import functional_call
from ..optim import Adam
from ..tensor import Tensor


class _AdamLookahead:
    """Adam's update as differentiable Tensor ops, starting from an optimizer's moments (constants).

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  step = lr m_hat / (sqrt(v_hat) + eps),
    the hats dividing by 1 - b^t. L2 weight decay adds wd theta to g, as Adam does.
    """

    def __init__(self, optimizer, params, lr):
        if len(optimizer.param_groups) != 1:
            raise ValueError(f"unrolled GAN: the look-ahead follows an Adam with one parameter group, "
                             f"D's has {len(optimizer.param_groups)}")
        group = optimizer.param_groups[0]
        if group["amsgrad"]:
            raise ValueError("unrolled GAN: the look-ahead does not implement Adam's amsgrad; set amsgrad=False")
        (self.b1, self.b2), self.eps, self.wd, self.lr = group["betas"], group["eps"], group["weight_decay"], lr
        states = [optimizer.state.get(id(p), {}) for p in params]
        self.t = states[0].get("step", 0) if states else 0
        self.m = [Tensor(s["exp_avg"]) if s else None for s in states]
        self.v = [Tensor(s["exp_avg_sq"]) if s else None for s in states]

    def step(self, theta, grads):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        new = []
        for i, (p, g) in enumerate(zip(theta, grads)):
            if g is None:
                new.append(p)
                continue
            if self.wd:
                g = g + self.wd * p
            m = (1 - self.b1) * g if self.m[i] is None else self.b1 * self.m[i] + (1 - self.b1) * g
            v = (1 - self.b2) * g * g if self.v[i] is None else self.b2 * self.v[i] + (1 - self.b2) * g * g
            self.m[i], self.v[i] = m, v
            # + 1e-30 inside the root: sqrt'(0) is infinite, and a weight with no gradient yet has v = 0
            new.append(p - (self.lr / c1) * m / ((v / c2 + 1e-30).sqrt() + self.eps))
        return new


def unrolled_generator_loss(discriminator, loss, real, fake, steps: int, lr: float, prepare=lambda x: x,
                            optimizer=None):
    """L_G against D unrolled ``steps`` steps (on ``real`` and ``fake``) of size ``lr``.

    With ``optimizer`` an ``optim.Adam`` (D's), the steps are Adam's, from its current
    moments; otherwise plain gradient steps theta - lr g. ``prepare`` turns samples into
    D's input (PacGAN packing). Buffers (BatchNorm's running statistics) are restored
    afterwards, so the look-ahead leaves no trace in D.
    """
    names = [name for name, _ in discriminator.named_parameters()]
    params = [p for _, p in discriminator.named_parameters()]
    theta = [p.detach().requires_grad_() for p in params]
    adam = _AdamLookahead(optimizer, params, lr) if isinstance(optimizer, Adam) else None
    saved_buffers = [(b, b.get_namespace().asarray(b.data, copy=True)) for b in discriminator.buffers()]
    try:
        x_real, x_fake = prepare(real.detach()), prepare(fake)
        for _ in range(steps):
            weights = dict(zip(names, theta))
            loss_d = loss.discriminator(functional_call(discriminator, weights, x_real),
                                        functional_call(discriminator, weights, x_fake))
            grads = grad(loss_d, theta, create_graph=True, allow_unused=True)
            if adam is not None:
                theta = adam.step(theta, grads)
            else:
                theta = [t if g is None else t - lr * g for t, g in zip(theta, grads)]
        return loss.generator(functional_call(discriminator, dict(zip(names, theta)), x_fake))
    finally:
        for buffer, data in saved_buffers:
            buffer.data = data
