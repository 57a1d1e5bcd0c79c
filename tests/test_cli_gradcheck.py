"""``python -m minigan gradcheck``: one row per case and order, exit status 0, 1 or 2."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minigan import cli, gradcheck_cases
from minigan.autograd import Function

ROOT = Path(__file__).resolve().parents[1]


def rows(output):
    """The table rows: the lines between the dashed rule and the first blank line."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("---")) + 1
    table = []
    for line in lines[start:]:
        if not line.strip():
            break
        table.append(line)
    return table


def engine_cases():
    """The cases of the engine's own ops (layers register theirs from other modules)."""
    return [c for c in gradcheck_cases.load_all_cases() if c.build.__module__ == "minigan.gradcheck_cases"]


def expected_rows(only, second_order=True):
    return sum(1 + (second_order and c.second_order) for c in gradcheck_cases.load_all_cases() if c.name in only)


def run_main(capsys, *argv):
    status = cli.main(["gradcheck", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_every_engine_case_prints_a_passing_row(capsys, device):
    cases = engine_cases()
    names = sorted({c.name for c in cases})
    assert {"add", "matmul", "getitem", "where"} <= set(names)
    status, out, _ = run_main(capsys, *[arg for name in names for arg in ("--only", name)], "--device", device)
    assert status == 0
    header = out.splitlines()[0]
    for column in ("name", "configuration", "order", "max abs err", "max rel err", "result"):
        assert column in header
    table = rows(out)
    assert len(table) == expected_rows(set(names))
    # In registry order: each case's first-order row, then its second-order row.
    expected = [(c, order) for c in cases for order in ((1, 2) if c.second_order else (1,))]
    for line, (case, order) in zip(table, expected):
        fields = line.split()
        assert fields[0] == case.name and case.config in line and int(fields[-4]) == order
        assert fields[-1] == "pass"
        assert float(fields[-3]) < 1e-4 and float(fields[-2]) < 1e-2  # the errors are numbers, and small
    assert f"all passed ({len(cases)} cases on {device})" in out


def test_only_restricts_the_rows(capsys, device):
    status, out, _ = run_main(capsys, "--only", "matmul", "--device", device)
    assert status == 0
    table = rows(out)
    assert len(table) == expected_rows({"matmul"}) > 0
    assert all(line.split()[0] == "matmul" for line in table)
    assert any("batched" in line for line in table)  # the configuration column


def test_only_is_repeatable_and_first_order_skips_order_2(capsys, device):
    status, out, _ = run_main(capsys, "--only", "exp", "--only", "log", "--first-order", "--device", device)
    assert status == 0
    table = rows(out)
    assert len(table) == expected_rows({"exp", "log"}, second_order=False) == 2
    assert {line.split()[0] for line in table} == {"exp", "log"}
    assert all(line.split()[-4] == "1" for line in table)


def test_unknown_name_exits_2_with_one_clear_line(capsys):
    status, out, err = run_main(capsys, "--only", "not_an_op")
    assert status == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "unknown name not_an_op" in lines[0] and "matmul" in lines[0]  # and the known names


def test_cuda_without_a_gpu_exits_2_with_a_clear_message(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # as on a machine without CuPy
    status, out, err = run_main(capsys, "--device", "cuda")
    assert status == 2
    assert out == ""
    assert "cuda" in err and "CuPy" in err
    assert len(err.strip().splitlines()) == 1


def test_an_unknown_device_exits_2(capsys):
    status, _, err = run_main(capsys, "--device", "tpu")
    assert status == 2 and "tpu" in err


def test_a_bad_option_exits_2_without_a_usage_dump(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["gradcheck", "--no-such-option"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--no-such-option" in err


class _WrongDouble(Function):
    """y = 2a with the gradient 3 gy: a deliberately broken op."""

    def forward(self, a):
        return 2.0 * a

    def backward(self, gy):
        return gy * 3.0


@pytest.fixture
def broken_case():
    """Register a failing case for the length of one test."""
    gradcheck_cases.load_all_cases()  # layer modules register on first use: not inside this test

    @gradcheck_cases.case("broken_double", "(3,) times 2, gradient 3")
    def build(device):
        rng = np.random.default_rng(0)
        return (lambda a: _WrongDouble()(a)), (gradcheck_cases.leaf(rng, 3, device=device),)

    yield "broken_double"
    gradcheck_cases.CASES[:] = [c for c in gradcheck_cases.CASES if c.name != "broken_double"]


def test_a_failing_case_makes_the_exit_status_1(capsys, broken_case, device):
    status, out, _ = run_main(capsys, "--only", broken_case, "--only", "exp", "--device", device)
    assert status == 1
    table = rows(out)
    assert [line.split()[-1] for line in table if line.startswith(broken_case)] == ["FAIL", "pass"]
    assert all(line.split()[-1] == "pass" for line in table if line.startswith("exp"))
    # The failure is explained below the table: which input, which element, both values.
    assert "gradcheck failed for input 0" in out and "analytic" in out and "numeric" in out
    assert "1 failed" in out


def test_the_broken_case_is_gone_afterwards():
    assert all(c.name != "broken_double" for c in gradcheck_cases.load_all_cases())


def test_python_dash_m_minigan_gradcheck():
    result = subprocess.run(
        [sys.executable, "-m", "minigan", "gradcheck", "--only", "matmul"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert len(table) == expected_rows({"matmul"})
    assert all(line.split()[0] == "matmul" and line.split()[-1] == "pass" for line in table)


def test_python_dash_m_minigan_unknown_name_exits_2():
    result = subprocess.run(
        [sys.executable, "-m", "minigan", "gradcheck", "--only", "nope"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
