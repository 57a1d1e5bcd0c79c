"""Optimizers, gradient clipping and EMA against their update rules written out here with NumPy.

Each reference below is the algorithm box of the PyTorch documentation (torch.optim.SGD,
RMSprop, Adam, AdamW), written independently of minigan in float64. A small problem
with parameters of several shapes is optimized for 15 steps by minigan (float32) and
by the reference, and the parameters are compared after every step. When torch is
installed the same trajectories are compared with torch.optim as well.
"""

import copy
import math

import numpy as np
import pytest

import minigan
from minigan import backend, nn, optim
from minigan.gan.checkpoint import load_checkpoint, save_checkpoint

try:
    import torch
except ImportError:  # minigan never needs torch; these comparisons are optional
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

SHAPES = [(3,), (2, 3), (2, 1, 2, 2)]
STEPS = 15


def initial_values(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, shape).astype(np.float32) for shape in SHAPES]


def coefficients(seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(0.5, 2.0, shape), rng.uniform(-1.0, 1.0, shape)) for shape in SHAPES]


COEFFS = coefficients()


def loss_of(params):
    """f(p) = sum_i [c_i p_i^2 / 2 + d_i p_i + p_i^4 / 4]: a curved, non-quadratic bowl."""
    total = 0.0
    for p, (c, d) in zip(params, COEFFS):
        c_t = minigan.tensor(c.astype(np.float32))
        d_t = minigan.tensor(d.astype(np.float32))
        total = total + (0.5 * c_t * p * p + d_t * p + 0.25 * p * p * p * p).sum()
    return total


def gradient_np(values):
    return [c * p + d + p ** 3 for p, (c, d) in zip(values, COEFFS)]


def make_params(values=None):
    values = initial_values() if values is None else values
    return [minigan.tensor(v.copy(), requires_grad=True) for v in values]


def minigan_trajectory(make_optimizer, steps=STEPS, params=None):
    params = make_params() if params is None else params
    opt = make_optimizer(params)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(params).backward()
        opt.step()
        trajectory.append([p.numpy().astype(np.float64) for p in params])
    return trajectory


# ---------------------------------------------------------------- the references (PyTorch's documented algorithms)

def reference_sgd(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, steps=STEPS):
    params = [v.astype(np.float64) for v in initial_values()]
    buffers = [None] * len(params)
    out = []
    for t in range(1, steps + 1):
        grads = gradient_np(params)
        for i, (p, g) in enumerate(zip(params, grads)):
            if weight_decay:
                g = g + weight_decay * p
            if momentum:
                if t > 1:
                    buffers[i] = momentum * buffers[i] + (1 - dampening) * g
                else:
                    buffers[i] = g
                g = g + momentum * buffers[i] if nesterov else buffers[i]
            params[i] = p - lr * g
        out.append([p.copy() for p in params])
    return out


def reference_rmsprop(lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, steps=STEPS):
    params = [v.astype(np.float64) for v in initial_values()]
    v = [np.zeros_like(p) for p in params]
    g_avg = [np.zeros_like(p) for p in params]
    buf = [np.zeros_like(p) for p in params]
    out = []
    for _ in range(steps):
        grads = gradient_np(params)
        for i, (p, g) in enumerate(zip(params, grads)):
            if weight_decay:
                g = g + weight_decay * p
            v[i] = alpha * v[i] + (1 - alpha) * g ** 2
            v_tilde = v[i]
            if centered:
                g_avg[i] = alpha * g_avg[i] + (1 - alpha) * g
                v_tilde = v_tilde - g_avg[i] ** 2
            if momentum > 0:
                buf[i] = momentum * buf[i] + g / (np.sqrt(v_tilde) + eps)
                params[i] = p - lr * buf[i]
            else:
                params[i] = p - lr * g / (np.sqrt(v_tilde) + eps)
        out.append([p.copy() for p in params])
    return out


def reference_adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False, steps=STEPS):
    b1, b2 = betas
    params = [v.astype(np.float64) for v in initial_values()]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    v_max = [np.zeros_like(p) for p in params]
    out = []
    for t in range(1, steps + 1):
        grads = gradient_np(params)
        for i, (p, g) in enumerate(zip(params, grads)):
            if weight_decay and decoupled:
                p = p - lr * weight_decay * p  # AdamW: theta_t = theta_{t-1} - gamma lambda theta_{t-1}
            elif weight_decay:
                g = g + weight_decay * p
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g ** 2
            m_hat = m[i] / (1 - b1 ** t)
            if amsgrad:
                v_max[i] = np.maximum(v_max[i], v[i])
                v_hat = v_max[i] / (1 - b2 ** t)
            else:
                v_hat = v[i] / (1 - b2 ** t)
            params[i] = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append([p.copy() for p in params])
    return out


