import os

import numpy as np
import pytest
import torch

from helpers.core import runtime


def test_resolve_profile_auto_is_lite_without_a_large_gpu(monkeypatch, capsys):
    monkeypatch.setattr(runtime, "gpu_memory_gb", lambda: None)
    assert runtime.resolve_profile("auto") == "lite"
    out = capsys.readouterr().out
    assert "auto -> lite: no GPU visible" in out and "Change runtime type" in out  # what, why, how to get more
    monkeypatch.setattr(runtime, "gpu_memory_gb", lambda: 15.0)  # a free Colab T4
    assert runtime.resolve_profile("auto") == "lite"
    assert "15 GB (< 40 GB" in capsys.readouterr().out
    monkeypatch.setattr(runtime, "gpu_memory_gb", lambda: 139.8)
    assert runtime.resolve_profile("auto") == "full"
    assert "auto -> full: a GPU with 140 GB" in capsys.readouterr().out
    assert runtime.resolve_profile("smoke") == "smoke"  # smoke only when asked for
    assert capsys.readouterr().out == ""  # nothing to say for an explicit profile


def test_auto_profile_threshold():
    assert runtime.auto_profile(runtime.FULL_MIN_GPU_GB)[0] == "full"
    assert runtime.auto_profile(runtime.FULL_MIN_GPU_GB - 0.1)[0] == "lite"


def test_resolve_profile_rejects_unknown():
    with pytest.raises(ValueError, match=r"profile must be one of \['auto', 'smoke', 'lite', 'full'\], got 'medium'"):
        runtime.resolve_profile("medium")


def test_pick():
    assert runtime.pick("smoke", smoke=2, lite=20, full=100) == 2
    assert runtime.pick("lite", smoke=2, lite=20, full=100) == 20
    assert runtime.pick("full", smoke=2, lite=20, full=100) == 100
    assert runtime.pick("smoke", smoke=2, lite=20, full=100, override=5) == 5
    with pytest.raises(ValueError, match="profile must be one of"):
        runtime.pick("auto", smoke=1, lite=1, full=2)  # must be resolved first
    with pytest.raises(TypeError):
        runtime.pick("smoke", smoke=1, full=2)  # every profile names its size


def test_resolve_device_cpu_and_bad_cuda(monkeypatch):
    assert runtime.resolve_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.resolve_device(None).type == "cpu"
    with pytest.raises(ValueError, match="asks for a GPU but torch sees none"):
        runtime.resolve_device("cuda")


def test_seed_everything_repeats_numpy_and_torch():
    runtime.seed_everything(7)
    a = (np.random.rand(3), torch.rand(3))
    runtime.seed_everything(7)
    b = (np.random.rand(3), torch.rand(3))
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1])
    runtime.seed_everything(8)
    assert not np.array_equal(np.random.rand(3), a[0])


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_everything_rejects(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        runtime.seed_everything(bad)


def test_environment_report_keys():
    rep = runtime.environment_report()
    assert rep["python"].count(".") == 2
    assert rep["packages"]["numpy"] == np.__version__
    assert rep["packages"]["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert rep["cpu_cores"] == os.cpu_count()


def test_output_dir_for(tmp_path, monkeypatch):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    monkeypatch.chdir(nbdir)
    assert runtime.output_dir_for("01_x.ipynb") == tmp_path / "results" / "01_x"
    assert (tmp_path / "results" / "01_x").is_dir()
    assert runtime.output_dir_for("01_x", tmp_path / "out") == tmp_path / "out"
