"""PyTorch twins of minigan's GAN models and training step, for benchmarks and equivalence tests.

Same layers in the same order (so state-dict keys match and weights copy across),
and the same step as minigan's Trainer: fakes made once, D updated on real and
detached fakes, then G updated through D with D's weights frozen, Adam for both.
"""

from __future__ import annotations

import numpy as np


def torch_minibatch_std(torch, group_size):
    """PyTorch twin of minigan.nn.MinibatchStdDev (Karras et al. 2018), the same grouping (n mod N/G)."""

    class MinibatchStdDev(torch.nn.Module):
        def forward(self, x):
            n, rest = x.shape[0], x.shape[1:]
            group = min(group_size, n)
            groups = n // group
            y = x.reshape(group, groups, *rest)
            std = (y.var(0, unbiased=False) + 1e-8).sqrt()
            s = std.reshape(groups, -1).mean(1)
            spatial = rest[1:]
            s = s.reshape(1, groups, 1, *[1] * len(spatial)).expand(group, groups, 1, *spatial)
            return torch.cat([x, s.reshape(n, 1, *spatial)], 1)

    return MinibatchStdDev()


def torch_models(torch, arch, latent_dim=100, width=64, hidden=128, layers=3, minibatch_std=0, pack=1):
    """(G, D) as minigan builds them; ``pack`` > 1: D judges that many samples at once (PacGAN)."""
    nn = torch.nn
    if arch == "dcgan":
        std = [torch_minibatch_std(torch, minibatch_std)] if minibatch_std else []
        g = nn.Sequential(
            nn.Linear(latent_dim, 2 * width * 7 * 7, bias=False), nn.Unflatten(1, (2 * width, 7, 7)),
            nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh(),
        )
        d = nn.Sequential(
            nn.Conv2d(pack, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            *std, nn.Flatten(), nn.Linear((2 * width + len(std)) * 7 * 7, 1),
        )
    elif arch == "mlp":
        def mlp(inputs, outputs, act):
            blocks, w = [], inputs
            for _ in range(layers):
                blocks += [nn.Linear(w, hidden), act()]
                w = hidden
            return nn.Sequential(*blocks, nn.Linear(w, outputs))
        g = mlp(latent_dim, 2, nn.ReLU)
        d = mlp(2 * pack, 1, lambda: nn.LeakyReLU(0.2))
    else:
        raise ValueError(arch)
    return g, d


def copy_weights(torch, minigan_module, torch_module):
    """Load a minigan module's state dict ('net.0.weight' ...) into the twin ('0.weight' ...)."""
    state = {k.removeprefix("net."): torch.tensor(v.numpy()) for k, v in minigan_module.state_dict().items()}
    torch_module.load_state_dict(state)


def _packed(x, pack):
    """PacGAN's input, as minigan's Trainer._pack makes it: ``pack`` consecutive samples side by side."""
    return x if pack == 1 else x.reshape(x.shape[0] // pack, -1, *x.shape[2:])


def torch_step(torch, g, d, opt_g, opt_d, real, z, label_smoothing=0.0, pack=1):
    """One non-saturating GAN step; returns (d_loss, g_loss) as floats.

    D's loss is minigan's: E[softplus(r) - t r] + E[softplus(f)] with the real target
    t = 1 - label_smoothing (one-sided smoothing; t = 1 is E[softplus(-r)] + E[softplus(f)]).
    """
    softplus = torch.nn.functional.softplus
    t = 1.0 - label_smoothing
    fake = g(z)
    d_real, d_fake = d(_packed(real, pack)).reshape(-1), d(_packed(fake.detach(), pack)).reshape(-1)
    loss_d = (softplus(d_real) - t * d_real).mean() + softplus(d_fake).mean()
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    for p in d.parameters():
        p.requires_grad_(False)
    loss_g = softplus(-d(_packed(fake, pack)).reshape(-1)).mean()
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    for p in d.parameters():
        p.requires_grad_(True)
    opt_g.step()
    return loss_d.item(), loss_g.item()


def minigan_step(minigan, g, d, opt_g, opt_d, real, z, label_smoothing=0.0, pack=1):
    """The same step written with minigan, through the trainer's own loss (minigan.gan.losses)."""
    loss_d, loss_g = minigan_step_losses(minigan, g, d, opt_g, opt_d, real, z, label_smoothing, pack)
    return float(loss_d.item()), float(loss_g.item())


def minigan_step_losses(minigan, g, d, opt_g, opt_d, real, z, label_smoothing=0.0, pack=1):
    """minigan_step's work, returning the two losses as device tensors: no host sync, which
    a CUDA graph capture (graph_capture.py) cannot contain."""
    loss = minigan.gan.losses.get_loss("non-saturating", label_smoothing)
    fake = g(z)
    loss_d = loss.discriminator(d(_packed(real, pack)), d(_packed(fake.detach(), pack)))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    for p in d.parameters():
        p.requires_grad = False
    loss_g = loss.generator(d(_packed(fake, pack)))
    opt_g.zero_grad()
    loss_g.backward()
    for p in d.parameters():
        p.requires_grad = True
    opt_g.step()
    return loss_d, loss_g


def make_pair(arch, seed=0, batch=64, minibatch_std=0, pack=1):
    """minigan and PyTorch models with identical weights, their Adam optimizers, and a data batch."""
    import torch

    import minigan
    from minigan.gan.models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator

    minigan.manual_seed(seed)
    if arch == "dcgan":
        g, d = DCGANGenerator(100, 64), DCGANDiscriminator(64, image_channels=pack, minibatch_std=minibatch_std)
        minigan.nn.init.dcgan_(g)
        minigan.nn.init.dcgan_(d)
        latent, shape = 100, (1, 28, 28)
    else:
        g, d = MLPGenerator(100, 128, 3, 2), MLPDiscriminator(2, 128, 3, pack=pack)
        latent, shape = 100, (2,)
    tg, td = torch_models(torch, arch, latent_dim=latent, minibatch_std=minibatch_std, pack=pack)
    copy_weights(torch, g, tg)
    copy_weights(torch, d, td)
    rng = np.random.default_rng(seed)
    real = rng.uniform(-1, 1, (batch,) + shape).astype(np.float32)
    z = rng.standard_normal((batch, latent)).astype(np.float32)
    ours = dict(g=g, d=d, opt_g=minigan.optim.Adam(g.parameters(), 2e-4, (0.5, 0.999)),
                opt_d=minigan.optim.Adam(d.parameters(), 2e-4, (0.5, 0.999)),
                real=minigan.tensor(real), z=minigan.tensor(z))
    theirs = dict(g=tg, d=td, opt_g=torch.optim.Adam(tg.parameters(), 2e-4, (0.5, 0.999)),
                  opt_d=torch.optim.Adam(td.parameters(), 2e-4, (0.5, 0.999)),
                  real=torch.tensor(real), z=torch.tensor(z))
    return ours, theirs


def move_pair(ours, theirs, device):
    """Move both twins (models, data) to ``device`` ("cpu" or "cuda": CuPy for minigan, CUDA for PyTorch).

    Both move their parameters in place (the same Parameter objects), so the optimizers
    built on them stay valid; call this before the first step, while they hold no state.
    """
    if device == "cpu":
        return ours, theirs
    import torch

    # PyTorch runs convolutions in TF32 on the GPU by default; minigan's CuPy products are
    # float32. Both in float32, so the two frameworks do the same arithmetic.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    for net in ("g", "d"):
        ours[net].to(device)
        theirs[net].cuda()
    for k in ("real", "z"):
        ours[k] = ours[k].to(device)
        theirs[k] = theirs[k].cuda()
    return ours, theirs
