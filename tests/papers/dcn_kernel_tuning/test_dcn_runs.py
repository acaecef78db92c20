"""Notebook 05's runs side by side (DCNRuns), the degenerate checks, and the per-seed claim values."""

import math

import numpy as np
import pytest
import torch

from helpers.core.claims import measured_claim
from helpers.core.sweeps import cached_sweep
from helpers.papers.dcn_kernel_tuning.evidence import (claim_sentence, claims_table, contrast_by_kernel,
                                                       one_factor_settings, per_seed_branch_spearman, seed_values)
from helpers.papers.dcn_kernel_tuning.runs import DCNRuns, per_image_iou, prediction_problems, run_key


def _runs(tmp_path, **kw):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 16, 16)).astype(np.float32)
    y = (rng.random((6, 16, 16)) < 0.3).astype(np.uint8)
    args = dict(width=2, epochs=2, batch_size=2, weights_dir=tmp_path / "w", device="cpu", budget=2)
    args.update(kw)
    return DCNRuns(x[:4], y[:4], x[4:], y[4:], **args)


def test_one_training_scores_and_saves(tmp_path):
    r = _runs(tmp_path)
    row = r.train([4, 8, 16], 0)
    assert 0.0 <= row["iou"] <= 1.0 and len(row["contrast"]) == 3
    assert np.shape(row["contrast_per_image"]) == (2, 3) and len(row["iou_per_image"]) == 2
    assert len(row["train_loss"]) == 2 and all(math.isfinite(v) for v in row["train_loss"])
    assert r.weights_path((4, 8, 16), 0).is_file()
    again = r.train((4, 8, 16), 0)  # seeded: the same training gives the same scores
    assert again["iou"] == pytest.approx(row["iou"], abs=1e-6)
    assert again["contrast"] == pytest.approx(row["contrast"], abs=1e-6)
    other = r.train((4, 8, 16), 1)
    assert other["train_loss"] != row["train_loss"]  # another seed is another run


@pytest.mark.slow
def test_workers_give_the_same_results(tmp_path):
    r = _runs(tmp_path)
    configs = [{"kernels": [4, 8, 16], "seed": 0}, {"kernels": [4, 8, 10], "seed": 1}]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # each of 2 workers on 2 cores runs single-threaded: compare like with like
    try:
        here = cached_sweep(configs, r.train, None, progress=False)
    finally:
        torch.set_num_threads(threads)
    there = cached_sweep(configs, r.train, tmp_path / "s.jsonl", progress=False, workers=2)
    for h, t in zip(here, there):
        assert t["config"] == h["config"]
        assert t["iou"] == pytest.approx(h["iou"], abs=1e-6)
        assert t["contrast"] == pytest.approx(h["contrast"], abs=1e-5)
        assert t["train_loss"] == pytest.approx(h["train_loss"], abs=1e-5)


def test_search_reuses_known_trainings(tmp_path):
    r = _runs(tmp_path)
    r.known = {run_key((4, 8, 16), 0): {"iou": 0.123, "contrast": [0.3, 0.3, 0.1]}}
    out = r.search("auto", 0)
    assert out["history"][0] == [[4, 8, 16], 0.123]  # read back, not trained
    assert list(out["new"]) == [run_key((4, 8, 14), 0)]  # F3 had the lowest contrast: its kernel shrinks
    assert len(out["history"]) == r.budget
    opt = r.search("optuna", 0)
    ks = [tuple(k) for k, _ in opt["history"]]
    assert ks[0] == (4, 8, 16) and len(set(ks)) == len(ks) <= r.budget
    assert all(k[0] % 2 == 0 and k[0] >= 2 and k[1] >= 4 and k[2] >= 8 for k in ks)
    assert opt["best_iou"] == max(v for _, v in opt["history"])
    with pytest.raises(ValueError, match="method"):
        r.search("grid", 0)


def test_bad_data_is_rejected(tmp_path):
    x = np.zeros((2, 16, 16), np.float32)
    y = np.zeros((2, 16, 16), np.uint8)
    with pytest.raises(ValueError, match="same shape"):
        DCNRuns(x, y[:1], x, y)
    with pytest.raises(ValueError, match="0 and 1"):
        DCNRuns(x, y + 2, x, y)
    with pytest.raises(ValueError, match="divisible by 8"):
        DCNRuns(np.zeros((2, 12, 12), np.float32), np.zeros((2, 12, 12), np.uint8), x, y)
    with pytest.raises(ValueError, match="epochs"):
        DCNRuns(x, y, x, y, epochs=0)


