"""The generators and discriminators of the training presets, built from ``minigan.nn`` layers.

- ``MLPGenerator``/``MLPDiscriminator``: small MLPs for the 2-D mixtures.
- ``ImageMLPGenerator``/``ImageMLPDiscriminator``: the classic fully connected GAN for 28x28 images.
- ``DCGANGenerator``/``DCGANDiscriminator``: the DCGAN for 28x28 (Radford et al. 2016, sized for MNIST);
  ``DCGANDiscriminator(batch_norm=False)`` is the critic for WGAN-GP, whose penalty is
  per sample and must not see batch statistics.

Discriminators return one raw score (a logit, or a critic value) per sample: shape (N,).
"""

from __future__ import annotations

from .. import nn


class MLPGenerator(nn.Module):
    """z (N, latent_dim) -> x (N, out_dim): ``layers`` hidden layers of ``hidden`` ReLU units.

    ``batch_norm``: BatchNorm1d before each ReLU, as in the PacGAN/VEEGAN generators of the
    2-D mixtures (the Linear before it then has no bias, which the norm would cancel).
    """

    def __init__(self, latent_dim=2, hidden=128, layers=3, out_dim=2, batch_norm=False):
        super().__init__()
        self.latent_dim = latent_dim
        blocks, width = [], latent_dim
        for _ in range(layers):
            norm = [nn.BatchNorm1d(hidden)] if batch_norm else []
            blocks += [nn.Linear(width, hidden, bias=not batch_norm), *norm, nn.ReLU()]
            width = hidden
        self.net = nn.Sequential(*blocks, nn.Linear(width, out_dim))

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    """A discriminator whose last layer is one linear score: ``features`` is everything before it.

    Feature matching (Salimans et al. 2016) trains G on ``features(x)``: D's last hidden layer.
    """

    def features(self, x):
        for layer in list(self.net)[:-1]:
            x = layer(x)
        return x

    def forward(self, x):
        return self.net(x).reshape(-1)


def _d_extras(dropout):
    """Dropout after a hidden layer, when asked for: it stops D leaning on a few features."""
    return [nn.Dropout(dropout)] if dropout else []


class MLPDiscriminator(Discriminator):
    """x (N, in_dim) -> score (N,): ``layers`` hidden layers of ``hidden`` LeakyReLU(0.2) units.

    ``pack`` > 1 makes it a PacGAN discriminator: it scores ``pack`` samples at once,
    concatenated, so its input is (N, pack * in_dim). ``dropout`` adds Dropout after each
    hidden layer; ``minibatch_std`` (a group size) appends the minibatch standard-deviation
    feature (Karras et al. 2018) before the score, so D can see a batch without variety.
    """

    def __init__(self, in_dim=2, hidden=128, layers=3, pack=1, dropout=0.0, minibatch_std=0):
        super().__init__()
        blocks, width = [], in_dim * pack
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2), *_d_extras(dropout)]
            width = hidden
        if minibatch_std:
            blocks.append(nn.MinibatchStdDev(minibatch_std))
            width += 1
        self.net = nn.Sequential(*blocks, nn.Linear(width, 1))


class ImageMLPGenerator(nn.Module):
    """z (N, latent_dim) -> image (N, C, H, W) in [-1, 1]: 256-512-1024 LeakyReLU(0.2) units, tanh."""

    def __init__(self, latent_dim=100, image_shape=(1, 28, 28), hidden=(256, 512, 1024)):
        super().__init__()
        self.latent_dim = latent_dim
        pixels = image_shape[0] * image_shape[1] * image_shape[2]
        blocks, width = [], latent_dim
        for h in hidden:
            blocks += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        self.net = nn.Sequential(*blocks, nn.Linear(width, pixels), nn.Tanh(), nn.Unflatten(1, tuple(image_shape)))

    def forward(self, z):
        return self.net(z)


