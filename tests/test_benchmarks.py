"""The benchmark scripts run and write their results tables (skipped without PyTorch, as in CI)."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.fixture(autouse=True)
def cpu_only(device):
    if device != "cpu":
        pytest.skip("the benchmarks build their twins on the CPU")


def _table(path):
    lines = [line for line in Path(path).read_text().splitlines() if line.startswith("|")]
    assert len(lines) >= 3, Path(path).read_text()
    return lines


def test_bench_training_writes_a_table(tmp_path):
    import bench_training

    out = tmp_path / "t.md"
    bench_training.main(["--repeats", "1", "--batch", "16", "--arch", "mlp", "--markdown", str(out)])
    rows = _table(out)
    assert rows[2].startswith("| mlp batch 16 |")
    assert "Command: `python" in out.read_text()


def test_dcgan_flops_at_batch_64():
    import bench_training

    assert bench_training.dcgan_flops(64) == pytest.approx(9.44e9, rel=0.01)


def test_bench_layers_writes_a_table(tmp_path):
    import bench_layers

    out = tmp_path / "l.md"
    bench_layers.main(["--repeats", "1", "--batch", "4", "--markdown", str(out)])
    assert len(_table(out)) == 2 + len(bench_layers.cases(4))


def test_bench_memory_measures_in_a_fresh_process():
    import bench_memory

    grown = bench_memory.measure("minigan", "mlp", 512, "cpu")
    assert isinstance(grown, int) and grown > 0  # Adam's state and the activations at least


def test_profile_step_writes_a_table(tmp_path):
    import profile_step

    out = tmp_path / "p.md"
    profile_step.main(["--arch", "mlp", "--batch", "8", "--steps", "1", "--top", "3", "--markdown", str(out)])
    rows = _table(out)
    assert any("outside ops" in r for r in rows) and rows[-1].startswith("| **total** |")
