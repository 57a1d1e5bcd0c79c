"""The layers: output shapes and values, the arguments they pass on, modes, and their error messages."""

import math
import re

import numpy as np
import pytest

import minigan
from minigan import nn
from minigan.nn import functional as F


def close(a, b, **kwargs):
    np.testing.assert_allclose(a.numpy() if isinstance(a, minigan.Tensor) else a,
                               b.numpy() if isinstance(b, minigan.Tensor) else b, **{"rtol": 1e-5, "atol": 1e-6, **kwargs})


# ---------------------------------------------------------------- Linear

def test_linear_computes_x_wt_plus_b_on_any_leading_shape():
    layer = nn.Linear(4, 3)
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3,)
    x = minigan.randn(2, 5, 4)
    out = layer(x)
    assert out.shape == (2, 5, 3)
    close(out, x.numpy() @ layer.weight.numpy().T + layer.bias.numpy())
    assert nn.Linear(4, 3, bias=False).bias is None


def test_linear_backward_fills_parameter_gradients():
    layer = nn.Linear(4, 3)
    x = minigan.randn(6, 4)
    layer(x).sum().backward()
    close(layer.weight.grad, np.ones((3, 6)) @ x.numpy())
    close(layer.bias.grad, np.full(3, 6.0))


# ---------------------------------------------------------------- convolutions

def test_conv2d_passes_its_arguments_to_the_functional_op():
    layer = nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    assert layer.weight.shape == (3, 2, 3, 2) and layer.bias.shape == (3,)
    assert (layer.kernel_size, layer.stride, layer.padding, layer.dilation) == ((3, 2), (2, 1), (1, 0), (1, 2))
    x = minigan.randn(2, 2, 7, 6)
    out = layer(x)
    expected = F.conv2d(x, layer.weight, layer.bias, stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    assert out.shape == (2, 3, 4, 4)
    close(out, expected)


def test_conv2d_matches_a_direct_sum():
    layer = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    x = minigan.randn(1, 2, 5, 5)
    xp_, w, b = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1))), layer.weight.numpy(), layer.bias.numpy()
    expected = np.zeros((1, 3, 3, 3))
    for i in range(3):
        for j in range(3):
            window = xp_[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
            expected[0, :, i, j] = np.einsum("ckl,ockl->o", window[0], w) + b
    close(layer(x), expected, rtol=1e-4, atol=1e-5)


def test_conv_transpose2d_passes_its_arguments_and_inverts_the_shape():
    layer = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1, dilation=1)
    assert layer.weight.shape == (3, 2, 3, 3)  # (in, out, kh, kw), as in PyTorch
    x = minigan.randn(2, 3, 4, 5)
    out = layer(x)
    assert out.shape == (2, 2, 8, 10)
    close(out, F.conv_transpose2d(x, layer.weight, layer.bias, 2, 1, 1, 1))
    dilated = nn.ConvTranspose2d(3, 2, 2, stride=1, dilation=(2, 3), bias=False)
    close(dilated(x), F.conv_transpose2d(x, dilated.weight, None, 1, 0, 0, (2, 3)))


def test_dcgan_up_and_down_sampling_shapes():
    up = nn.ConvTranspose2d(128, 64, 4, 2, 1)
    down = nn.Conv2d(64, 128, 4, 2, 1)
    x = minigan.randn(2, 128, 7, 7)
    assert up(x).shape == (2, 64, 14, 14)
    assert down(up(x)).shape == (2, 128, 7, 7)


