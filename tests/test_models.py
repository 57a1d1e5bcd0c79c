"""The generators and discriminators of the presets: shapes, structure, parameter counts, init.

Discriminators return one score per sample, shape (N,); generators map (N, latent)
noise to (N, 2) points or (N, 1, 28, 28) images in [-1, 1]. The DCGAN generator's
layers and parameter count are those its docstring describes.
"""

import numpy as np
import pytest

import minigan
from minigan import nn
from minigan.config import resolve
from minigan.gan.models import (
    DCGANDiscriminator, DCGANGenerator, ImageMLPDiscriminator, ImageMLPGenerator, MLPDiscriminator, MLPGenerator,
    build_models,
)


def count(module):
    return sum(p.numel() for p in module.parameters())


def layer_types(module):
    return [type(m).__name__ for m in module.net]


# ---------------------------------------------------------------- shapes

def test_mlp_generator_and_discriminator_shapes(device):
    g = MLPGenerator(latent_dim=3, hidden=16, layers=2)
    d = MLPDiscriminator(hidden=16, layers=2)
    x = g(minigan.randn(5, 3))
    assert x.shape == (5, 2) and x.device == device
    assert d(x).shape == (5,)
    assert layer_types(g) == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert layer_types(d) == ["Linear", "LeakyReLU", "Linear", "LeakyReLU", "Linear"]
    # latent 3 -> 16 -> 16 -> 2 and 2 -> 16 -> 16 -> 1
    assert count(g) == (3 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2)
    assert count(d) == (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1)


def test_pacgan_discriminator_scores_packs():
    d = MLPDiscriminator(hidden=8, layers=1, pack=4)
    assert d.net[0].in_features == 8
    assert d(minigan.randn(3, 8)).shape == (3,)


def test_image_mlp_shapes_and_range(device):
    g, d = ImageMLPGenerator(latent_dim=10), ImageMLPDiscriminator()
    images = g(minigan.randn(4, 10))
    assert images.shape == (4, 1, 28, 28) and images.device == device
    assert float(np.abs(images.numpy()).max()) <= 1.0
    assert d(images).shape == (4,)
    assert [m.out_features for m in g.net if isinstance(m, nn.Linear)] == [256, 512, 1024, 784]
    assert [m.out_features for m in d.net if isinstance(m, nn.Linear)] == [512, 256, 1]


def test_dcgan_shapes_and_range(device):
    g, d = DCGANGenerator(latent_dim=8, width=4), DCGANDiscriminator(width=4)
    images = g(minigan.randn(3, 8))
    assert images.shape == (3, 1, 28, 28) and images.device == device
    assert float(np.abs(images.numpy()).max()) <= 1.0
    scores = d(images)
    assert scores.shape == (3,) and scores.device == device


def test_dcgan_generator_structure_is_as_its_docstring_says():
    """Linear to (2 width) x 7 x 7, BatchNorm, ReLU; ConvT (k4 s2 p1) to width x 14 x 14, BN, ReLU; ConvT to 1 x 28 x 28, tanh."""
    g = DCGANGenerator(latent_dim=100, width=64)
    assert layer_types(g) == [
        "Linear", "Unflatten", "BatchNorm2d", "ReLU", "ConvTranspose2d", "BatchNorm2d", "ReLU", "ConvTranspose2d", "Tanh",
    ]
    linear, _, bn1, _, up1, bn2, _, up2, _ = g.net
    assert (linear.in_features, linear.out_features, linear.bias) == (100, 128 * 7 * 7, None)
    assert bn1.num_features == 128 and bn2.num_features == 64
    assert tuple(up1.weight.shape) == (128, 64, 4, 4) and up1.bias is None
    assert tuple(up2.weight.shape) == (64, 1, 4, 4) and up2.bias is not None
    for up in (up1, up2):
        assert (up.stride, up.padding) in [((2, 2), (1, 1)), (2, 1)]
    # Intermediate shapes: 7x7 -> 14x14 -> 28x28.
    g.eval()
    h = minigan.randn(2, 100)
    shapes = []
    for layer in g.net:
        h = layer(h)
        shapes.append(h.shape)
    assert shapes[1] == (2, 128, 7, 7) and shapes[4] == (2, 64, 14, 14) and shapes[-1] == (2, 1, 28, 28)


def test_dcgan_generator_parameter_count():
    latent, width = 100, 64
    expected = (
        latent * 2 * width * 7 * 7          # linear, no bias
        + 2 * (2 * width)                   # BatchNorm weight and bias
        + (2 * width) * width * 4 * 4       # conv-transpose, no bias
        + 2 * width                         # BatchNorm
        + width * 1 * 4 * 4 + 1             # conv-transpose to one channel, with bias
    )
    assert expected == 759_681
    assert count(DCGANGenerator(latent, width)) == expected
    assert count(DCGANGenerator(16, 8)) == 16 * 16 * 49 + 32 + 16 * 8 * 16 + 16 + 8 * 16 + 1


def test_dcgan_discriminator_structure_and_count():
    d = DCGANDiscriminator(width=64)
    assert layer_types(d) == ["Conv2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU", "Flatten", "Linear"]
    expected = (1 * 64 * 16 + 64) + (64 * 128 * 16) + 2 * 128 + (128 * 49 + 1)
    assert count(d) == expected


