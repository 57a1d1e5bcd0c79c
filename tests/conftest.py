"""Test configuration: which device the suite runs on, hypothesis profiles, slow tests.

    python -m pytest                              # NumPy on the CPU
    python -m pytest --device strict              # array-api-strict: the CPU stand-in for CuPy
    python -m pytest --device cuda                # CuPy on a GPU (skips cleanly without one)
    MINIGAN_TEST_DEVICE=strict python -m pytest   # the same, by environment variable
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import minigan
from minigan import backend

settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
settings.register_profile("thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_addoption(parser):
    parser.addoption("--device", default=None, help="cpu (default), strict or cuda; or set MINIGAN_TEST_DEVICE")
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def _device(config):
    return (config.getoption("--device") or os.environ.get("MINIGAN_TEST_DEVICE") or "cpu").lower()


_unavailable = None


def pytest_configure(config):
    global _unavailable
    device = _device(config)
    try:
        minigan.set_device(device)
    except (RuntimeError, ValueError) as err:
        _unavailable = f"device {device!r} is not available here: {err}"


def pytest_report_header(config):
    return f"minigan device: {_device(config)}" + (f" (unavailable: {_unavailable})" if _unavailable else "")


def pytest_collection_modifyitems(config, items):
    run_slow = config.getoption("--runslow") or os.environ.get("MINIGAN_RUN_SLOW") == "1"
    for item in items:
        if _unavailable:
            item.add_marker(pytest.mark.skip(reason=_unavailable))
        elif "slow" in item.keywords and not run_slow:
            item.add_marker(pytest.mark.skip(reason="slow: run with --runslow or MINIGAN_RUN_SLOW=1"))


@pytest.fixture
def device():
    """The device the suite runs on ('cpu', 'strict' or 'cuda')."""
    return backend.get_device()


@pytest.fixture(autouse=True)
def _seed():
    minigan.manual_seed(0)
    yield
