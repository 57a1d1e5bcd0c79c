"""minigan.profiler: self times per op, backward ops labelled with the backward they ran in."""

import time

import numpy as np
import pytest

import minigan
from minigan import autograd
from minigan.autograd import Function
from minigan.profiler import profile


class Inner(Function):
    def forward(self, x):
        time.sleep(0.05)
        return x * 2

    def backward(self, gy):
        return gy * 2


class Outer(Function):
    """Its backward sleeps 10 ms itself and calls Inner (50 ms): self time must exclude Inner's."""

    def forward(self, x):
        return x + 1

    def backward(self, gy):
        time.sleep(0.01)
        return Inner()(gy)


def test_self_times_and_labels():
    x = minigan.tensor(np.ones(3), requires_grad=True)
    with profile() as prof:
        Outer()(x).sum().backward()
    rows = {label: (calls, ms) for label, calls, ms in prof.rows()}
    assert rows["Outer"][0] == 1
    outer, inner = rows["Outer.backward"], rows["Inner in Outer.backward"]
    assert outer[0] == 1 and inner[0] == 1
    assert outer[1] >= 9 and inner[1] >= 49
    # Outer's self time excludes Inner's 50 ms (with it, Outer's row would be the larger)
    assert outer[1] < inner[1]
    # the rows plus "outside ops" account for the whole time
    assert sum(ms for _, ms in rows.values()) <= prof.wall * 1e3 + 1e-6
    table = prof.table()
    assert "Inner in Outer.backward" in table and "outside ops" in table and "total" in table


def test_conv_backward_rows():
    x = minigan.randn(2, 3, 8, 8, requires_grad=True)
    w = minigan.randn(4, 3, 3, 3, requires_grad=True)
    with profile() as prof:
        minigan.nn.functional.conv2d(x, w, padding=1).sum().backward()
    labels = {r[0] for r in prof.rows()}
    assert {"Conv2d", "Conv2d.backward", "ConvTranspose2d in Conv2d.backward", "Conv2dGradWeight in Conv2d.backward"} <= labels
    assert "other ops" in prof.table(top=1)


def test_profiles_do_not_nest_and_always_switch_off():
    with pytest.raises(RuntimeError, match="do not nest"):
        with profile():
            with profile():
                pass
    assert autograd._profiler is None
    with pytest.raises(ValueError):
        with profile():
            raise ValueError("boom")
    assert autograd._profiler is None


def test_no_profile_no_rows():
    prof = profile()
    minigan.tensor([1.0], requires_grad=True).exp().sum().backward()
    assert prof.rows() == []
