"""notebook 01's picklable runs: early stopping, the per-run record, same results in 1 or 2 worker processes."""

import numpy as np
import pytest

from helpers.core.sweeps import cached_sweep
from helpers.papers.grain_boundary_unet.runs import BoundaryRuns, coverage_mismatch, per_image_iou, run_name


def tiny_runs(tmp_path=None, **kw):
    rng = np.random.default_rng(0)
    x = rng.random((8, 16, 16), dtype=np.float32)
    y = (x > 0.6).astype(np.float32)
    settings = dict(learning_rate=0.2, momentum=0.9, l2=0.0, batch_size=4, max_epochs=2, filters=4,
                    mixed_precision=False, predictions_dir=None if tmp_path is None else tmp_path / "pred")
    settings.update(kw)
    return BoundaryRuns(x[:4], y[:4], x[4:6], y[4:6], x[6:], y[6:], **settings)


def test_per_image_iou_against_hand_counts():
    t = np.zeros((2, 4, 4)); t[0, 0] = 1            # 4 true pixels in image 0, none in image 1
    p = np.zeros((2, 4, 4)); p[0, 0, :2] = 0.9; p[0, 1, 0] = 0.9; p[1, 2, 2] = 0.9
    assert per_image_iou(t, p).tolist() == [2 / 5, 0.0]
    with pytest.raises(ValueError, match="must both be"):
        per_image_iou(t, p[0])


def test_coverage_mismatch_flags_a_model_that_paints_too_much_or_too_little():
    t = np.zeros((1, 10, 10)); t[0, :, 4] = 1        # 10 %
    assert coverage_mismatch(t, t) is None
    wide = np.zeros_like(t); wide[0, :, :4] = 1      # 40 %: over 3x
    assert "40.0 %" in coverage_mismatch(wide, t)
    thin = np.zeros_like(t); thin[0, :2, 4] = 1      # 2 %: under a third
    assert coverage_mismatch(thin, t) is not None
    with pytest.raises(ValueError, match="factor"):
        coverage_mismatch(t, t, factor=1.0)


def test_run_names_are_distinct():
    names = {run_name("unet", d, l, r, seed=s) for d in (2, 3) for l in (2, 5) for r in (True, False) for s in (0, 1)}
    assert len(names) == 16
    assert run_name("unet", 2, 2, loss="bce_dice_cldice") != run_name("unet", 2, 2)


def test_run_records_and_saves_predictions(tmp_path):
    runs = tiny_runs(tmp_path, max_epochs=3)
    row = runs.run(depth=2, layers=3, seed=1)
    assert row["epochs_run"] == 3 and len(row["val_iou"]) == 3 and 1 <= row["best_epoch"] <= 3
    assert len(row["per_image_iou"]) == 2 and 0 <= row["iou"] <= 1
    prob = np.load(row["predictions"])
    assert prob.shape == (2, 16, 16) and prob.dtype == np.float16
    assert row["predicted_fraction"] == pytest.approx(float((prob.astype(np.float32) > 0.5).mean()), abs=0.02)


def test_a_constant_prediction_is_reported_degenerate():
    runs = tiny_runs()
    runs.y_train = np.zeros_like(runs.y_train)      # nothing to learn but background
    row = runs.run(depth=2, layers=2, seed=0, epochs=3)
    assert row["degenerate"] is not None and "never predicts class 1" in row["degenerate"]


@pytest.mark.slow
def test_same_results_with_one_or_two_workers(tmp_path):
    runs = tiny_runs()
    configs = [{"depth": 2, "layers": l, "residual": r, "seed": s} for l, r in [(2, True), (3, False)] for s in (0, 1)]
    one = cached_sweep(configs, runs.run, tmp_path / "one.jsonl", workers=1, progress=False)
    two = cached_sweep(configs, runs.run, tmp_path / "two.jsonl", workers=2, progress=False)
    for a, b in zip(one, two):
        assert a["config"] == b["config"]
        np.testing.assert_allclose(a["per_image_iou"], b["per_image_iou"], atol=1e-6)
        np.testing.assert_allclose(a["val_iou"], b["val_iou"], atol=1e-6)
        np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-5)


class ConstantModel:
    """Predicts the same probabilities every epoch: a run whose validation IoU no longer moves."""
    stop_training = False

    def __init__(self, prob):
        self.prob = prob

    def predict(self, x, batch_size=32, verbose=0):
        return self.prob


def patience_callback(prob, masks, patience=1):
    from helpers.papers.grain_boundary_unet.training import BestValidationIoU

    cb = BestValidationIoU(np.zeros_like(masks), masks, restore_best=False, patience=patience)
    cb.set_model(ConstantModel(prob))
    return cb


def test_patience_stops_a_run_above_the_guess_that_no_longer_improves():
    masks = np.zeros((2, 10, 10, 1), np.float32); masks[:, :, 4] = 1     # 10 % boundary
    prob = masks.copy(); prob[:, :5, 4] = 0                              # IoU 0.5 > the 0.1 guess
    cb = patience_callback(prob, masks)
    for epoch in range(4):
        cb.on_epoch_end(epoch, {})
        if cb.model.stop_training:
            break
    assert cb.guess_iou == pytest.approx(0.1)
    assert cb.stopped_early and epoch == 1 and cb.best_epoch == 1 and cb.best_iou == pytest.approx(0.5)


@pytest.mark.parametrize("hits", [0, 1])
def test_patience_waits_while_the_run_is_below_the_all_boundary_guess(hits):
    # no boundary predicted (IoU 0), or a few chance pixels (IoU 0.05 < the 0.2 guess, as a fresh
    # momentum-SGD run scores at its first epoch): the run has not started to learn, only the budget ends it
    masks = np.zeros((2, 10, 10, 1), np.float32); masks[:, :, 4:6] = 1   # 20 % boundary
    prob = np.zeros_like(masks); prob[:, :hits, 4] = 1
    cb = patience_callback(prob, masks)
    for epoch in range(6):
        cb.on_epoch_end(epoch, {})
    assert not cb.stopped_early and cb.best_iou == pytest.approx(0.05 * hits)