def assert_trajectories_match(actual, expected, rtol=2e-5, atol=2e-6):
    assert len(actual) == len(expected)
    for step, (got, want) in enumerate(zip(actual, expected), start=1):
        for k, (g, w) in enumerate(zip(got, want)):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"step {step}, parameter {k} {SHAPES[k]}")


def assert_moved(trajectory):
    """The problem is not trivial: the parameters move, by different amounts per element."""
    start = initial_values()
    for end, begin in zip(trajectory[-1], start):
        assert np.all(np.abs(end - begin) > 1e-3)


SGD_CASES = {
    "plain": dict(lr=0.05),
    "momentum": dict(lr=0.03, momentum=0.9),
    "dampening": dict(lr=0.03, momentum=0.8, dampening=0.3),
    "nesterov": dict(lr=0.03, momentum=0.9, nesterov=True),
    "weight_decay": dict(lr=0.05, weight_decay=0.1),
    "all": dict(lr=0.02, momentum=0.7, weight_decay=0.05, nesterov=True),
}

RMSPROP_CASES = {
    "plain": dict(lr=0.01),
    "alpha_eps": dict(lr=0.01, alpha=0.9, eps=1e-3),
    "centered": dict(lr=0.01, centered=True),
    "momentum": dict(lr=0.005, momentum=0.9),
    "weight_decay": dict(lr=0.01, weight_decay=0.1),
    "all": dict(lr=0.005, alpha=0.95, momentum=0.5, centered=True, weight_decay=0.05),
}

ADAM_CASES = {
    "default": dict(lr=0.05),
    "betas": dict(lr=0.05, betas=(0.5, 0.9)),
    "eps": dict(lr=0.05, eps=0.1),
    "weight_decay": dict(lr=0.05, weight_decay=0.1),
    "amsgrad": dict(lr=0.05, betas=(0.5, 0.99), amsgrad=True),
    "all": dict(lr=0.03, betas=(0.6, 0.95), eps=1e-6, weight_decay=0.05, amsgrad=True),
}

ADAMW_CASES = {
    "default": dict(lr=0.05),
    "weight_decay": dict(lr=0.05, weight_decay=0.3),
    "amsgrad": dict(lr=0.05, weight_decay=0.1, amsgrad=True, betas=(0.5, 0.99)),
}


@pytest.mark.parametrize("case", SGD_CASES)
def test_sgd_follows_its_update_rule(case):
    options = SGD_CASES[case]
    actual = minigan_trajectory(lambda ps: optim.SGD(ps, **options))
    assert_trajectories_match(actual, reference_sgd(**options))
    assert_moved(actual)


@pytest.mark.parametrize("case", RMSPROP_CASES)
def test_rmsprop_follows_its_update_rule(case):
    options = RMSPROP_CASES[case]
    actual = minigan_trajectory(lambda ps: optim.RMSprop(ps, **options))
    assert_trajectories_match(actual, reference_rmsprop(**options))
    assert_moved(actual)


@pytest.mark.parametrize("case", ADAM_CASES)
def test_adam_follows_its_update_rule(case):
    options = ADAM_CASES[case]
    actual = minigan_trajectory(lambda ps: optim.Adam(ps, **options))
    assert_trajectories_match(actual, reference_adam(**options))
    assert_moved(actual)


@pytest.mark.parametrize("case", ADAMW_CASES)
def test_adamw_follows_its_update_rule(case):
    options = ADAMW_CASES[case]
    actual = minigan_trajectory(lambda ps: optim.AdamW(ps, **options))
    assert_trajectories_match(actual, reference_adam(**{"weight_decay": 1e-2, **options}, decoupled=True))
    assert_moved(actual)


def test_adam_first_step_is_lr_times_the_sign_of_the_gradient():
    """Bias correction makes m_hat / sqrt(v_hat) = g / |g| at t = 1: every element moves by lr."""
    params = make_params()
    opt = optim.Adam(params, lr=0.01, eps=0.0)
    loss_of(params).backward()
    grads = [p.grad.numpy().copy() for p in params]
    opt.step()
    for p, start, g in zip(params, initial_values(), grads):
        np.testing.assert_allclose(p.numpy() - start, -0.01 * np.sign(g), rtol=1e-4)


