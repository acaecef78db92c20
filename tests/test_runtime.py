import os

import numpy as np
import pytest
import torch

from helpers import runtime


def test_resolve_profile_auto_is_smoke_without_gpu(monkeypatch, capsys):
    monkeypatch.setattr(runtime, "gpu_available", lambda: False)
    assert runtime.resolve_profile("auto") == "smoke"
    assert "Runtime > Change runtime type > GPU" in capsys.readouterr().out  # the reader learns how to get one
    monkeypatch.setattr(runtime, "gpu_available", lambda: True)
    assert runtime.resolve_profile("auto") == "full"
    assert runtime.resolve_profile("smoke") == "smoke"
    assert capsys.readouterr().out == ""  # nothing to say with a GPU or an explicit profile


def test_resolve_profile_rejects_unknown():
    with pytest.raises(ValueError, match=r"profile must be one of \['auto', 'smoke', 'full'\], got 'medium'"):
        runtime.resolve_profile("medium")


def test_pick():
    assert runtime.pick("smoke", smoke=2, full=100) == 2
    assert runtime.pick("full", smoke=2, full=100) == 100
    assert runtime.pick("smoke", smoke=2, full=100, override=5) == 5
    with pytest.raises(ValueError, match="profile must be one of"):
        runtime.pick("auto", smoke=1, full=2)  # must be resolved first


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