@pytest.mark.parametrize("make, message", [
    (lambda: nn.Conv2d(3, 8, 0), r"Conv2d\(3, 8\): kernel_size must be at least 1, got 0"),
    (lambda: nn.Conv2d(3, 8, 3, stride=(1, 2, 3)), r"Conv2d\(3, 8\): stride must be an int or a pair of ints"),
    (lambda: nn.Conv2d(3, 8, 3, padding=-1), "padding must be at least 0"),
    (lambda: nn.Conv2d(3, 8, 3, padding="same"), "padding='same' is not supported"),
    (lambda: nn.Conv2d(3, 8, 3, groups=3), "groups=3 is not supported"),
    (lambda: nn.Conv2d(0, 8, 3), "in_channels must be a positive int, got 0"),
    (lambda: nn.ConvTranspose2d(3, 8, 3, stride=2, output_padding=2), r"output_padding \(2, 2\) must be smaller than stride"),
    (lambda: nn.Linear(3.5, 2), "in_features must be a non-negative int"),
    (lambda: nn.BatchNorm2d(0), "num_features must be a positive int"),
    (lambda: nn.BatchNorm2d(3, momentum=2.0), "momentum must be between 0 and 1"),
    (lambda: nn.Dropout(1.5), "between 0 and 1, got 1.5"),
    (lambda: nn.Unflatten(1, (4, -1, -1)), "at most one -1"),
])
def test_bad_constructor_arguments_are_explained(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---------------------------------------------------------------- wrong inputs

WRONG_INPUTS = [
    (lambda: nn.Linear(784, 128), (8, 100), "Linear(784, 128): expected input with 784 features (*, 784), got shape (8, 100)"),
    (lambda: nn.Linear(784, 128), (8, 1, 28, 28),
     "Linear(784, 128): expected input with 784 features (*, 784), got shape (8, 1, 28, 28); flatten it first, e.g. with nn.Flatten() before this layer"),
    (lambda: nn.Linear(3, 2), (), "Linear(3, 2): expected input with 3 features (*, 3), got shape ()"),
    (lambda: nn.Conv2d(3, 64, 4), (8, 1, 28, 28), "Conv2d(3, 64): expected input with 3 channels (N, 3, H, W), got shape (8, 1, 28, 28)"),
    (lambda: nn.Conv2d(3, 64, 4), (3, 28, 28),
     "Conv2d(3, 64): expected a 4-D input (N, 3, H, W), got shape (3, 28, 28); for a single image add a batch dimension with x.unsqueeze(0)"),
    (lambda: nn.Conv2d(1, 4, 5), (2, 1, 3, 3),
     "Conv2d(1, 4): input of height and width (3, 3) padded by (0, 0) is smaller than the (dilated) kernel (5, 5); got shape (2, 1, 3, 3)"),
    (lambda: nn.ConvTranspose2d(128, 64, 4, 2, 1), (8, 64, 7, 7),
     "ConvTranspose2d(128, 64): expected input with 128 channels (N, 128, H, W), got shape (8, 64, 7, 7)"),
    (lambda: nn.ConvTranspose2d(2, 1, 4, 2, 1), (8, 2, 7),
     "ConvTranspose2d(2, 1): expected a 4-D input (N, 2, H, W), got shape (8, 2, 7)"),
    (lambda: nn.ConvTranspose2d(2, 1, 1, 1, 1), (1, 2, 1, 1),
     "ConvTranspose2d(2, 1): an input of shape (1, 2, 1, 1) gives an output of height and width (-1, -1); reduce padding (1, 1) or use a larger input"),
    (lambda: nn.BatchNorm1d(64), (8, 32), "BatchNorm1d(64): expected input with 64 features (N, 64) or (N, 64, L), got shape (8, 32)"),
    (lambda: nn.BatchNorm1d(64), (8, 64, 2, 2), "BatchNorm1d(64): expected a 2-D or 3-D input (N, 64) or (N, 64, L), got shape (8, 64, 2, 2)"),
    (lambda: nn.BatchNorm2d(64), (8, 32, 7, 7), "BatchNorm2d(64): expected input with 64 channels (N, 64, H, W), got shape (8, 32, 7, 7)"),
    (lambda: nn.BatchNorm2d(64), (8, 64), "BatchNorm2d(64): expected a 4-D input (N, 64, H, W), got shape (8, 64)"),
    (lambda: nn.BatchNorm2d(3), (1, 3, 1, 1),
     "BatchNorm2d(3): training needs more than one value per channel to compute a batch variance, got shape (1, 3, 1, 1); use a batch of 2 or more, or call .eval() first"),
    (lambda: nn.Flatten(), (5,), "Flatten(start_dim=1, end_dim=-1): expected an input with at least 2 dimensions, got shape (5,)"),
    (lambda: nn.Flatten(2, 1), (2, 3, 4), "Flatten(start_dim=2, end_dim=1): start_dim comes after end_dim for an input of shape (2, 3, 4)"),
    (lambda: nn.Unflatten(1, (128, 7, 7)), (8, 100), "Unflatten(dim=1, unflattened_size=(128, 7, 7)): expected size 6272 at dimension 1, got shape (8, 100)"),
    (lambda: nn.Unflatten(1, (3, -1)), (8, 10), r"Unflatten(dim=1, unflattened_size=(3, -1)): expected a multiple of 3 at dimension 1, got shape (8, 10)"),
    (lambda: nn.Unflatten(2, (2, 2)), (8, 4), "Unflatten(dim=2, unflattened_size=(2, 2)): expected an input with at least 3 dimensions, got shape (8, 4)"),
]


@pytest.mark.parametrize("make, shape, message", WRONG_INPUTS, ids=[m.split(":")[0] + f"-{s}" for _, s, m in WRONG_INPUTS])
def test_wrong_input_shapes_are_named_with_the_layer(make, shape, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        make()(minigan.zeros(*shape))


def test_a_single_sample_is_fine_in_eval_mode():
    bn = nn.BatchNorm1d(3).eval()
    assert bn(minigan.randn(1, 3)).shape == (1, 3)


# ---------------------------------------------------------------- BatchNorm

def test_batchnorm_training_normalizes_and_updates_running_statistics():
    bn = nn.BatchNorm2d(3)
    bn.weight.data = bn.weight.data * 2.0
    x = minigan.randn(4, 3, 2, 2) * 3.0 + 1.0
    out = bn(x).numpy()
    host = x.numpy()
    mean, var = host.mean(axis=(0, 2, 3)), host.var(axis=(0, 2, 3))
    close(out, 2.0 * (host - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5), rtol=1e-4, atol=1e-5)
    close(bn.running_mean, 0.1 * mean, rtol=1e-4)
    close(bn.running_var, 0.9 + 0.1 * var * 16 / 15, rtol=1e-4)  # the unbiased variance, as in PyTorch
    assert bn.num_batches_tracked.item() == 1 and bn.num_batches_tracked.dtype == "int64"
    bn(x)
    assert bn.num_batches_tracked.item() == 2


def test_batchnorm_eval_uses_running_statistics_and_changes_nothing():
    bn = nn.BatchNorm1d(2).eval()
    bn.running_mean.data = bn.running_mean.data + 1.0
    bn.running_var.data = bn.running_var.data * 4.0
    x = minigan.randn(5, 2, 3)  # BatchNorm1d also takes (N, C, L)
    close(bn(x), (x.numpy() - 1.0) / np.sqrt(4.0 + 1e-5))
    assert bn.num_batches_tracked.item() == 0
    close(bn.running_mean, np.ones(2))


def test_batchnorm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [minigan.randn(6, 2) + float(k) for k in range(3)]
    for x in batches:
        bn(x)
    close(bn.running_mean, np.mean([x.numpy().mean(axis=0) for x in batches], axis=0), rtol=1e-4)


def test_batchnorm_without_running_statistics_or_affine_parameters():
    bn = nn.BatchNorm2d(2, affine=False, track_running_stats=False)
    assert list(bn.parameters()) == [] and list(bn.state_dict()) == []
    assert bn.running_mean is None and bn.weight is None
    x = minigan.randn(3, 2, 2, 2)
    bn.eval()  # no running statistics: batch statistics even in eval mode, as in PyTorch
    host = x.numpy()
    close(bn(x), (host - host.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(host.var(axis=(0, 2, 3), keepdims=True) + 1e-5), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- activations, dropout, reshaping

@pytest.mark.parametrize("layer, reference", [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.LeakyReLU(), lambda x: np.where(x > 0, x, 0.01 * x)),
    (nn.Tanh(), np.tanh),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
])
def test_activations_match_their_formulas_on_any_shape(layer, reference):
    x = minigan.randn(2, 3, 4) * 3.0
    close(layer(x), reference(x.numpy()))


def test_dropout_zeros_a_fraction_p_and_rescales_the_rest():
    drop = nn.Dropout(0.3)
    x = minigan.ones(200, 100)
    out = drop(x).numpy()
    assert np.all((out == 0) | np.isclose(out, 1 / 0.7))
    assert abs((out == 0).mean() - 0.3) < 0.02
    drop.eval()
    assert drop(x) is x or np.array_equal(drop(x).numpy(), x.numpy())


def test_dropout_masks_are_reproducible_under_manual_seed():
    x = minigan.randn(10, 10)
    minigan.manual_seed(3)
    a = nn.Dropout()(x).numpy()
    minigan.manual_seed(3)
    b = nn.Dropout()(x).numpy()
    np.testing.assert_array_equal(a, b)


def test_flatten_and_unflatten_invert_each_other():
    x = minigan.randn(2, 3, 4, 5)
    flat = nn.Flatten()(x)
    assert flat.shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)
    back = nn.Unflatten(1, (3, 4, 5))(flat)
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    assert nn.Unflatten(-1, (-1, 2))(flat).shape == (2, 30, 2)


# ---------------------------------------------------------------- whole models

def test_dcgan_generator_and_discriminator_shapes_and_gradients():
    generator = nn.Sequential(
        nn.Linear(100, 128 * 7 * 7), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(),
    )
    discriminator = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128),
        nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(128 * 7 * 7, 1),
    )
    images = generator(minigan.randn(3, 100))
    assert images.shape == (3, 1, 28, 28) and float(images.abs().amax().item()) <= 1.0
    logits = discriminator(images)
    assert logits.shape == (3, 1)
    logits.sum().backward()
    for name, p in list(generator.named_parameters()) + list(discriminator.named_parameters()):
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert math.isfinite(float(p.grad.abs().sum().item())), name


