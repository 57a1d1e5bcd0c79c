"""Slow, obviously correct NumPy versions of the layer ops, to test the fast ones against.

Each is written straight from the definition, with a Python loop per index and no
im2col or stride tricks: a reader can check it by eye, and the tests then trust
minigan.nn.functional because it agrees with these on many drawn configurations.
Arrays in and out are NumPy float64; stride, padding and dilation are pairs.
"""

from __future__ import annotations

import itertools

import numpy as np


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


# ---------------------------------------------------------------- convolution

def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    """How many window positions fit: start 0, stride, 2 stride, ... while the last tap is inside."""
    padded, span = size + 2 * padding, dilation * (kernel - 1) + 1
    count, start = 0, 0
    while start + span <= padded:
        count, start = count + 1, start + stride
    return count


def conv_transpose_output_size(size, kernel, stride=1, padding=0, output_padding=0, dilation=1):
    """One past the furthest position the scatter reaches, plus output_padding, less padding on both sides."""
    reached = max(p * stride + i * dilation for p in range(size) for i in range(kernel)) + 1
    return reached + output_padding - 2 * padding


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """y[n, o, p, q] = b[o] + sum_{c, i, j} W[o, c, i, j] x_pad[n, c, p sh + i dh, q sw + j dw]."""
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    n, c, h, w = x.shape
    out_channels, _, kh, kw = weight.shape
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    padded[:, :, ph:ph + h, pw:pw + w] = x
    oh = conv_output_size(h, kh, sh, ph, dh)
    ow = conv_output_size(w, kw, sw, pw, dw)
    y = np.zeros((n, out_channels, oh, ow))
    for b, o, p, q in itertools.product(range(n), range(out_channels), range(oh), range(ow)):
        total = 0.0 if bias is None else bias[o]
        for ci, i, j in itertools.product(range(c), range(kh), range(kw)):
            total += weight[o, ci, i, j] * padded[b, ci, p * sh + i * dh, q * sw + j * dw]
        y[b, o, p, q] = total
    return y


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1):
    """Scatter: every input pixel x[n, c, p, q] adds x * W[c, :, i, j] at (p sh + i dh, q sw + j dw).

    The full canvas is then cropped by ``padding`` on every side; ``output_padding``
    extra rows and columns are kept at the bottom and right.
    """
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    (oph, opw) = pair(output_padding)
    n, cin, h, w = x.shape
    _, cout, kh, kw = weight.shape
    full_h = conv_transpose_output_size(h, kh, sh, 0, oph, dh)  # uncropped: padding 0
    full_w = conv_transpose_output_size(w, kw, sw, 0, opw, dw)
    canvas = np.zeros((n, cout, full_h, full_w))
    for b, c, p, q in itertools.product(range(n), range(cin), range(h), range(w)):
        for i, j in itertools.product(range(kh), range(kw)):
            canvas[b, :, p * sh + i * dh, q * sw + j * dw] += x[b, c, p, q] * weight[c, :, i, j]
    y = canvas[:, :, ph:full_h - ph, pw:full_w - pw]
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1)
    return y


# ---------------------------------------------------------------- batch normalization

def _channel_values(x, channel):
    """Every value of one channel, over the batch and the pixels, as a flat list."""
    return np.array([x[(b, channel) + rest] for b in range(x.shape[0]) for rest in np.ndindex(*x.shape[2:])])


def batch_norm_train(x, running_mean, running_var, weight, bias, momentum=0.1, eps=1e-5):
    """Batch statistics per channel; returns (y, new running_mean, new running_var).

    The output uses the biased variance (divide by m); the running variance moves
    towards the unbiased one (divide by m - 1), as PyTorch does.
    """
    y = np.zeros_like(x, dtype=np.float64)
    new_mean, new_var = np.array(running_mean, dtype=np.float64), np.array(running_var, dtype=np.float64)
    for c in range(x.shape[1]):
        values = _channel_values(x, c)
        m = len(values)
        mean = sum(values) / m
        biased = sum((v - mean) ** 2 for v in values) / m
        unbiased = sum((v - mean) ** 2 for v in values) / (m - 1)
        y[:, c] = (x[:, c] - mean) / np.sqrt(biased + eps) * weight[c] + bias[c]
        new_mean[c] = (1 - momentum) * running_mean[c] + momentum * mean
        new_var[c] = (1 - momentum) * running_var[c] + momentum * unbiased
    return y, new_mean, new_var


def batch_norm_eval(x, running_mean, running_var, weight, bias, eps=1e-5):
    """y = (x - running_mean) / sqrt(running_var + eps) * weight + bias, per channel."""
    y = np.zeros_like(x, dtype=np.float64)
    for c in range(x.shape[1]):
        y[:, c] = (x[:, c] - running_mean[c]) / np.sqrt(running_var[c] + eps) * weight[c] + bias[c]
    return y
