"""Notebook 04's evidence: per-image IoU, degenerate predictions, values lined up by seed, the folder
reader, and the protocol's records holding them (also from worker processes)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.core.claims import measured_claim
from helpers.core.sweeps import cached_sweep
from helpers.data.synthetic.em import synthetic_em
from helpers.papers.fewshot_pixel_relation.evidence import (load_fewshot_folder, per_image, per_image_iou,
                                                            per_image_miou, per_seed, prediction_problems,
                                                            runs_problems)
from helpers.papers.fewshot_pixel_relation.protocol import FewShotProtocol

ROOT = Path(__file__).resolve().parents[3]


def test_per_image_iou_matches_a_hand_count_and_skips_absent_classes():
    truth = np.array([[[0, 0, 1, 1], [0, 0, 1, 1]]])
    guess = np.array([[[0, 1, 1, 1], [0, 0, 1, 0]]])
    iou = per_image_iou(guess, truth, 3)
    assert iou[0, :2].tolist() == pytest.approx([60.0, 60.0]) and np.isnan(iou[0, 2])
    assert per_image_miou(guess, truth, 3).tolist() == pytest.approx([60.0])
    ignored = truth.copy()
    ignored[0, 0, 1] = 255  # the one wrong background pixel is now unlabelled
    assert per_image_iou(guess, ignored, 3)[0, 0] == pytest.approx(75.0)
    with pytest.raises(ValueError, match="same shape|one shape"):
        per_image_iou(guess[:, :1], truth, 3)


def test_degenerate_predictions_are_named_and_sound_ones_pass():
    truth = np.array([[[0, 1], [2, 2]]])
    assert prediction_problems(np.zeros_like(truth), truth, 3) == (
        "prediction is constant (every value is 0); prediction never predicts classes 1, 2 of 0..2")
    assert "class 1" in prediction_problems(np.array([[[0, 0], [2, 2]]]), truth, 3)
    assert prediction_problems(truth, truth, 3) is None
    # a class the test labels never hold is not asked for
    assert prediction_problems(np.array([[[0, 1], [1, 0]]]), np.array([[[0, 1], [1, 1]]]), 3) is None


def _rows():
    rows = []
    for run in (2, 0, 1):
        for m, shift in (("unet", 0.0), ("same_image", 0.05)):
            rows.append({"config": {"method": m, "anchor": "balanced", "run": run},
                         "test_miou": 0.5 + shift + run / 100, "test_iou_per_class": [0.9, 0.5 + shift, 0.1 + shift],
                         "test_iou_per_image": [[90.0, 50.0 + 100 * shift, None], [80.0, None, None]],
                         "test_problems": "prediction never predicts class 2 of 0..2" if (m, run) == ("unet", 1) else None})
    return rows


def test_values_line_up_by_seed_and_by_image_and_make_a_claim():
    rows = _rows()
    a, b = per_seed(rows, "unet"), per_seed(rows, "same_image")
    assert a.tolist() == pytest.approx([50.0, 51.0, 52.0]) and (b - a).tolist() == pytest.approx([5.0] * 3)
    assert per_seed(rows, "same_image", key="test_iou_per_class", class_index=2).tolist() == pytest.approx([15.0] * 3)
    assert per_image(rows, "same_image").tolist() == pytest.approx([(90 + 55) / 2, 80.0])
    assert np.isnan(per_image(rows, "unet", class_index=2)).all()
    c = measured_claim("x", paper="p", quote="q", paper_value="+", unit="mIoU (points, %)", kind="paired seeds",
                       data_source="synthetic", baseline=a, variant=b, direction="+")
    assert c["verdict"] == "reproduced" and c["ours"] == pytest.approx(5.0)
    assert runs_problems(rows, {"unet": "U-Net"}) == "U-Net seed 1: prediction never predicts class 2 of 0..2"
    assert runs_problems(rows, {"same_image": "same image"}) is None
    with pytest.raises(ValueError, match="two runs with one seed"):
        per_seed(rows + rows[:1], "unet")


def test_protocol_records_hold_the_evidence_the_same_in_workers(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((12, 16, 16), dtype=np.float32)
    y = np.digitize(x, [0.4, 0.8]).astype(np.int64)
    # a validation set of 1 image: the two-image loss must not be computed on it
    p = FewShotProtocol(x[:4], y[:4], x[4:5], y[4:5], x[8:], y[8:], num_classes=3, weights_dir=tmp_path / "w",
                        base=4, depth=1, group_channels=2, rounds=2, steps_per_round=2, device="cpu")
    configs = [{"method": m, "anchor": "balanced", "run": r} for r in (0, 1) for m in ("unet", "two_image")]
    here = cached_sweep(configs, p.run, None, progress=False)
    there = cached_sweep(configs, p.run, tmp_path / "s.jsonl", progress=False, workers=2)
    for h, t in zip(here, there):
        assert len(h["test_iou_per_image"]) == 4 and len(h["test_pred_share"]) == 3
        assert sum(h["test_pred_share"]) == pytest.approx(1.0)
        assert h["test_problems"] is None or "never predicts" in h["test_problems"] or "constant" in h["test_problems"]
        assert t["test_problems"] == h["test_problems"]
        assert t["test_miou"] == pytest.approx(h["test_miou"], abs=1e-4)
    # the mean of the per-image values is a per-image mIoU near the pooled one (not the same statistic)
    assert all(np.isfinite(per_image(here, m)).all() for m in ("unet", "two_image"))


def _folder(root: Path, n: int, size: int = 32) -> Path:
    data = synthetic_em(n, size, seed=3)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, (img, lab) in enumerate(zip(data["images"], data["labels"])):
        Image.fromarray((img * 255).round().astype(np.uint8)).save(root / "images" / f"c{i:02d}.png")
        Image.fromarray((lab * 85).astype(np.uint8)).save(root / "masks" / f"c{i:02d}.png")
    return root


def test_folder_reader_uses_split_files_records_them_and_refuses_too_few(tmp_path):
    root = _folder(tmp_path / "set", 10)
    (root / "split").mkdir()
    for name, stems in (("train", range(0, 7)), ("val", [7]), ("test", [8, 9])):
        (root / "split" / f"{name}.txt").write_text("".join(f"c{i:02d}\n" for i in stems))
    ds = load_fewshot_folder(root, mask_map='{"0": 0, "85": 1, "170": 2}', class_names=["bg", "membrane", "mito"],
                             n_train=6, verbose=False)
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 7, "val": 1, "test": 2}
    assert ds.images.ndim == 3 and ds.num_classes == 3
    json.dumps(ds.describe())  # goes into results.json as it is
    with pytest.raises(ValueError, match="train"):
        load_fewshot_folder(root, mask_map='{"0": 0, "85": 1, "170": 2}', n_train=8, verbose=False)


@pytest.mark.slow
@pytest.mark.notebooks
def test_notebook_runs_on_an_18_pair_folder(tmp_path, capsys):
    from helpers.tools.run import main

    folder = _folder(tmp_path / "eighteen", 18, size=64)
    out = tmp_path / "out"
    code = main([str(ROOT / "notebooks" / "04_fewshot_pixel_relation.ipynb"), "--profile", "smoke",
                 "--output", str(out), "--no-progress", "--timeout", "900", "-p", "data_source", "real",
                 "-p", "data_root", str(folder), "-p", "mask_map", '{"0": 0, "85": 1, "170": 2}',
                 "-p", "class_names", '["background", "membrane", "mitochondria"]'])
    assert code == 0, capsys.readouterr().out[-3000:]
    res = json.loads((out / "04_fewshot_pixel_relation" / "results.json").read_text())
    assert res["metrics"]["folder"]["n"] == 18
    assert all(c["verdict"] in ("reproduced", "within noise", "contradicted", "not tested") for c in res["claims"])
    assert all(c["paper_value"] == "+" for c in res["claims"])