def test_adamw_and_adam_differ_exactly_when_there_is_weight_decay():
    adam = minigan_trajectory(lambda ps: optim.Adam(ps, lr=0.05, weight_decay=0.1), steps=5)
    adamw = minigan_trajectory(lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.1), steps=5)
    assert not np.allclose(adam[-1][0], adamw[-1][0])
    no_decay = minigan_trajectory(lambda ps: optim.Adam(ps, lr=0.05), steps=5)
    no_decay_w = minigan_trajectory(lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.0), steps=5)
    for a, b in zip(no_decay[-1], no_decay_w[-1]):
        np.testing.assert_array_equal(a, b)


def test_defaults_are_pytorchs():
    p = make_params()
    assert optim.Adam(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2
    assert optim.RMSprop(p).defaults == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False)
    assert optim.SGD(p).defaults == dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)


def test_param_groups_have_their_own_learning_rates():
    params = make_params()
    opt = optim.SGD([{"params": params[:1], "lr": 0.1}, {"params": params[1:]}], lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    loss_of(params).backward()
    grads = [p.grad.numpy().copy() for p in params]
    opt.step()
    for p, start, g, lr in zip(params, initial_values(), grads, [0.1, 0.01, 0.01]):
        np.testing.assert_allclose(p.numpy(), start - lr * g, rtol=1e-6)


def test_the_optimizer_works_on_the_session_device(device):
    params = make_params()
    opt = optim.Adam(params, lr=0.1)
    loss_of(params).backward()
    opt.step()
    for p in params:
        assert p.device == device and p.dtype == "float32" and p.is_leaf and p.requires_grad
    assert all(backend.device_of(v) == device for s in opt.state.values() for v in s.values() if hasattr(v, "shape"))


# ---------------------------------------------------------------- against torch.optim

def torch_trajectory(make_optimizer, steps=STEPS):
    params = [torch.tensor(v.copy(), requires_grad=True) for v in initial_values()]
    opt = make_optimizer(params)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = sum(
            (0.5 * torch.tensor(c, dtype=torch.float32) * p * p + torch.tensor(d, dtype=torch.float32) * p + 0.25 * p ** 4).sum()
            for p, (c, d) in zip(params, COEFFS)
        )
        loss.backward()
        opt.step()
        out.append([p.detach().numpy().astype(np.float64) for p in params])
    return out


TORCH_CASES = (
    [("SGD", options) for options in SGD_CASES.values()]
    + [("RMSprop", options) for options in RMSPROP_CASES.values()]
    + [("Adam", options) for options in ADAM_CASES.values()]
    + [("AdamW", options) for options in ADAMW_CASES.values()]
)


@needs_torch
@pytest.mark.parametrize("name, options", TORCH_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TORCH_CASES)])
def test_trajectories_match_torch_optim(name, options):
    actual = minigan_trajectory(lambda ps: getattr(optim, name)(ps, **options))
    expected = torch_trajectory(lambda ps: getattr(torch.optim, name)(ps, **options))
    assert_trajectories_match(actual, expected)


# ---------------------------------------------------------------- bookkeeping

INVALID = [
    (optim.SGD, dict(lr=-0.1), "learning rate"),
    (optim.SGD, dict(momentum=-0.5), "momentum"),
    (optim.SGD, dict(weight_decay=-1.0), "weight_decay"),
    (optim.SGD, dict(nesterov=True), "Nesterov"),
    (optim.SGD, dict(nesterov=True, momentum=0.9, dampening=0.1), "Nesterov"),
    (optim.RMSprop, dict(lr=-1.0), "learning rate"),
    (optim.RMSprop, dict(alpha=1.5), "alpha"),
    (optim.RMSprop, dict(eps=-1e-8), "eps"),
    (optim.RMSprop, dict(momentum=-0.1), "momentum"),
    (optim.Adam, dict(lr=-1e-3), "learning rate"),
    (optim.Adam, dict(betas=(1.0, 0.999)), "betas"),
    (optim.Adam, dict(betas=(0.9, -0.1)), "betas"),
    (optim.Adam, dict(eps=-1.0), "eps"),
    (optim.Adam, dict(weight_decay=-0.1), "weight_decay"),
    (optim.AdamW, dict(betas=(0.9, 1.2)), "betas"),
]