def test_prediction_problems_and_per_image_iou():
    ok = np.zeros((2, 8, 8), np.uint8)
    ok[:, 2] = 1
    maps = np.random.default_rng(0).normal(size=(2, 3, 8, 8))
    assert prediction_problems(ok, maps) is None
    assert "constant" in prediction_problems(np.ones((2, 8, 8), np.uint8))
    assert "never predicts class 0" in prediction_problems(np.ones((2, 8, 8), np.uint8))
    flat = maps.copy()
    flat[:, 1] = 0.5
    assert prediction_problems(ok, flat) == "branch map F2 is constant on every image"
    nan = maps.copy()
    nan[0, 0, 0, 0] = np.nan
    assert "NaN" in prediction_problems(ok, nan)
    truth = np.zeros((2, 8, 8), np.uint8)
    truth[0, 2:4] = 1
    iou = per_image_iou(ok, truth)
    assert iou[0] == pytest.approx(8 / 16) and iou[1] == 0.0
    with pytest.raises(ValueError):
        per_image_iou(ok, truth[0])


def _rows(seeds, slope):
    """Contrast of branch b falls with its kernel (slope < 0) or rises (slope > 0), plus seed noise."""
    rng = np.random.default_rng(1)
    settings = [(2, 8, 16), (4, 8, 16), (6, 8, 16), (4, 6, 16), (4, 10, 16), (4, 8, 10), (4, 8, 20), (2, 4, 10)]
    rows = {run_key(k, s): {"contrast": [0.3 + slope[b] * k[b] + 1e-4 * rng.random() for b in range(3)], "iou": 0.5 + s}
            for k in settings for s in seeds}
    return settings, rows


def test_per_seed_spearman_uses_one_branch_at_a_time():
    settings, rows = _rows([0, 1, 2], slope=(-0.01, 0.01, -0.01))
    rho = per_seed_branch_spearman(rows, settings, [0, 1, 2])
    assert rho.shape == (3, 3)
    assert np.allclose(rho[:, 0], -1) and np.allclose(rho[:, 1], 1) and np.allclose(rho[:, 2], -1)
    # (2, 4, 10) changes all three kernels: it is left out of every branch's set
    assert all((2, 4, 10) not in g for g in one_factor_settings(settings).values())
    # a branch with two settings only has no correlation
    rho2 = per_seed_branch_spearman(rows, [(4, 8, 16), (4, 8, 10), (2, 8, 16), (6, 8, 16)], [0])
    assert np.isnan(rho2[0, 2]) and np.isnan(rho2[0, 1]) and rho2[0, 0] == pytest.approx(-1)
    k, c = contrast_by_kernel(rows, settings, [0, 1, 2], 2)
    assert k.tolist() == [10, 16, 20] and c.shape == (3, 3) and np.all(np.diff(c[:, 0]) < 0)
    assert seed_values(rows, (4, 8, 16), [0, 2]).tolist() == [0.5, 2.5]
    with pytest.raises(KeyError, match="seed 7"):
        seed_values(rows, (4, 8, 16), [7])


def test_contrast_claim_from_per_seed_values():
    settings, rows = _rows([0, 1, 2], slope=(0.01, 0.01, 0.01))  # larger kernel, higher contrast everywhere
    effects = np.nanmean(per_seed_branch_spearman(rows, settings, [0, 1, 2]), axis=1)
    c = measured_claim("smaller_kernel_higher_contrast", paper="p", quote="Sec. 4.3", paper_value="-",
                       unit="Spearman rho", kind="seeds", effects=effects + np.array([0.0, -0.01, 0.01]),
                       data_source="synthetic")
    assert c["verdict"] == "contradicted"
    assert "contradicted" in claim_sentence(c) and "3 seeds" in claim_sentence(c)
    nt = measured_claim("x", paper="p", quote="q", paper_value="+", unit="IoU", kind="paired seeds",
                        data_source="synthetic", degenerate_reason="membrane prediction is constant (every value is 0)")
    assert "membrane prediction is constant" in claim_sentence(nt)
    table = claims_table([c, nt]).splitlines()
    assert len(table) == 3 and "not tested" in table[2] and "±" in table[1] and "±" not in table[2]
