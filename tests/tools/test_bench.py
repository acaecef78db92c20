"""The training benchmark (helpers.tools.bench): arithmetic, schema, the CLI at toy sizes, the book page."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from helpers.tools import bench
from helpers.tools.bench import cli, report
from helpers.tools.bench import (bench_markdown, count_flops, derive_metrics, gpu_busy_fraction, interval_union,
                                 peak_bf16_tflops, performance_markdown, run_bench, time_steps, write_performance_page)

ROW_KEYS = {"model", "framework", "batch", "image_size", "fp32_images_per_s", "optimized_images_per_s", "speedup",
            "peak_memory_gb", "tflops", "peak_fraction", "device", "fp32_step_ms", "bf16_step_ms",
            "compiled_step_ms", "optimized_step_ms", "optimized_variant", "compile_seconds", "flops_per_step",
            "fp32_tflops", "peak_tflops", "params", "errors", "notebook", "host_syncs_per_step",
            "fp32_peak_memory_gb", "seconds"}
ALL_MODELS = ["residual_unet", "deeplabv3plus_xception", "deeplabv3plus_mobilenetv2", "pspnet", "filler_cnn",
              "grouped_unet", "dcn"]


def check_row(r, peak=None):
    """Schema and arithmetic of one measured row."""
    assert ROW_KEYS <= set(r), ROW_KEYS - set(r)
    assert not r["errors"], r["errors"]
    assert r["fp32_step_ms"] > 0 and r["optimized_step_ms"] > 0 and r["flops_per_step"] > 0
    assert r["optimized_step_ms"] == min(v for v in (r["bf16_step_ms"], r["compiled_step_ms"]) if v is not None)
    assert math.isclose(r["fp32_images_per_s"], r["batch"] * 1e3 / r["fp32_step_ms"])
    assert math.isclose(r["optimized_images_per_s"], r["batch"] * 1e3 / r["optimized_step_ms"])
    assert math.isclose(r["speedup"], r["optimized_images_per_s"] / r["fp32_images_per_s"])
    assert math.isclose(r["tflops"], r["flops_per_step"] / (r["optimized_step_ms"] / 1e3) / 1e12)
    if peak is None:
        assert r["peak_fraction"] is None
    else:
        assert math.isclose(r["peak_fraction"], r["tflops"] / peak)


# ----------------------------------------------------------------------------- fast unit tests


def test_peak_table():
    assert peak_bf16_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_bf16_tflops("NVIDIA H200") == 989.0
    assert peak_bf16_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert peak_bf16_tflops("NVIDIA H100 PCIe") == 756.0
    assert peak_bf16_tflops("NVIDIA GeForce GTX 1080") is None
    assert peak_bf16_tflops(None) is None and peak_bf16_tflops("cpu") is None


def test_derive_metrics_arithmetic():
    r = derive_metrics({"batch": 32, "fp32_step_ms": 100.0, "optimized_step_ms": 25.0, "flops_per_step": 2e13}, 989.0)
    assert r["fp32_images_per_s"] == pytest.approx(320.0)
    assert r["optimized_images_per_s"] == pytest.approx(1280.0)
    assert r["speedup"] == pytest.approx(4.0)
    assert r["tflops"] == pytest.approx(800.0) and r["fp32_tflops"] == pytest.approx(200.0)
    assert r["peak_fraction"] == pytest.approx(800.0 / 989.0)
    # missing measurements propagate as None, never as a crash or a fake number
    r = derive_metrics({"batch": 4, "fp32_step_ms": None, "optimized_step_ms": 10.0, "flops_per_step": None}, None)
    assert r["fp32_images_per_s"] is None and r["speedup"] is None
    assert r["optimized_images_per_s"] == pytest.approx(400.0)
    assert r["tflops"] is None and r["peak_fraction"] is None


def test_interval_union():
    assert interval_union([]) == 0
    assert interval_union([(0, 2), (1, 3), (5, 6)]) == 4
    assert interval_union([(0, 10), (2, 3), (4, 5)]) == 10
    assert interval_union([(3, 3), (5, 4)]) == 0


def test_time_steps_counts_and_excludes_warmup():
    calls = []
    r = time_steps(lambda: calls.append(1), torch.device("cpu"), warmup=3, steps=4)
    assert len(calls) == 7 and r["step_ms"] >= 0 and r["first_step_s"] >= 0
    calls.clear()
    time_steps(lambda: calls.append(1), torch.device("cpu"), warmup=0, steps=2)
    assert len(calls) == 3  # the first, untimed call always runs
    with pytest.raises(ValueError):
        time_steps(lambda: None, "cpu", steps=0)


def test_count_flops_of_a_training_step():
    lin = nn.Linear(10, 20, bias=False)
    x = torch.rand(4, 10)
    assert count_flops(lambda: lin(x)) == 2 * 4 * 10 * 20
    # backward: the weight's gradient only (the input needs none), so twice the forward
    assert count_flops(lambda: lin(x).sum().backward()) == 2 * 2 * 4 * 10 * 20
    xg = x.clone().requires_grad_()
    assert count_flops(lambda: lin(xg).sum().backward()) == 3 * 2 * 4 * 10 * 20


def test_gpu_busy_fraction_on_cpu_runs_and_reports_none():
    ran = []
    r = gpu_busy_fraction(lambda: ran.append(1), "cpu")
    assert ran == [1] and r["busy_fraction"] is None and r["method"] is None


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError, match="unknown model"):
        run_bench(device="cpu", quick=True, models=["nope"], busy=False)


def test_model_specs_match_the_notebooks():
    specs = {s.name: s for s in bench.model_specs()}
    assert list(specs) == ALL_MODELS
    assert (specs["pspnet"].batch, specs["pspnet"].image_size) == (32, 256)
    assert (specs["grouped_unet"].batch, specs["grouped_unet"].image_size) == (4, 256)
    assert (specs["dcn"].batch, specs["dcn"].image_size) == (8, 512)
    assert (specs["filler_cnn"].batch, specs["filler_cnn"].image_size) == (128, 64)
    assert (specs["residual_unet"].batch, specs["residual_unet"].image_size) == (32, 256)
    assert {s.framework for s in specs.values()} == {"torch", "keras"}


def test_torch_models_quick_schema_and_merge(tmp_path):
    out = tmp_path / "bench.json"
    doc = run_bench(device="cpu", quick=True, models=["grouped_unet", "dcn"], busy=False, output=out,
                    command="test", log=lambda s: None)
    on_disk = json.loads(out.read_text())
    assert on_disk["rows"] == json.loads(json.dumps(doc["rows"]))
    assert [r["model"] for r in on_disk["rows"]] == ["grouped_unet", "dcn"]
    assert on_disk["device"] == "cpu" and on_disk["peak_bf16_tflops"] is None and on_disk["quick"] is True
    for r in on_disk["rows"]:
        check_row(r)
        assert r["framework"] == "torch" and r["compiled_step_ms"] is None  # no compile on a CPU by default
        assert r["optimized_variant"] == "bf16 eager" and r["peak_memory_gb"] is None
        assert r["host_syncs_per_step"] is None  # counted on CUDA only
    md = out.with_suffix(".md").read_text()
    assert "| grouped_unet | torch | 2 | 32 px |" in md and "| dcn |" in md
    # a second, partial run merges into the same table
    run_bench(device="cpu", quick=True, models=["dcn"], busy=False, output=out, merge=True, log=lambda s: None)
    merged = json.loads(out.read_text())
    assert [r["model"] for r in merged["rows"]] == ["grouped_unet", "dcn"]
    assert merged["rows"][0] == on_disk["rows"][0]


def test_bench_markdown_formats_rows_and_failures():
    row = derive_metrics({"model": "pspnet", "framework": "torch", "batch": 32, "image_size": 256,
                          "fp32_step_ms": 200.0, "bf16_step_ms": 80.0, "compiled_step_ms": 60.0,
                          "optimized_step_ms": 60.0, "optimized_variant": "bf16 + compile", "compile_seconds": 75.0,
                          "peak_memory_gb": 12.345, "flops_per_step": 6e13, "errors": {}}, 989.0)
    bad = derive_metrics({"model": "dcn", "framework": "torch", "batch": 8, "image_size": 512, "fp32_step_ms": 10.0,
                          "optimized_step_ms": None, "flops_per_step": None,
                          "errors": {"bf16": "RuntimeError: boom"}}, 989.0)
    doc = {"device": "NVIDIA H100 80GB HBM3", "peak_bf16_tflops": 989.0, "settings": {"steps": 20, "warmup": 5},
           "rows": [row, bad], "busy": [{"loop": "fit", "batch": 32, "image_size": 256, "busy_fraction": 0.93,
                                         "method": "profiler", "seconds": 12.0}]}
    md = bench_markdown(doc)
    assert ("| pspnet | torch | 32 | 256 px | 160.0 | 533.3 | 3.33x | bf16 + compile | 200.0 / 80.0 / 60.0 | "
            "12.35 |") in md
    assert "1,000 | 101.1 % | 75 |" in md  # 6e13 FLOPs in 60 ms = 1000 TFLOP/s
    assert "dcn bf16: RuntimeError: boom" in md
    assert "| fit | 32 | 256 | 93 % | profiler | 12.0 |" in md


def _summary(path, runs):
    path.write_text(json.dumps({"updated": "x", "runs": runs}))
    return path


def test_write_performance_page_from_synthetic_json(tmp_path):
    rows = [derive_metrics({"model": m, "framework": fw, "batch": 8, "image_size": 256, "fp32_step_ms": fp32,
                            "optimized_step_ms": opt, "flops_per_step": 1e12, "errors": {}}, 989.0)
            for m, fw, fp32, opt in [("pspnet", "torch", 100.0, 25.0), ("dcn", "torch", 30.0, 20.0),
                                     ("filler_cnn", "keras (torch backend)", 10.0, 8.0)]]
    bench_json = tmp_path / "bench.json"
    bench_json.write_text(json.dumps({
        "device": "NVIDIA H100 80GB HBM3", "peak_bf16_tflops": 989.0,
        "command": "KERAS_BACKEND=torch python -m helpers.tools.bench",
        "created": "2026-01-01", "settings": {"steps": 20, "warmup": 5}, "rows": rows,
        "busy": [{"loop": "fit PSPNet", "busy_fraction": 0.95, "method": "profiler"},
                 {"loop": "keras fit", "busy_fraction": 0.6, "method": "profiler"},
                 {"loop": "fit PSPNet resident", "busy_fraction": 0.5, "method": "nvml", "reference": True}],
        "notes": {"dcn": "launch-bound at batch 8"}}))
    full = _summary(tmp_path / "full.json", [
        {"notebook": "00_getting_started", "status": "ok", "seconds": 80.0, "profile": "full", "device": "NVIDIA H100"},
        {"notebook": "03_filler_classification_hpo", "status": "ok", "seconds": 900.0, "profile": "full",
         "device": "NVIDIA H100", "results": {"metrics": {"trials_per_hour": {"1": 500.0, "2": 900.0, "4": 2000.0}}}}])
    smoke = _summary(tmp_path / "smoke.json", [
        {"notebook": "00_getting_started", "status": "ok", "seconds": 50.0, "profile": "smoke", "device": "cpu"},
        {"notebook": "03_filler_classification_hpo", "status": "failed", "seconds": 70.0, "profile": "smoke",
         "device": "cpu"}])
    page = write_performance_page(bench_json, [full, smoke], tmp_path / "book" / "performance.md",
                                  notes={"busy": "the Keras loop copies every batch from the host"},
                                  expected_notebooks=["00_getting_started", "03_filler_classification_hpo"])
    text = page.read_text()
    assert text.startswith("# Performance") and "generated by" in text
    assert "| pspnet | torch | 8 | 256 px | 80.0 | 320.0 | 4.00x |" in text
    assert "| pspnet: optimised step >= 2.5x fp32 eager | 4.00x on NVIDIA H100 80GB HBM3 | **met** |" in text
    assert ("| dcn: optimised step >= 2.5x fp32 eager | 1.50x on NVIDIA H100 80GB HBM3 (1.67x short) | "
            "**missed** |") in text
    assert "filler_cnn: optimised" not in text  # the speedup target is for the torch models
    assert "| GPU busy >= 90 %: fit PSPNet | 95 % (profiler) | **met** |" in text
    assert "60 % (profiler), 30 points short | **missed** |" in text
    assert "| fit PSPNet resident |" in text and "GPU busy >= 90 %: fit PSPNet resident" not in text  # a reference
    # cost: 980 s full (over 900 s by 80 s), 120 s smoke but one notebook failed
    assert "| 00_getting_started | 50 | 80 |" in text
    assert "| 03_filler_classification_hpo | 70 (failed) | 900 |" in text
    assert "| **total** | **120** (2.0 min) | **980** (16.3 min) |" in text
    assert "16.3 min for 2 notebooks (NVIDIA H100), 1.3 min (9 %) over | **missed** |" in text
    assert "not ok: 03_filler_classification_hpo | **missed** |" in text
    assert "| 4.00x (2000 vs 500 trials/hour) | **met** |" in text
    assert "- **dcn**: launch-bound at batch 8" in text and "- **busy**: the Keras loop" in text
    # a notebook missing from a profile makes its total incomplete; measured elsewhere than an H100, no verdict
    text = performance_markdown(json.loads(bench_json.read_text()) | {"device": "NVIDIA H200"},
                                report._load_summaries([full]), expected_notebooks=["00_getting_started", "01_x",
                                                                                     "03_filler_classification_hpo"])
    assert "not run: 01_x | **missed** |" in text  # already over 15 min
    assert "| pspnet: optimised step >= 2.5x fp32 eager | 4.00x on NVIDIA H200 | not measured on an H100 |" in text
    short = {("00_getting_started", "full"): {"notebook": "00_getting_started", "status": "ok", "seconds": 60.0}}
    assert "not run: 01_x | incomplete |" in performance_markdown(None, short, expected_notebooks=["00_getting_started",
                                                                                                   "01_x"])


def test_performance_page_without_measurements(tmp_path):
    page = write_performance_page(tmp_path / "missing.json", tmp_path / "missing_summary.json", tmp_path / "p.md")
    text = page.read_text()
    assert "No benchmark has been run yet" in text and "No runner summary yet" in text
    assert text.count("not measured") == 6  # busy fraction, full, smoke, lite on CPU and on GPU, parallel search


def test_lite_targets_per_notebook_and_device():
    """Lite is judged per paper notebook: <= 20 min on 2 CPU cores and <= 60 s on the H200 (the T4 proxy)."""
    runs = {("01_x", "lite (CPU)"): {"notebook": "01_x", "status": "ok", "seconds": 700.0, "device": "CPU (x86_64, 2 cores)"},
            ("02_y", "lite (CPU)"): {"notebook": "02_y", "status": "ok", "seconds": 1300.0, "device": "CPU (x86_64, 2 cores)"},
            ("01_x", "lite (GPU)"): {"notebook": "01_x", "status": "ok", "seconds": 45.0, "device": "NVIDIA H200"},
            ("00_getting_started", "lite (CPU)"): {"notebook": "00_getting_started", "status": "ok", "seconds": 30.0,
                                                   "device": "CPU"}}
    text = performance_markdown(None, runs)
    assert "| 01_x, lite (CPU), <= 20 min on 2 CPU cores | 700 s (CPU (x86_64, 2 cores)) | **met** |" in text
    assert "| 02_y, lite (CPU), <= 20 min on 2 CPU cores | 1300 s (CPU (x86_64, 2 cores)), 100 s over | **missed** |" in text
    assert "| 01_x, lite (GPU), <= 60 s on one H200 (the free-Colab-T4 proxy) | 45 s (NVIDIA H200) | **met** |" in text
    assert "00_getting_started, lite" not in text  # not a paper notebook: no lite target
    assert "1/15 of an H200" in text  # the proxy is stated
    assert bench.profile_column("lite", "CPU (x86_64, 2 cores)") == "lite (CPU)"
    assert bench.profile_column("full", "NVIDIA H200") == "full"


def test_shared_gpu_runs_are_not_judged_alone():
    """A notebook that shared the GPU gets no busy verdict (NVML's fraction is the device's) and a dagger."""
    runs = {("02_y", "full"): {"notebook": "02_y", "status": "ok", "seconds": 590.0, "device": "NVIDIA H100",
                               "gpu_busy_fraction": 0.91, "shared_gpu": "with 05 at the same time"},
            ("05_z", "full"): {"notebook": "05_z", "status": "ok", "seconds": 300.0, "device": "NVIDIA H100",
                               "gpu_busy_fraction": 0.85}}
    text = performance_markdown(None, runs)
    assert "| 02_y, full profile, GPU busy >= 80 % over the whole run | 91 % (NVIDIA H100); GPU shared (with 05 at " \
           "the same time) | not measured alone |" in text
    assert "| 05_z, full profile, GPU busy >= 80 % over the whole run | 85 % (NVIDIA H100) | **met** |" in text
    assert "| 02_y | 590 (91 % busy) † |" in text and "| 05_z | 300 (85 % busy) |" in text
    assert "† The GPU was shared" in text
    assert "02_y ran side by side with other notebooks" in text


def test_resumed_runs_are_marked_and_not_credited():
    """A run that reused cached trainings gets a double dagger and cannot meet the from-scratch target."""
    runs = {("03_x", "full"): {"notebook": "03_x", "status": "ok", "seconds": 260.0, "device": "NVIDIA H100",
                               "gpu_busy_fraction": 0.23, "resumed": "about 630 s from scratch"}}
    text = performance_markdown(None, runs)
    assert "| 03_x | 260 (23 % busy) ‡ |" in text
    assert "‡ The run reused trainings" in text and "03_x: about 630 s from scratch" in text
    line = next(l for l in text.splitlines() if l.startswith("| all notebooks, full profile"))
    assert "03_x reused trainings cached by an interrupted run" in line and line.endswith("| not measured from scratch |")


def test_cli_page_only(tmp_path):
    bench_json = tmp_path / "bench.json"
    bench_json.write_text(json.dumps({"device": "cpu", "rows": [], "busy": []}))
    summ = _summary(tmp_path / "summary.json", [{"notebook": "00_getting_started", "status": "ok", "seconds": 9.0,
                                                 "profile": "smoke", "device": "cpu"}])
    out = tmp_path / "performance.md"
    assert bench.main(["--page-only", "--output", str(bench_json), "--summary", str(summ), "--page", str(out)]) == 0
    assert "| 00_getting_started | 9 |" in out.read_text()


def test_keras_model_needs_the_torch_backend_or_runs(tmp_path):
    """In this process Keras may already run on TensorFlow: the row then says how to fix it, without crashing."""
    import keras

    doc = run_bench(device="cpu", quick=True, models=["filler_cnn"], busy=False, log=lambda s: None)
    (row,) = doc["rows"]
    if keras.config.backend() == "torch":
        check_row(row)
        assert row["optimized_variant"] == "mixed_bfloat16"
    else:
        assert "KERAS_BACKEND=torch" in row["errors"]["fp32"] and row["speedup"] is None
    assert keras.mixed_precision.global_policy().name == "float32"  # the policy is restored


# ----------------------------------------------------------------------------- slow: compile, the CLI


@pytest.mark.slow
def test_compiled_twin_is_measured_and_reported(tmp_path):
    doc = run_bench(device="cpu", quick=True, models=["dcn"], compile=True, busy=False, log=lambda s: None)
    (r,) = doc["rows"]
    check_row(r)
    assert r["compiled_step_ms"] > 0 and r["compile_seconds"] > 0
    assert r["optimized_variant"] in ("bf16 eager", "bf16 + compile")
    assert doc["settings"]["compile"] is True



@pytest.mark.slow
def test_cli_quick_every_model_on_cpu(tmp_path):
    """``python -m helpers.tools.bench --device cpu --quick``: every model and both busy loops at toy sizes."""
    out = tmp_path / "bench.json"
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "helpers.tools.bench", "--device", "cpu", "--quick", "--busy",
                           "--output", str(out), "--markdown"], env=env, capture_output=True, text=True,
                          timeout=600, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert [r["model"] for r in doc["rows"]] == ALL_MODELS
    assert doc["command"].startswith("KERAS_BACKEND=torch python -m helpers.tools.bench --device cpu --quick")
    assert doc["settings"]["keras_backend"] == "torch"
    for r in doc["rows"]:
        check_row(r)
    assert {r["framework"] for r in doc["rows"]} == {"torch", "keras (torch backend)"}
    assert [b["framework"] for b in doc["busy"]] == ["torch", "torch", "keras (torch backend)"]
    assert [bool(b.get("reference")) for b in doc["busy"]] == [False, True, False]
    assert all(b["busy_fraction"] is None and "error" not in b for b in doc["busy"])
    assert "| residual_unet | keras (torch backend) | 2 | 32 px |" in proc.stdout
    assert out.with_suffix(".md").read_text() in proc.stdout

    # --busy-only: the busy loops again, every model row kept as it was; with --models it is refused.
    rows = doc["rows"]
    base = [sys.executable, "-m", "helpers.tools.bench", "--device", "cpu", "--quick", "--busy-only", "--output", str(out)]
    proc = subprocess.run(base, env=env, capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    again = json.loads(out.read_text())
    assert again["rows"] == rows and len(again["busy"]) == 3
    assert again["commands"][-1].endswith("--busy-only --output " + str(out))
    proc = subprocess.run(base + ["--models", "dcn"], env=env, capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).parents[2])
    assert proc.returncode != 0 and "leave out --models" in proc.stderr


def test_page_times_a_notebook_missing_from_the_summary_by_its_results_json(tmp_path):
    """A notebook the runner's summary lacks is timed by its own results.json, marked, and counted in the total."""
    summ = _summary(tmp_path / "summary.json", [{"notebook": "00_a", "status": "ok", "seconds": 100.0,
                                                 "profile": "full", "device": "H100"}])
    for nb, secs in (("00_a", 5.0), ("01_b", 200.4)):
        (tmp_path / "results" / nb).mkdir(parents=True)
        (tmp_path / "results" / nb / "results.json").write_text(json.dumps(
            {"notebook": nb, "profile": "full", "seconds": secs, "device": "H100",
             "claims": [{"id": "x", "holds": True}, {"id": "y", "holds": False}]}))
    notes = tmp_path / "notes.json"
    notes.write_text(json.dumps({"04": "resumed after a timeout"}))
    out = tmp_path / "performance.md"
    page = write_performance_page(None, summ, out, expected_notebooks=["00_a", "01_b"],
                                  results_dir=tmp_path / "results", notes=cli._load_notes(notes))
    text = page.read_text()
    assert "| 00_a | 100 |" in text  # the runner's record wins over results.json
    assert "| 01_b | 200 * |" in text and "the notebook's own timer" in text
    assert "| **total** | **300** (5.0 min) |" in text and "not run" not in text
    assert "- **04**: resumed after a timeout" in text
    rec = bench.results_json_records(tmp_path / "results", ["01_b", "02_missing"], {})
    assert list(rec) == [("01_b", "full")] and rec[("01_b", "full")]["claims_held"] == 1
    notes.write_text(json.dumps(["not", "a mapping"]))
    with pytest.raises(ValueError, match="topic -> text"):
        cli._load_notes(notes)
    assert cli._load_notes(tmp_path / "absent.json") == {}


