"""The runner's GPU watch: NVML/nvidia-smi readings averaged into a busy fraction, recorded per notebook."""

import functools
import json
import sys
import time
import types

import numpy as np
import pytest

from helpers.tools.run import execute, run_notebooks
from helpers.tools.run.gpu_usage import GpuUsage, _gpu_indices, summarise_readings


def test_summary_is_the_mean_over_readings_and_gpus_and_the_peak_memory():
    rng = np.random.default_rng(0)
    util = rng.uniform(0, 100, size=(7, 2))  # 7 readings of 2 GPUs
    mem = rng.uniform(0, 80_000, size=(7, 2))
    readings = [[(float(u), float(m)) for u, m in zip(ur, mr)] for ur, mr in zip(util, mem)]
    rec = summarise_readings(readings, "nvml")
    assert rec["gpu_busy_fraction"] == pytest.approx(util.mean() / 100, abs=1e-4)
    assert rec["gpu_memory_peak_mib"] == pytest.approx(mem.max(), abs=0.1)
    assert rec["gpu_samples"] == 7 and rec["gpu_monitor"] == "nvml"


def test_the_watch_samples_while_the_block_runs_and_stops_after():
    calls = []

    def reader():
        calls.append(time.perf_counter())
        return [(25.0 if len(calls) % 2 else 75.0, 100.0)]

    with GpuUsage(reader=reader, interval=0.02) as usage:
        time.sleep(0.3)
    n = len(calls)
    time.sleep(0.1)
    assert len(calls) == n  # the thread ended with the block
    assert 5 <= n <= 20
    assert usage.record["gpu_samples"] == n
    expected = np.mean([25.0 if (i + 1) % 2 else 75.0 for i in range(n)]) / 100
    assert usage.record["gpu_busy_fraction"] == pytest.approx(expected, abs=1e-4)


def test_a_failing_reading_ends_the_watch_without_an_error():
    def reader():
        raise RuntimeError("driver gone")

    with GpuUsage(reader=reader, interval=0.01) as usage:
        time.sleep(0.05)
    assert usage.record["gpu_busy_fraction"] is None and usage.record["gpu_samples"] == 0


def test_nvml_reads_only_the_notebooks_gpus(monkeypatch):
    # a stand-in for pynvml (nvidia-ml-py): GPU i is i*10 % busy with i GiB in use
    fake = types.SimpleNamespace(
        nvmlInit=lambda: None, nvmlDeviceGetCount=lambda: 4,
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=10 * h),
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=h * 2**30))
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    with GpuUsage("1,3", interval=0.01) as usage:
        time.sleep(0.05)
    assert usage.method == "nvml"
    assert usage.record["gpu_busy_fraction"] == pytest.approx(0.2)  # mean of 10 % and 30 %
    assert usage.record["gpu_memory_peak_mib"] == pytest.approx(3 * 1024)
    with GpuUsage(None, None, interval=0.01) as usage:  # no choice: every GPU
        time.sleep(0.05)
    assert usage.record["gpu_busy_fraction"] == pytest.approx(0.15)


def test_no_gpu_tooling_gives_no_figures(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    monkeypatch.setattr("shutil.which", lambda name: None)
    with GpuUsage() as usage:
        pass
    assert usage.method is None and usage.record["gpu_busy_fraction"] is None


@pytest.mark.parametrize("gpu, visible, indices", [("2", "0,1,2", [2]), (None, "0, 2", [0, 2]), (None, "", None),
                                                    (None, "MIG-1", None)])
def test_gpu_indices(gpu, visible, indices):
    assert _gpu_indices(gpu, visible) == indices


def test_bad_interval_is_refused():
    with pytest.raises(ValueError, match="interval"):
        GpuUsage(interval=0)


def test_the_runner_records_the_busy_fraction_per_notebook(repo, monkeypatch):
    watch = functools.partial(GpuUsage, reader=lambda: [(60.0, 1000.0)], interval=0.05)
    monkeypatch.setattr(execute, "GpuUsage", watch)
    (run,) = run_notebooks(["01_ok"], profile="smoke", in_place=True, parameters={"sleep": 0.5},
                           log=lambda _: None)
    assert run.status == "ok"
    assert run.gpu_usage["gpu_busy_fraction"] == pytest.approx(0.6)
    summary = json.loads((repo / "results" / "summary.json").read_text())["runs"][0]
    assert summary["gpu_busy_fraction"] == pytest.approx(0.6) and summary["gpu_memory_peak_mib"] == 1000.0
    assert "| 60% |" in (repo / "results" / "summary.md").read_text()
    recorded = json.loads((repo / "results" / "01_ok" / "results.json").read_text())["run"]
    assert recorded["gpu_busy_fraction"] == pytest.approx(0.6) and recorded["wall_seconds"] >= 0.5