@pytest.mark.parametrize("cls, options, words", INVALID, ids=[f"{c.__name__}-{o}" for c, o, _ in INVALID])
def test_invalid_hyper_parameters_raise(cls, options, words):
    with pytest.raises(ValueError, match=words):
        cls(make_params(), **options)


def test_invalid_parameter_lists_raise():
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="requires_grad"):
        optim.SGD([minigan.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="requires_grad"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="unknown option"):
        optim.SGD([{"params": make_params(), "learning_rate": 0.1}], lr=0.1)


def test_zero_grad_sets_gradients_to_none_or_to_zero():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    loss_of(params).backward()
    opt.zero_grad(set_to_none=False)
    for p in params:
        assert p.grad is not None
        np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape))
    loss_of(params).backward()
    assert all(np.any(p.grad.numpy() != 0) for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_without_zero_grad_gradients_accumulate():
    """Two backward passes without zero_grad step with twice the gradient (as PyTorch)."""
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    loss_of(params).backward()
    loss_of(params).backward()
    opt.step()
    for p, start, g in zip(params, initial_values(), gradient_np([v.astype(np.float64) for v in initial_values()])):
        np.testing.assert_allclose(p.numpy(), start - 0.1 * 2 * g, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [optim.SGD, optim.RMSprop, optim.Adam, optim.AdamW])
def test_parameters_without_a_gradient_are_skipped(cls):
    params = make_params()
    opt = cls(params, lr=0.1, weight_decay=0.1)  # weight decay would move them if they were not skipped
    loss_of(params[:2]).backward()
    assert params[2].grad is None
    opt.step()
    np.testing.assert_array_equal(params[2].numpy(), initial_values()[2])
    assert not np.array_equal(params[0].numpy(), initial_values()[0])
    assert id(params[2]) not in opt.state or not opt.state[id(params[2])]


def test_step_records_no_graph():
    params = make_params()
    opt = optim.Adam(params, lr=0.1)
    loss_of(params).backward()
    opt.step()
    for p in params:
        assert p.is_leaf and p.grad_fn is None


STATEFUL = {
    "sgd-momentum": lambda ps: optim.SGD(ps, lr=0.03, momentum=0.9, nesterov=True),
    "rmsprop-centered": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    "adam-amsgrad": lambda ps: optim.Adam(ps, lr=0.05, betas=(0.5, 0.99), amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.1),
}


def _run(opt, params, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss_of(params).backward()
        opt.step()
    return [p.numpy().copy() for p in params]


@pytest.mark.parametrize("name", STATEFUL)
def test_state_dict_round_trip_through_a_checkpoint_continues_identically(name, tmp_path):
    params = make_params()
    opt = STATEFUL[name](params)
    _run(opt, params, 5)
    save_checkpoint(tmp_path / "opt.npz", {"opt": opt.state_dict(), "params": [p.numpy() for p in params]})
    continued = _run(opt, params, 5)

    saved = load_checkpoint(tmp_path / "opt.npz")
    for p, value in zip(params, saved["params"]):  # the same Parameter objects, back at step 5
        p.data = backend.asarray(value, dtype=p.dtype, device=p.device)
    fresh = STATEFUL[name](params)
    fresh.load_state_dict(saved["opt"])
    restored = _run(fresh, params, 5)
    for a, b in zip(continued, restored):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", STATEFUL)
def test_state_dict_loads_into_an_optimizer_on_new_parameters(name):
    params = make_params()
    opt = STATEFUL[name](params)
    _run(opt, params, 5)
    state = copy.deepcopy(opt.state_dict())
    copies = make_params([p.numpy().copy() for p in params])
    continued = _run(opt, params, 5)
    fresh = STATEFUL[name](copies)
    fresh.load_state_dict(state)
    for a, b in zip(continued, _run(fresh, copies, 5)):
        np.testing.assert_array_equal(a, b)


def test_a_fresh_optimizer_does_not_continue_identically():
    """The round-trip tests above can fail: without the saved state the continuation differs."""
    params = make_params()
    opt = STATEFUL["adam-amsgrad"](params)
    _run(opt, params, 5)
    copies = make_params([p.numpy().copy() for p in params])
    continued = _run(opt, params, 5)
    fresh = _run(STATEFUL["adam-amsgrad"](copies), copies, 5)
    assert not np.array_equal(continued[0], fresh[0])


def test_state_dict_layout_is_pytorchs():
    params = make_params()
    opt = optim.Adam(params, lr=0.05)
    _run(opt, params, 2)
    state = opt.state_dict()
    assert set(state) == {"state", "param_groups"}
    assert state["param_groups"][0]["params"] == [0, 1, 2]
    assert state["param_groups"][0]["lr"] == 0.05
    assert set(state["state"]) == {0, 1, 2}
    assert state["state"][1]["step"] == 2
    assert isinstance(state["state"][1]["exp_avg"], np.ndarray) and state["state"][1]["exp_avg"].shape == (2, 3)


def test_state_dict_is_a_snapshot_that_later_steps_do_not_change():
    """state_dict() returns host NumPy arrays; stepping on must not rewrite them behind the caller's back.

    Otherwise ``best = opt.state_dict()`` silently follows the live optimizer, its
    step counter and its moment estimates disagree, and whether that happens
    depends on the device (a GPU's arrays are copied to the host, NumPy's are not).
    """
    params = make_params()
    opt = optim.Adam(params, lr=0.05)
    _run(opt, params, 2)
    state = opt.state_dict()
    frozen = copy.deepcopy(state)
    _run(opt, params, 3)
    assert state["state"][0]["step"] == frozen["state"][0]["step"] == 2
    for i in range(3):
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(state["state"][i][key], frozen["state"][i][key], err_msg=f"state {i} {key}")


def test_load_state_dict_refuses_a_mismatched_layout():
    params = make_params()
    opt = optim.Adam(params, lr=0.05)
    _run(opt, params, 1)
    state = opt.state_dict()
    with pytest.raises(ValueError, match="parameters"):
        optim.Adam(make_params()[:2], lr=0.05).load_state_dict(state)
    with pytest.raises(ValueError, match="groups"):
        ps = make_params()
        optim.Adam([{"params": ps[:1]}, {"params": ps[1:]}], lr=0.05).load_state_dict(state)


def test_load_state_dict_restores_hyper_parameters():
    params = make_params()
    opt = optim.SGD(params, lr=0.5, momentum=0.9)
    fresh = optim.SGD(make_params(), lr=0.01)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.param_groups[0]["lr"] == 0.5 and fresh.param_groups[0]["momentum"] == 0.9


# ---------------------------------------------------------------- gradient clipping

def _with_grads(grads):
    params = [minigan.tensor(np.zeros_like(g, dtype=np.float32), requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = minigan.tensor(np.asarray(g, dtype=np.float32))
    return params


def test_clip_grad_norm_returns_the_global_norm_and_scales_to_max_norm():
    grads = [np.array([3.0, 0.0]), np.array([[0.0, 4.0], [12.0, 0.0]])]  # global norm 13
    params = _with_grads(grads)
    total = optim.clip_grad_norm_(params, max_norm=1.3)
    assert isinstance(total, float) and total == pytest.approx(13.0, rel=1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * 0.1, rtol=1e-5)  # one scale for all: directions kept
    new_norm = math.sqrt(sum(float(np.sum(p.grad.numpy().astype(np.float64) ** 2)) for p in params))
    assert new_norm == pytest.approx(1.3, rel=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone():
    grads = [np.array([0.3, -0.4])]
    params = _with_grads(grads)
    assert optim.clip_grad_norm_(params, max_norm=1.0) == pytest.approx(0.5, rel=1e-6)
    np.testing.assert_array_equal(params[0].grad.numpy(), grads[0].astype(np.float32))


def test_clip_grad_norm_with_the_infinity_and_one_norms():
    grads = [np.array([1.0, -5.0]), np.array([2.0, 0.5])]
    params = _with_grads(grads)
    assert optim.clip_grad_norm_(params, max_norm=2.5, norm_type=float("inf")) == pytest.approx(5.0)
    np.testing.assert_allclose(params[0].grad.numpy(), [0.5, -2.5], rtol=1e-5)
    np.testing.assert_allclose(params[1].grad.numpy(), [1.0, 0.25], rtol=1e-5)
    params = _with_grads(grads)
    assert optim.clip_grad_norm_(params, max_norm=100.0, norm_type=1) == pytest.approx(8.5)


def test_clip_grad_norm_skips_parameters_without_gradients_and_accepts_one_tensor():
    params = _with_grads([np.array([6.0, 8.0])])
    bare = minigan.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    assert optim.clip_grad_norm_(params + [bare], 5.0) == pytest.approx(10.0)
    assert bare.grad is None
    single = _with_grads([np.array([6.0, 8.0])])[0]
    assert optim.clip_grad_norm_(single, 5.0) == pytest.approx(10.0)
    np.testing.assert_allclose(single.grad.numpy(), [3.0, 4.0], rtol=1e-5)
    assert optim.clip_grad_norm_([bare], 1.0) == 0.0


def test_clip_grad_norm_error_if_nonfinite():
    params = _with_grads([np.array([np.inf, 1.0])])
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        optim.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)


@needs_torch
def test_clip_grad_norm_matches_torch():
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal(s) * 3 for s in SHAPES]
    for norm_type in (2.0, 1.0, 3.0, float("inf")):
        params = _with_grads(grads)
        tparams = [torch.zeros(s, requires_grad=True) for s in SHAPES]
        for t, g in zip(tparams, grads):
            t.grad = torch.tensor(g, dtype=torch.float32)
        total = optim.clip_grad_norm_(params, 1.5, norm_type=norm_type)
        ttotal = torch.nn.utils.clip_grad_norm_(tparams, 1.5, norm_type=norm_type)
        assert total == pytest.approx(float(ttotal), rel=1e-5)
        for p, t in zip(params, tparams):
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_value_clamps_every_element(device):
    grads = [np.array([-3.0, 0.2, 5.0]), np.array([[0.5, -0.05]])]
    params = _with_grads(grads)
    optim.clip_grad_value_(params, 0.3)
    np.testing.assert_allclose(params[0].grad.numpy(), [-0.3, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(params[1].grad.numpy(), [[0.3, -0.05]], rtol=1e-6)
    assert params[0].grad.device == device


# ---------------------------------------------------------------- EMA

def test_ema_follows_its_formula():
    model = nn.Linear(3, 2)
    start = [p.numpy().astype(np.float64) for p in model.parameters()]
    ema = optim.EMA(model, decay=0.9)
    shadow = [s.copy() for s in start]
    rng = np.random.default_rng(0)
    for _ in range(6):
        for p in model.parameters():
            p.data = p.data + backend.asarray(rng.standard_normal(p.shape).astype(np.float32), device=p.device)
        ema.update(model)
        shadow = [0.9 * s + 0.1 * p.numpy() for s, p in zip(shadow, model.parameters())]
    assert ema.num_updates == 6
    for s, p in zip(ema.module.parameters(), shadow):
        np.testing.assert_allclose(s.numpy(), p, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ema.module.weight.numpy(), model.weight.numpy())


def test_ema_copy_is_independent_frozen_and_in_eval_mode():
    model = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
    ema = optim.EMA(model, decay=0.5)
    assert ema.module is not model and not ema.module.training
    assert all(not p.requires_grad for p in ema.module.parameters())
    before = ema.module[0].weight.numpy().copy()
    model[0].weight.data = model[0].weight.data + 1.0
    np.testing.assert_array_equal(ema.module[0].weight.numpy(), before)


def test_ema_copies_buffers_without_sharing_them():
    model = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
    ema = optim.EMA(model, decay=0.5)
    model(minigan.randn(8, 2) * 3 + 1)  # training mode: running statistics move
    ema.update(model)
    np.testing.assert_array_equal(ema.module[1].running_mean.numpy(), model[1].running_mean.numpy())
    copied = ema.module[1].running_mean.numpy().copy()
    model(minigan.randn(8, 2) * 3 + 1)
    np.testing.assert_array_equal(ema.module[1].running_mean.numpy(), copied)


def test_ema_state_dict_round_trip():
    model = nn.Linear(3, 2)
    ema = optim.EMA(model, decay=0.8)
    for _ in range(3):
        model.weight.data = model.weight.data * 1.1
        ema.update(model)
    state = ema.state_dict()
    other = optim.EMA(nn.Linear(3, 2), decay=0.1)
    other.load_state_dict(state)
    assert other.decay == 0.8 and other.num_updates == 3
    for a, b in zip(ema.module.parameters(), other.module.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("decay", [-0.1, 1.0, 2.0])
def test_ema_rejects_a_decay_outside_0_1(decay):
    with pytest.raises(ValueError, match="decay"):
        optim.EMA(nn.Linear(2, 2), decay=decay)