# ---------------------------------------------------------------- summary

def test_summary_of_a_small_dcgan_generator(capsys):
    generator = nn.Sequential(
        nn.Linear(100, 128 * 7 * 7), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(),
    )
    generator[5].eval()  # a mixed mode, to be restored exactly
    generator[0].bias.requires_grad_(False)
    before = {k: v.numpy().copy() for k, v in generator.state_dict().items()}
    text = nn.summary(generator, (16, 100))
    assert capsys.readouterr().out.strip() == text.strip()
    rows = [line.split() for line in text.splitlines()]
    table = {row[0]: (row[1], " ".join(row[2:-1]), row[-1]) for row in rows if row and row[0].isdigit()}
    assert table == {
        "0": ("Linear", "(16, 6272)", "633,472"),
        "1": ("Unflatten", "(16, 128, 7, 7)", "0"),
        "2": ("BatchNorm2d", "(16, 128, 7, 7)", "256"),
        "3": ("ReLU", "(16, 128, 7, 7)", "0"),
        "4": ("ConvTranspose2d", "(16, 64, 14, 14)", "131,136"),
        "5": ("BatchNorm2d", "(16, 64, 14, 14)", "128"),
        "6": ("ReLU", "(16, 64, 14, 14)", "0"),
        "7": ("ConvTranspose2d", "(16, 1, 28, 28)", "1,025"),
        "8": ("Tanh", "(16, 1, 28, 28)", "0"),
    }
    assert "Total params: 766,017" in text
    assert "Trainable params: 759,745" in text and "Non-trainable params: 6,272" in text
    assert generator.training and not generator[5].training and generator[2].training
    for key, value in generator.state_dict().items():  # eval mode: running statistics untouched
        np.testing.assert_array_equal(value.numpy(), before[key], err_msg=key)
    assert all(not list(m._forward_hooks) for m in generator.modules())


def test_summary_names_nested_layers_and_returns_quietly():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU())
            self.head = nn.Linear(8 * 4 * 4, 10)

        def forward(self, x):
            return self.head(self.features(x).flatten(1))

    text = nn.summary(Net(), (2, 3, 8, 8), print_table=False)
    lines = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith(("features", "head"))}
    assert lines["features.0"][1:] == ["Conv2d", "(2,", "8,", "4,", "4)", "224"]
    assert lines["head"][1:] == ["Linear", "(2,", "10)", "1,290"]
    assert "Total params: 1,514" in text