def test_the_wgan_gp_critic_has_no_batch_norm():
    critic = DCGANDiscriminator(width=8, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in critic.modules())
    assert layer_types(critic) == ["Conv2d", "LeakyReLU", "Conv2d", "LeakyReLU", "Flatten", "Linear"]
    assert critic.net[2].bias is not None  # without BatchNorm the conv keeps its bias
    # Per-sample: a critic without batch statistics scores each image independently of the others.
    x = minigan.randn(4, 1, 28, 28)
    np.testing.assert_allclose(critic(x).numpy()[:2], critic(x[:2]).numpy(), rtol=1e-5, atol=1e-6)


def test_the_dcgan_discriminator_with_batch_norm_depends_on_the_batch():
    d = DCGANDiscriminator(width=8)
    x = minigan.randn(4, 1, 28, 28)
    assert not np.allclose(d(x).numpy()[:2], d(x[:2]).numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- init

def test_dcgan_init_statistics():
    g, d = build_models(resolve("mnist-dcgan"))
    for module in (g, d):
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                w = m.weight.numpy().astype(np.float64)
                assert abs(w.mean()) < 0.02 * 5 / np.sqrt(w.size) + 1e-4, type(m).__name__
                tolerance = 0.02 * 5 / np.sqrt(2 * w.size)  # 5 standard errors of a sample std
                assert abs(w.std() - 0.02) < tolerance + 1e-4, (type(m).__name__, w.std())
            elif isinstance(m, nn.BatchNorm2d):
                weight = m.weight.numpy().astype(np.float64)
                assert abs(weight.mean() - 1.0) < 0.02 * 5 / np.sqrt(weight.size)
                assert 0.01 < weight.std() < 0.03
                np.testing.assert_array_equal(m.bias.numpy(), 0.0)


def test_default_init_is_not_dcgans():
    config = resolve("mnist-dcgan", overrides={"model.init": "default"})
    g, _ = build_models(config)
    assert abs(g.net[0].weight.numpy().std() - 0.02) > 0.005
    np.testing.assert_array_equal(g.net[2].weight.numpy(), 1.0)  # BatchNorm starts at weight 1


def test_seeded_models_are_reproducible():
    minigan.manual_seed(5)
    a, _ = build_models(resolve("ring"))
    minigan.manual_seed(5)
    b, _ = build_models(resolve("ring"))
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


# ---------------------------------------------------------------- build_models

@pytest.mark.parametrize("preset, generator, discriminator, sample_shape", [
    ("ring", MLPGenerator, MLPDiscriminator, (2,)),
    ("grid", MLPGenerator, MLPDiscriminator, (2,)),
    ("mnist-mlp", ImageMLPGenerator, ImageMLPDiscriminator, (1, 28, 28)),
    ("mnist-dcgan", DCGANGenerator, DCGANDiscriminator, (1, 28, 28)),
    ("mnist-wgan-gp", DCGANGenerator, DCGANDiscriminator, (1, 28, 28)),
    ("fashion-dcgan", DCGANGenerator, DCGANDiscriminator, (1, 28, 28)),
])
def test_build_models_for_each_preset(preset, generator, discriminator, sample_shape):
    overrides = {"model.width": 4} if "dcgan" in preset or "wgan" in preset else {}
    config = resolve(preset, overrides=overrides)
    g, d = build_models(config)
    assert type(g) is generator and type(d) is discriminator
    latent, pack = config["model"]["latent_dim"], config["model"]["pack"]
    samples = g(minigan.randn(2 * pack, latent))
    assert samples.shape == (2 * pack,) + sample_shape
    assert d(samples.reshape(2, -1, *sample_shape[1:])).shape == (2,)  # two packs of `pack` samples each
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    assert has_bn == (config["model"]["architecture"] == "dcgan")


def test_build_models_reads_the_model_section():
    config = resolve("ring", overrides={"model.latent_dim": 5, "model.hidden": 12, "model.d_hidden": 9,
                                        "model.layers": 2, "model.pack": 3})
    g, d = build_models(config)
    assert g.latent_dim == 5 and g.net[0].in_features == 5 and g.net[0].out_features == 12
    assert d.net[0].in_features == 6 and d.net[0].out_features == 9
    assert sum(isinstance(m, nn.Linear) for m in g.net) == 3


def test_build_models_refuses_an_unknown_architecture():
    config = resolve("ring", overrides={"model.architecture": "transformer"})
    with pytest.raises(ValueError, match="'transformer'") as info:
        build_models(config)
    for name in ("mlp", "image-mlp", "dcgan", "dcgan-critic"):
        assert name in str(info.value)


def test_the_mlp_generator_with_batch_norm_normalizes_before_each_relu():
    """PacGAN's grid generator: Linear (no bias: the norm's shift replaces it), BatchNorm1d, ReLU."""
    config = resolve("grid", overrides={"model.g_batch_norm": True, "model.layers": 2})
    g, _ = build_models(config)
    kinds = [type(m).__name__ for m in g.net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert g.net[0].bias is None and g.net[3].bias is None and g.net[6].bias is not None
    # in training mode each sample's output depends on the rest of its batch
    z = minigan.randn(8, config["model"]["latent_dim"])
    alone = g(z[:4]).numpy()
    together = g(z).numpy()[:4]
    assert not np.allclose(alone, together)
    g.eval()
    np.testing.assert_allclose(g(z[:4]).numpy(), g(z).numpy()[:4], rtol=1e-5, atol=1e-6)


def test_g_batch_norm_is_refused_for_the_image_generators():
    config = resolve("mnist-dcgan", overrides={"model.g_batch_norm": True})
    with pytest.raises(ValueError, match="g_batch_norm.*mlp generator"):
        build_models(config)
