"""The benchmark scripts run and write their results tables (skipped without PyTorch, as in CI)."""

import sys
from pathlib import Path

import numpy as np
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


def test_bench_training_unfused_turns_the_kernels_off(tmp_path, monkeypatch):
    import bench_training

    from minigan.backend import Fused

    monkeypatch.setattr(Fused, "enabled", True)
    out = tmp_path / "u.md"
    bench_training.main(["--repeats", "1", "--batch", "16", "--arch", "mlp", "--unfused", "--markdown", str(out)])
    assert Fused.enabled is False  # the flag turns the kernels off for the whole run
    assert "NumPy reached" in out.read_text() and _table(out)[2].startswith("| mlp batch 16 |")


def test_gemm_rate_is_a_positive_rate():
    import bench_training

    assert bench_training.gemm_rate("cpu", n=64, repeats=2) > 1e6


def test_host_profile_lists_the_costliest_functions(capsys):
    import host_profile

    host_profile.main(["--arch", "mlp", "--batch", "8", "--steps", "2", "--top", "5"])
    out = capsys.readouterr().out
    assert "Python function calls and" in out and "tottime" in out


def test_graph_capture_without_a_gpu_says_what_it_needs():
    import graph_capture

    from minigan import backend

    try:
        backend.check_device("cuda")
        pytest.skip("a GPU is available here")
    except RuntimeError:
        pass

    with pytest.raises(RuntimeError, match="device 'cuda'"):
        graph_capture.main(["--batch", "8", "--repeats", "1"])


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


MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"  # ../shared beside the project root


def test_the_pytorch_twin_names_what_it_cannot_mirror():
    import torch_twin_dcgan

    from minigan.config import resolve

    assert torch_twin_dcgan.unmirrored(resolve("mnist-dcgan")) == []
    smoothed = resolve("mnist-dcgan", overrides={"loss.label_smoothing": 0.1, "model.latent": "uniform",
                                                  "model.minibatch_std": 4, "optim.ema_decay": 0.999, "model.pack": 2})
    assert torch_twin_dcgan.unmirrored(smoothed) == []
    other = resolve("mnist-dcgan", overrides={"loss.name": "hinge", "model.d_dropout": 0.3})
    assert torch_twin_dcgan.unmirrored(other) == ["loss.name = 'hinge'", "model.d_dropout = 0.3"]


@pytest.mark.skipif(not MNIST.is_dir(), reason="needs the MNIST files in ../shared/data/mnist")
@pytest.mark.filterwarnings("ignore:MNIST. the training set is not available")  # ../shared holds the test images only
def test_the_pytorch_twin_trains_with_the_runs_smoothing_latent_and_packing(monkeypatch):
    import torch
    import torch_twin_dcgan

    from minigan.config import resolve

    seen = []

    def spy(torch, g, d, opt_g, opt_d, real, z, label_smoothing, pack):
        seen.append((z.numpy().copy(), label_smoothing, pack))
        return real_step(torch, g, d, opt_g, opt_d, real, z, label_smoothing, pack)

    real_step = torch_twin_dcgan.torch_step
    monkeypatch.setattr(torch_twin_dcgan, "torch_step", spy)
    config = resolve("mnist-dcgan", overrides={"loss.label_smoothing": 0.1, "model.latent": "uniform",
                                               "model.minibatch_std": 4, "model.pack": 2, "data.data_dir": str(MNIST)})
    sampler, _ = torch_twin_dcgan.train_twin(torch, config, steps=2)
    assert [(s, p) for _, s, p in seen] == [(0.1, 2), (0.1, 2)]
    z = np.concatenate([z for z, _, _ in seen])
    assert z.shape == (128, 100) and z.min() >= -1 and z.max() <= 1 and z.std() > 0.5  # uniform on [-1, 1]: std 0.58
    with torch.no_grad():
        images = sampler(torch.zeros(3, 100)).numpy()
    assert images.shape == (3, 1, 28, 28) and not sampler.training


def test_launch_costs_time_each_call_and_each_kernel_of_a_step(tmp_path):
    import launch_costs

    from minigan.backend import Fused, FusedChannelSum

    calls = (Fused.__dict__["__call__"], FusedChannelSum.__dict__["__call__"])
    out, step = tmp_path / "l.md", tmp_path / "s.md"
    launch_costs.main(["--calls", "3", "--batch", "4", "--markdown", str(out), "--step-markdown", str(step)])
    assert _table(out)[2].startswith("| array + array |")
    text = step.read_text()
    assert "| adam | 15 |" in text and "| channel_mean | 5 |" in text
    assert "| channel_sums() |" in text  # a plain function, timed the same way
    # the timers are taken off again
    assert (Fused.__dict__["__call__"], FusedChannelSum.__dict__["__call__"]) == calls


def test_gemm_budget_lists_the_products_the_dcgan_step_makes(monkeypatch):
    # every product of minigan's ops goes through ops.linalg.matmul_arrays: record a step's
    # (shape, operand layout) and compare with the benchmark's list, and its FLOPs with dcgan_flops
    import importlib

    import bench_training
    import gemm_budget
    from twins import make_pair, minigan_step

    import minigan

    conv, linear, linalg = (importlib.import_module(f"minigan.{m}") for m in ("nn.functional.conv", "nn.functional.linear", "ops.linalg"))

    made = []

    def transposed(x):  # a matrix with a side of 1 is both layouts at once: call it not transposed
        return min(x.shape) > 1 and not x.flags.c_contiguous

    def recording(a, b):
        made.append(((a.shape[0], a.shape[1], b.shape[1]), transposed(a), transposed(b)))
        return linalg.get_namespace(a, b).matmul(a, b)

    for module in (conv, linear, linalg):
        monkeypatch.setattr(module, "matmul_arrays", recording)
    ours, _ = make_pair("dcgan", batch=4)
    minigan_step(minigan, **ours)
    listed = [((m, k, n), ta and min(m, k) > 1, tb and min(k, n) > 1)
              for _, (m, k, n), ta, tb, calls, _ in gemm_budget.dcgan_gemms(4) for _ in range(calls)]
    assert sorted(made) == sorted(listed)
    done, useful = gemm_budget.gemm_flops(gemm_budget.dcgan_gemms(64))
    assert useful == bench_training.dcgan_flops(64) and done > useful  # the sub-pixel border phases


def test_gemm_budget_writes_a_table_and_the_budget(tmp_path):
    import gemm_budget

    out = tmp_path / "g.md"
    result = gemm_budget.main(["--batch", "4", "--repeats", "1", "--markdown", str(out)])
    rows = _table(out)
    assert len(rows) == 2 + len(gemm_budget.dcgan_gemms(4)) + 1 and rows[-1].startswith("| **all 30 products** |")
    assert result["left"] == pytest.approx(1.3 * result["torch_step"] - result["numpy_gemms"])
    assert "for everything else" in out.read_text()