def test_full_runs_are_judged_by_their_gpu_busy_fraction():
    """Issue 22: each paper notebook's full run keeps the GPU >= 80 % busy (the runner's NVML watch)."""
    runs = {("01_x", "full"): {"notebook": "01_x", "status": "ok", "seconds": 200.0, "device": "NVIDIA H200",
                               "gpu_busy_fraction": 0.36},
            ("04_y", "full"): {"notebook": "04_y", "status": "ok", "seconds": 150.0, "device": "NVIDIA H200",
                               "gpu_busy_fraction": 0.85},
            ("05_z", "full"): {"notebook": "05_z", "status": "ok", "seconds": 120.0, "device": "NVIDIA H200"},
            ("00_getting_started", "full"): {"notebook": "00_getting_started", "status": "ok", "seconds": 30.0,
                                             "device": "NVIDIA H200", "gpu_busy_fraction": 0.1}}
    text = performance_markdown(None, runs)
    assert ("| 01_x, full profile, GPU busy >= 80 % over the whole run | 36 % (NVIDIA H200), 44 points short | "
            "**missed** |") in text
    assert "| 04_y, full profile, GPU busy >= 80 % over the whole run | 85 % (NVIDIA H200) | **met** |" in text
    assert "| 05_z, full profile, GPU busy >= 80 % over the whole run | - | not measured |" in text
    assert "00_getting_started, full profile, GPU busy" not in text  # not a paper notebook
    assert "| 01_x | 200 (36 % busy) |" in text and "| 05_z | 120 |" in text
    assert "500 s" not in text and "8.3 min for 4 notebooks (NVIDIA H200) | **met** |" in text