class ImageMLPDiscriminator(Discriminator):
    """image (N, C, H, W) -> score (N,): flatten, 512-256 LeakyReLU(0.2) units, one output.

    ``dropout`` and ``minibatch_std`` as in ``MLPDiscriminator``.
    """

    def __init__(self, image_shape=(1, 28, 28), hidden=(512, 256), dropout=0.0, minibatch_std=0):
        super().__init__()
        blocks, width = [nn.Flatten()], image_shape[0] * image_shape[1] * image_shape[2]
        for h in hidden:
            blocks += [nn.Linear(width, h), nn.LeakyReLU(0.2), *_d_extras(dropout)]
            width = h
        if minibatch_std:
            blocks.append(nn.MinibatchStdDev(minibatch_std))
            width += 1
        self.net = nn.Sequential(*blocks, nn.Linear(width, 1))


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> image (N, C, 28, 28) in [-1, 1].

    Linear to (2 width) x 7 x 7, BatchNorm, ReLU; ConvTranspose (k4 s2 p1) to width x 14 x 14,
    BatchNorm, ReLU; ConvTranspose to C x 28 x 28, tanh. width = 64 gives the 128/64 channels
    of the classic MNIST DCGAN.
    """

    def __init__(self, latent_dim=100, width=64, image_channels=1):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 2 * width * 7 * 7, bias=False),
            nn.Unflatten(1, (2 * width, 7, 7)),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, image_channels, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.net(z)


class DCGANDiscriminator(Discriminator):
    """image (N, C, 28, 28) -> score (N,).

    Conv (k4 s2 p1) to width x 14 x 14, LeakyReLU(0.2); conv to (2 width) x 7 x 7, BatchNorm
    (unless ``batch_norm=False``: the WGAN-GP critic), LeakyReLU(0.2); linear to one score.
    ``dropout`` and ``minibatch_std`` as in ``MLPDiscriminator`` (the std map is one more channel).
    """

    def __init__(self, width=64, image_channels=1, batch_norm=True, dropout=0.0, minibatch_std=0):
        super().__init__()
        layers = [
            nn.Conv2d(image_channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            *_d_extras(dropout),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=not batch_norm),
        ]
        if batch_norm:
            layers.append(nn.BatchNorm2d(2 * width))
        layers += [nn.LeakyReLU(0.2), *_d_extras(dropout)]
        channels = 2 * width
        if minibatch_std:
            layers.append(nn.MinibatchStdDev(minibatch_std))
            channels += 1
        layers += [nn.Flatten(), nn.Linear(channels * 7 * 7, 1)]
        self.net = nn.Sequential(*layers)


def apply_spectral_norm(module):
    """Spectral normalization (Miyato et al. 2018) on every Linear and Conv2d weight: each layer 1-Lipschitz."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.spectral_norm(m)
    return module


def _refuse_g_batch_norm(arch, g_batch_norm):
    if g_batch_norm:
        raise ValueError(f"{arch}: model.g_batch_norm = true, but it applies to the mlp generator of the 2-D mixtures "
                         "(the image generators have their own normalization)")


def build_models(config: dict):
    """The (generator, discriminator) pair a run's ``[model]`` section describes."""
    model, data = config["model"], config["data"]
    arch = model["architecture"]
    pack = model.get("pack", 1)
    extras = {"dropout": model.get("d_dropout", 0.0), "minibatch_std": model.get("minibatch_std", 0)}
    if arch == "mlp":
        g = MLPGenerator(model["latent_dim"], model["hidden"], model["layers"], out_dim=2,
                         batch_norm=model.get("g_batch_norm", False))
        d = MLPDiscriminator(2, model.get("d_hidden", model["hidden"]), model["layers"], pack=pack, **extras)
    # PacGAN on images (Trainer._pack): the pack's images side by side as channels, (N/pack, pack, 28, 28).
    elif arch == "image-mlp":
        _refuse_g_batch_norm(arch, model.get("g_batch_norm", False))
        g = ImageMLPGenerator(model["latent_dim"])
        d = ImageMLPDiscriminator((pack, 28, 28), **extras)
    elif arch in ("dcgan", "dcgan-critic"):
        g = DCGANGenerator(model["latent_dim"], model["width"])
        _refuse_g_batch_norm(arch, model.get("g_batch_norm", False))
        d = DCGANDiscriminator(model["width"], image_channels=pack, batch_norm=arch == "dcgan", **extras)
    else:
        raise ValueError(f"unknown model architecture {arch!r}: choose mlp, image-mlp, dcgan or dcgan-critic")
    if model.get("init") == "dcgan":
        nn.init.dcgan_(g)
        nn.init.dcgan_(d)
    if model.get("spectral_norm"):
        apply_spectral_norm(d)
    del data
    return g, d
