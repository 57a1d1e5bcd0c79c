"""The gradient checkers themselves: they pass correct ops and catch wrong ones, saying where.

A checker that never fails checks nothing, so most tests here hand it a deliberately
broken Function and read its message.
"""

import re

import numpy as np
import pytest
from strategies import leaf

import minigan
from minigan import Function, GradcheckError, Tensor


class Square(Function):
    """y = a^2, with its backward written in Tensor ops (differentiable again)."""

    def forward(self, a):
        return a * a

    def backward(self, gy):
        (a,) = self.inputs
        return gy * 2.0 * a


class WrongSquare(Square):
    """Claims dy/da = 3a instead of 2a."""

    def backward(self, gy):
        (a,) = self.inputs
        return gy * 3.0 * a


class ConstantGradSquare(Square):
    """The right first derivative, computed on raw arrays and wrapped in a constant Tensor.

    Its value is correct, but autograd cannot see how it depends on a: with
    create_graph=True the gradient is a constant, so every second derivative is lost.
    """

    def backward(self, gy):
        (a,) = self.inputs
        return Tensor(2.0 * a.data * gy.data)


class WrongSecondInput(Function):
    """y = a * b; the gradient of b is wrong (a + 1 instead of a), a's is right."""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return gy * b, gy * (a + 1.0)


def numbers_after(label, message):
    match = re.search(label + r" (-?[\d.]+(?:e[-+]?\d+)?)", message)
    assert match, f"no '{label} <number>' in: {message}"
    return float(match.group(1))


def test_gradcheck_refuses_float32_and_says_why():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError) as err:
        minigan.gradcheck(lambda a: a * 2.0, (x,))
    message = str(err.value)
    assert "float64" in message and "float32" in message and "input 0" in message
    assert "roundoff" in message or "rounding" in message  # the reason, not only the rule
    with pytest.raises(TypeError, match="float64"):
        minigan.gradgradcheck(lambda a: a * 2.0, (x,))


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        minigan.gradcheck(lambda a: a * 2.0, (leaf([1.0], requires_grad=False),))


def test_correct_function_passes_both_checks():
    x = leaf([[0.5, -2.0], [1.0, 0.25]])
    assert minigan.gradcheck(lambda a: Square()(a), (x,))
    assert minigan.gradgradcheck(lambda a: Square()(a), (x,))


def test_wrong_backward_is_caught_with_input_element_and_both_values():
    x = leaf([[0.5, -2.0], [1.0, 0.25]])
    with pytest.raises(GradcheckError) as err:
        minigan.gradcheck(lambda a: WrongSquare()(a), (x,))
    message = str(err.value)
    # The worst element is the largest |a|: analytic 3a = -6, numeric 2a = -4 at (0, 1).
    assert "input 0" in message
    assert "element (0, 1)" in message
    assert numbers_after("analytic", message) == pytest.approx(-6.0)
    assert numbers_after("numeric", message) == pytest.approx(-4.0, abs=1e-6)


def test_raise_exception_false_returns_false():
    x = leaf([1.0, 2.0])
    assert minigan.gradcheck(lambda a: WrongSquare()(a), (x,), raise_exception=False) is False
    assert minigan.gradcheck(lambda a: Square()(a), (x,), raise_exception=False) is True


def test_the_failing_input_is_named_by_its_index():
    a, b = leaf([1.0, 2.0]), leaf([3.0, -1.0])
    with pytest.raises(GradcheckError, match="input 1"):
        minigan.gradcheck(lambda a, b: WrongSecondInput()(a, b), (a, b))


def test_inputs_that_do_not_require_grad_are_not_checked():
    a, b = leaf([1.0, 2.0]), leaf([3.0, -1.0], requires_grad=False)
    # b's gradient is wrong, but nobody asked for it.
    assert minigan.gradcheck(lambda a, b: WrongSecondInput()(a, b), (a, b))


def test_non_tensor_arguments_are_passed_through():
    x = leaf([1.0, 2.0])
    assert minigan.gradcheck(lambda a, scale: a * scale, (x, 3.0))


def test_gradgradcheck_catches_a_backward_that_is_right_but_not_differentiable():
    x = leaf([[0.5, -2.0], [1.0, 0.25]])
    assert minigan.gradcheck(lambda a: ConstantGradSquare()(a), (x,))  # first order is fine
    with pytest.raises(GradcheckError) as err:
        minigan.gradgradcheck(lambda a: ConstantGradSquare()(a), (x,))
    assert "gradgradcheck" in str(err.value)


class Double(Function):
    """y = 2a, with a wrong backward (3 gy): a bug that only second derivatives reach."""

    def forward(self, a):
        return 2.0 * a

    def backward(self, gy):
        return gy * 3.0


class SquareWithWrongDoubleBackward(Square):
    def backward(self, gy):
        (a,) = self.inputs
        return gy * Double()(a)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    x = leaf([1.0, -0.5])
    assert minigan.gradcheck(lambda a: SquareWithWrongDoubleBackward()(a), (x,))
    with pytest.raises(GradcheckError, match="input 0"):
        minigan.gradgradcheck(lambda a: SquareWithWrongDoubleBackward()(a), (x,))


def test_gradgradcheck_assumes_first_derivatives_were_checked():
    # x, v -> 3 x v is a consistent map even though 3x is the wrong derivative of x^2:
    # gradgradcheck checks the derivatives of the gradient, which is why both checks run.
    x = leaf([1.0, -0.5])
    assert minigan.gradgradcheck(lambda a: WrongSquare()(a), (x,))
    with pytest.raises(GradcheckError):
        minigan.gradcheck(lambda a: WrongSquare()(a), (x,))


def test_multiple_outputs_are_all_checked():
    a, b = leaf([1.0, 2.0]), leaf([0.5, -1.5])
    assert minigan.gradcheck(lambda a, b: (a * b, a + b.exp()), (a, b))
    assert minigan.gradgradcheck(lambda a, b: (a * b, a + b.exp()), (a, b))
    # A wrong derivative in the second output only is still found.
    with pytest.raises(GradcheckError):
        minigan.gradcheck(lambda a, b: (a * b, WrongSquare()(a)), (a, b))


def test_an_output_that_does_not_depend_on_the_inputs_is_allowed():
    a = leaf([1.0, 2.0])
    constant = minigan.tensor([5.0], dtype="float64")
    assert minigan.gradcheck(lambda a: (a * 2.0, constant), (a,))


def test_report_values():
    from minigan.gradcheck import check_gradients

    x = leaf([1.0, 2.0])
    good = check_gradients(lambda a: Square()(a), (x,))
    assert good.passed and good.max_abs_error < 1e-6
    np.testing.assert_allclose(good.analytic[0], np.diag([2.0, 4.0]))
    bad = check_gradients(lambda a: WrongSquare()(a), (x,))
    assert not bad.passed and bad.max_abs_error == pytest.approx(2.0, rel=1e-6)


def test_gradgradcheck_leaves_the_random_stream_alone():
    minigan.manual_seed(3)
    expected = minigan.randn(3).numpy()
    minigan.manual_seed(3)
    minigan.gradgradcheck(lambda a: Square()(a), (leaf([1.0, 2.0]),))
    np.testing.assert_array_equal(minigan.randn(3).numpy(), expected)


def test_checks_restore_the_input_values():
    x = leaf([1.0, 2.0])
    before = x.numpy().copy()
    minigan.gradcheck(lambda a: Square()(a), (x,))
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.device == minigan.get_device()
