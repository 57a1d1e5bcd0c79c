"""minigan and PyTorch compute the same GAN training step from the same weights and data.

This is what makes benchmarks/bench_training.py compare equal work. Skipped without torch.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from twins import make_pair, minigan_step, torch_step  # noqa: E402

import minigan  # noqa: E402


@pytest.mark.parametrize("arch, minibatch_std, label_smoothing, pack", [
    ("mlp", 0, 0.0, 1), ("mlp", 0, 0.0, 2), ("dcgan", 0, 0.0, 1), ("dcgan", 4, 0.0, 1), ("dcgan", 4, 0.1, 2)])
def test_same_losses_and_weights_after_two_steps(arch, minibatch_std, label_smoothing, pack, device):
    if device != "cpu":
        pytest.skip("the twins are built on the CPU")
    ours, theirs = make_pair(arch, seed=3, batch=16, minibatch_std=minibatch_std, pack=pack)
    steps = 2
    for _ in range(steps):
        ours_losses = minigan_step(minigan, **ours, label_smoothing=label_smoothing, pack=pack)
        theirs_losses = torch_step(torch, **theirs, label_smoothing=label_smoothing, pack=pack)
        np.testing.assert_allclose(ours_losses, theirs_losses, rtol=1e-4, atol=1e-5)
    # Adam's first steps move every weight by about lr whatever the size of its gradient
    # (m_hat / sqrt(v_hat) = sign(g) at step 1), so a gradient at float32's noise level (a
    # batch norm's backward cancels nearly equal terms) can take a weight lr one way in one
    # framework and the other way in the other. Such weights are rare: all but one in 10^4
    # must agree to float32 tolerance, and none may differ by more than Adam can move it.
    lr = max(group["lr"] for opt in (ours["opt_g"], ours["opt_d"]) for group in opt.param_groups)
    for net in ("g", "d"):
        reference = theirs[net].state_dict()
        for key, value in ours[net].state_dict().items():
            a, b = value.numpy(), reference[key.removeprefix("net.")].numpy()
            close = np.isclose(a, b, rtol=1e-3, atol=1e-4)
            assert close.mean() >= 0.9999, f"{net} {key}: {np.count_nonzero(~close)} of {a.size} weights differ"
            np.testing.assert_allclose(a, b, rtol=0, atol=2 * lr * steps + 1e-4, err_msg=f"{net} {key}")

