"""The few-shot protocol object: deterministic per run, the same in a worker process, pseudo-labels, checks."""

import numpy as np
import pytest
import torch

from helpers.papers.fewshot_pixel_relation.protocol import FewShotProtocol
from helpers.core.sweeps import cached_sweep


def _protocol(tmp_path, **kw):
    rng = np.random.default_rng(0)
    x = rng.random((12, 16, 16), dtype=np.float32)
    y = np.digitize(x, [0.4, 0.8]).astype(np.int64)  # 3 classes from the intensity: learnable
    settings = dict(num_classes=3, weights_dir=tmp_path / "w", x_unlabelled=x[8:], base=4, depth=1,
                    group_channels=2, rounds=2, steps_per_round=3, device="cpu") | kw
    return FewShotProtocol(x[:4], y[:4], x[4:8], y[4:8], x[8:], y[8:], **settings), y[8:]


def test_a_run_is_deterministic_and_saves_the_chosen_weights(tmp_path):
    p, _ = _protocol(tmp_path)
    a, b = p.run("two_image", run=1), p.run("two_image", run=1)
    assert a["test_miou"] == b["test_miou"] and a["val_curve"] == b["val_curve"]
    assert a["steps"] == 6 and 1 <= a["best_round"] <= 2
    other = p.run("two_image", run=2)
    assert other["train_loss"] != a["train_loss"]  # another seed, another run
    model = p.load("two_image", run=2)
    x_test, y_test = p.tensors("test")
    from helpers.training import evaluate

    # the saved weights are the ones that were scored
    assert evaluate(model, (x_test, y_test), num_classes=3, ignore_index=255)["mean_iou"] == pytest.approx(
        other["test_miou"])


def test_runs_in_worker_processes_match_runs_here(tmp_path):
    p, _ = _protocol(tmp_path)
    configs = [{"method": m, "anchor": "balanced", "run": 0} for m in ("unet", "same_image")]
    here = cached_sweep(configs, p.run, None, progress=False)
    torch.set_num_threads(1)  # the workers run single-threaded on 2 cores: compare like with like
    try:
        here1 = cached_sweep(configs, p.run, None, progress=False)
    finally:
        torch.set_num_threads(max(1, torch.get_num_threads()))
    there = cached_sweep(configs, p.run, tmp_path / "s.jsonl", progress=False, workers=2)
    for h, h1, t in zip(here, here1, there):
        assert t["config"] == h["config"]
        assert t["test_miou"] == pytest.approx(h1["test_miou"], abs=1e-5)
        assert t["val_curve"] == pytest.approx(h["val_curve"], abs=1e-4)


def test_pseudo_run_labels_the_unlabelled_images(tmp_path):
    p, y_unl = _protocol(tmp_path, rounds=3, pseudo_threshold=1e-6)
    p.y_unlabelled = y_unl
    p.run("same_image", run=0)
    r = p.pseudo_run("same_image", run=0)
    assert r["coverage"] == 1.0 and 0.0 <= r["pseudo_accuracy"] <= 1.0  # a threshold near 0 labels every pixel
    assert p.weights_path("same_image", run=0, pseudo=True).is_file()
    p.y_unlabelled, p.pseudo_threshold = None, 1.0
    r = p.pseudo_run("same_image", run=0)
    assert r["coverage"] < 0.5 and "pseudo_accuracy" not in r  # a barely trained teacher is rarely sure


def test_bad_settings_are_rejected(tmp_path):
    x = np.zeros((4, 16, 16), np.float32)
    y = np.zeros((4, 16, 16), np.int64)
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        FewShotProtocol(x, y, x, y, x, y, num_classes=2, weights_dir=tmp_path, batch_size=1)
    with pytest.raises(ValueError, match=r"must be divisible by 2\*\*depth = 32"):
        FewShotProtocol(x, y, x, y, x, y, num_classes=2, weights_dir=tmp_path, depth=5)
    with pytest.raises(ValueError, match="x_val and y_val must both be"):
        FewShotProtocol(x, y, x, y[:2], x, y, num_classes=2, weights_dir=tmp_path, depth=1)
    p = FewShotProtocol(x, y, x, y, x, y, num_classes=2, weights_dir=tmp_path, depth=1)
    with pytest.raises(ValueError, match="method must be one of"):
        p.build("deeplab", 0)
    with pytest.raises(ValueError, match="has no x_unlabelled"):
        p.tensors("unlabelled")
