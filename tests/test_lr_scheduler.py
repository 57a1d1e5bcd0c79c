"""Learning-rate schedules: LambdaLR, LinearLR (to 0 at T) and CosineAnnealingLR, and resuming them.

The expected learning rates are the closed forms of each schedule, computed here
for every step t = 0..T+3 (and compared with torch.optim.lr_scheduler when torch
is installed).
"""

import math

import numpy as np
import pytest

import minigan
from minigan import optim

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def make_optimizer(lr=0.1, groups=None):
    params = [minigan.tensor(np.ones(3, dtype=np.float32), requires_grad=True),
              minigan.tensor(np.ones(2, dtype=np.float32), requires_grad=True)]
    if groups:
        return optim.SGD([{"params": [p], "lr": g} for p, g in zip(params, groups)], lr=lr)
    return optim.SGD(params, lr=lr)


def lrs_over(scheduler, optimizer, steps):
    """The learning rate of each group before step 0, 1, ..., steps (calling step() as a training loop does)."""
    out = [[g["lr"] for g in optimizer.param_groups]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        out.append([g["lr"] for g in optimizer.param_groups])
    return np.array(out)


def test_lambda_lr_multiplies_the_initial_lr():
    opt = make_optimizer(0.2)
    sched = optim.LambdaLR(opt, lambda t: 0.5 ** t)
    lrs = lrs_over(sched, opt, 5)
    np.testing.assert_allclose(lrs[:, 0], 0.2 * 0.5 ** np.arange(6), rtol=1e-12)
    assert sched.get_last_lr() == [pytest.approx(0.2 * 0.5 ** 5)]
    assert opt.param_groups[0]["initial_lr"] == 0.2


def test_linear_lr_decays_to_zero_at_total_steps_and_stays_there():
    T = 10
    opt = make_optimizer(0.1)
    lrs = lrs_over(optim.LinearLR(opt, T), opt, T + 3)
    t = np.arange(T + 4)
    expected = 0.1 * (1.0 - np.minimum(t, T) / T)
    np.testing.assert_allclose(lrs[:, 0], expected, rtol=1e-12, atol=1e-15)
    assert lrs[T, 0] == 0.0 and lrs[T + 3, 0] == 0.0
    assert lrs[T // 2, 0] == pytest.approx(0.05)


def test_linear_lr_with_an_end_factor():
    opt = make_optimizer(0.1)
    lrs = lrs_over(optim.LinearLR(opt, 4, end_factor=0.25), opt, 6)
    np.testing.assert_allclose(lrs[:, 0], 0.1 * np.array([1.0, 0.8125, 0.625, 0.4375, 0.25, 0.25, 0.25]), rtol=1e-12)


def test_cosine_follows_its_formula():
    T, eta_min = 12, 0.01
    opt = make_optimizer(0.1)
    lrs = lrs_over(optim.CosineAnnealingLR(opt, T, eta_min=eta_min), opt, T + 3)
    t = np.minimum(np.arange(T + 4), T)
    expected = eta_min + (0.1 - eta_min) * (1 + np.cos(np.pi * t / T)) / 2
    np.testing.assert_allclose(lrs[:, 0], expected, rtol=1e-12)
    assert lrs[0, 0] == pytest.approx(0.1) and lrs[T, 0] == pytest.approx(eta_min)
    assert lrs[T // 2, 0] == pytest.approx((0.1 + eta_min) / 2)


def test_every_group_follows_the_schedule_from_its_own_lr():
    opt = make_optimizer(groups=[0.1, 0.02])
    lrs = lrs_over(optim.LinearLR(opt, 4), opt, 4)
    np.testing.assert_allclose(lrs[:, 1], 0.02 * np.array([1.0, 0.75, 0.5, 0.25, 0.0]), rtol=1e-12, atol=1e-15)


def test_cosine_brings_every_group_to_eta_min():
    """eta_min is an absolute learning rate (as in PyTorch): each group anneals from its own lr down to it."""
    T, eta_min = 8, 0.001
    opt = make_optimizer(groups=[0.1, 0.01])
    lrs = lrs_over(optim.CosineAnnealingLR(opt, T, eta_min=eta_min), opt, T)
    t = np.arange(T + 1)
    for column, lr0 in enumerate([0.1, 0.01]):
        expected = eta_min + (lr0 - eta_min) * (1 + np.cos(np.pi * t / T)) / 2
        np.testing.assert_allclose(lrs[:, column], expected, rtol=1e-12, err_msg=f"group {column} (lr {lr0})")


@pytest.mark.parametrize("cls", [optim.LinearLR, optim.CosineAnnealingLR])
@pytest.mark.parametrize("total_steps", [0, -3])
def test_schedules_need_a_positive_length(cls, total_steps):
    with pytest.raises(ValueError, match="total_steps"):
        cls(make_optimizer(), total_steps)


@pytest.mark.parametrize("make", [
    lambda opt: optim.LinearLR(opt, 20),
    lambda opt: optim.CosineAnnealingLR(opt, 20, eta_min=0.005),
    lambda opt: optim.LambdaLR(opt, lambda t: 1.0 / (1 + t)),
], ids=["linear", "cosine", "lambda"])
def test_state_dict_resume_gives_the_same_learning_rates(make):
    opt = make_optimizer(0.1)
    sched = make(opt)
    lrs_over(sched, opt, 7)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    assert sched_state == {"last_step": 7}
    rest = lrs_over(sched, opt, 6)

    fresh_opt = make_optimizer(0.1)
    fresh = make(fresh_opt)
    fresh_opt.load_state_dict(opt_state)
    fresh.load_state_dict(sched_state)
    assert fresh.last_step == 7
    np.testing.assert_array_equal(lrs_over(fresh, fresh_opt, 6), rest)


def test_a_scheduler_changes_the_optimizers_steps():
    """The schedule reaches the update: with lr 0 at T, SGD stops moving the parameters."""
    opt = make_optimizer(0.1)
    p = opt.param_groups[0]["params"][0]
    sched = optim.LinearLR(opt, 2)
    for _ in range(2):
        p.grad = minigan.ones(3)
        opt.step()
        sched.step()
    before = p.numpy().copy()
    np.testing.assert_allclose(before, 1.0 - 0.1 - 0.05, rtol=1e-6)
    p.grad = minigan.ones(3)
    opt.step()
    np.testing.assert_array_equal(p.numpy(), before)


TORCH_SCHEDULES = {
    "linear": (lambda o: optim.LinearLR(o, 10),
               lambda o: torch.optim.lr_scheduler.LinearLR(o, 1.0, 0.0, total_iters=10)),
    "cosine": (lambda o: optim.CosineAnnealingLR(o, 10, eta_min=0.002),
               lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10, eta_min=0.002)),
}


@needs_torch
@pytest.mark.parametrize("name", TORCH_SCHEDULES)
def test_schedules_match_torch_with_two_groups(name):
    ours, theirs = TORCH_SCHEDULES[name]
    opt = make_optimizer(groups=[0.1, 0.03])
    mine = lrs_over(ours(opt), opt, 12)
    tparams = [torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)]
    topt = torch.optim.SGD([{"params": [tparams[0]], "lr": 0.1}, {"params": [tparams[1]], "lr": 0.03}])
    tsched = theirs(topt)
    expected = [[g["lr"] for g in topt.param_groups]]
    for _ in range(10):  # torch's cosine keeps going past T (it is periodic); compare up to T
        topt.step()
        tsched.step()
        expected.append([g["lr"] for g in topt.param_groups])
    np.testing.assert_allclose(mine[:11], np.array(expected), rtol=1e-9, atol=1e-12)


def test_cosine_midpoint_by_hand():
    opt = make_optimizer(1.0)
    sched = optim.CosineAnnealingLR(opt, 4)
    lrs = lrs_over(sched, opt, 4)[:, 0]
    np.testing.assert_allclose(lrs, [1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2, 0.0],
                               atol=1e-15)
