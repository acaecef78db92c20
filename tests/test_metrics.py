"""Tests for helpers.metrics: hand-worked cases, scikit-learn as the reference, invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import f1_score, jaccard_score

from helpers.metrics import (
    ConfusionMatrix,
    binary_dice,
    binary_iou,
    confusion_matrix,
    dice_per_class,
    iou_per_class,
    mean_dice,
    mean_iou,
    pixel_accuracy,
    segmentation_scores,
)

torch = pytest.importorskip("torch")

RNG_SEEDS = [0, 1, 2]


def sk_per_class(score, t, p, c):
    """scikit-learn's per-class score with our empty-class rule applied on top.

    jaccard_score cannot return NaN for a class that appears nowhere (zero_division
    only takes 0 or 1), so such classes are set to NaN here from the raw labels.
    """
    ref = score(t, p, labels=list(range(c)), average=None, zero_division=0).astype(float)
    ref[~np.isin(np.arange(c), np.concatenate([t, p]))] = np.nan
    return ref


def random_maps(seed: int, shape=(2, 17, 23), c: int = 5, noise: float = 0.4):
    """A random target and a prediction that agrees with it on ~60 % of pixels."""
    rng = np.random.default_rng(seed)
    target = rng.integers(0, c, size=shape)
    pred = np.where(rng.random(shape) < noise, rng.integers(0, c, size=shape), target)
    return target, pred


# ----------------------------------------------------------------------------- hand-worked cases


def test_two_by_two_by_hand():
    # target  pred      pixel (true, pred): (0,0) (0,1) (1,1) (1,1)
    # 0 0     0 1       cm = [[1, 1],      class 0: TP=1 FP=0 FN=1 -> IoU 1/2, Dice 2/3
    # 1 1     1 1             [0, 2]]      class 1: TP=2 FP=1 FN=0 -> IoU 2/3, Dice 4/5
    #                                      accuracy 3/4, mIoU 7/12, mean Dice 11/15
    target = np.array([[0, 0], [1, 1]])
    pred = np.array([[0, 1], [1, 1]])
    cm = confusion_matrix(target, pred, 2)
    np.testing.assert_array_equal(cm, [[1, 1], [0, 2]])
    assert cm.dtype == np.int64
    np.testing.assert_allclose(iou_per_class(cm), [1 / 2, 2 / 3])
    np.testing.assert_allclose(dice_per_class(cm), [2 / 3, 4 / 5])
    assert mean_iou(cm) == pytest.approx(7 / 12)
    assert mean_dice(cm) == pytest.approx(11 / 15)
    assert pixel_accuracy(cm) == pytest.approx(0.75)
    s = segmentation_scores(target, pred, 2)
    assert s["mean_iou"] == pytest.approx(7 / 12)
    assert isinstance(s["mean_iou"], float) and isinstance(s["pixel_accuracy"], float)


def test_three_classes_by_hand_rows_are_truth():
    # true 1 predicted as 2 must land in row 1, column 2 (sklearn's convention)
    cm = confusion_matrix(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2]), 3)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 0, 1], [0, 0, 2]])
    # class 1: TP 0, FN 1 -> IoU 0; class 2: TP 2, FP 1 -> 2/3
    np.testing.assert_allclose(iou_per_class(cm), [1.0, 0.0, 2 / 3])


# ----------------------------------------------------------------------------- empty-class rule


def test_class_absent_from_both_is_nan_and_skipped():
    target = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    s = segmentation_scores(target, pred, num_classes=4)
    assert np.isnan(s["iou_per_class"][2]) and np.isnan(s["iou_per_class"][3])
    assert np.isnan(s["dice_per_class"][3])
    # the mean is over classes 0 and 1 only, so it equals the 2-class mean
    assert s["mean_iou"] == pytest.approx(segmentation_scores(target, pred, 2)["mean_iou"])


def test_class_predicted_but_absent_from_target_scores_zero():
    target = np.array([0, 0, 0, 0])
    pred = np.array([0, 0, 0, 1])
    iou = iou_per_class(confusion_matrix(target, pred, 2))
    np.testing.assert_allclose(iou, [0.75, 0.0])
    assert mean_iou(confusion_matrix(target, pred, 2)) == pytest.approx(0.375)


def test_all_classes_empty_gives_nan_without_warning(recwarn):
    cm = np.zeros((3, 3), dtype=np.int64)
    assert math.isnan(mean_iou(cm)) and math.isnan(mean_dice(cm)) and math.isnan(pixel_accuracy(cm))
    assert np.isnan(iou_per_class(cm)).all()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    tcm = torch.zeros(3, 3, dtype=torch.int64)
    assert torch.isnan(mean_iou(tcm)) and torch.isnan(pixel_accuracy(tcm))


# ----------------------------------------------------------------------------- scikit-learn reference


@pytest.mark.parametrize("seed", RNG_SEEDS)
@pytest.mark.parametrize("shape", [(31,), (13, 11), (2, 17, 23), (2, 3, 8, 9)])
def test_matches_sklearn(seed, shape):
    c = 5
    target, pred = random_maps(seed, shape, c)
    labels = list(range(c))
    t, p = target.ravel(), pred.ravel()
    cm = confusion_matrix(target, pred, c)
    np.testing.assert_array_equal(cm, sk_confusion_matrix(t, p, labels=labels))
    np.testing.assert_allclose(iou_per_class(cm), sk_per_class(jaccard_score, t, p, c), equal_nan=True)
    np.testing.assert_allclose(dice_per_class(cm), sk_per_class(f1_score, t, p, c), equal_nan=True)
    present = sorted(set(t) | set(p))
    assert mean_iou(cm) == pytest.approx(jaccard_score(t, p, labels=present, average="macro"))
    assert pixel_accuracy(cm) == pytest.approx(np.mean(t == p))


def test_matches_sklearn_with_missing_class():
    # class 3 of 5 appears nowhere, class 4 only in the prediction
    target, pred = random_maps(7, (40, 40), 5)
    target[(target == 3) | (target == 4)] = 0
    pred[pred == 3] = 1
    t, p = target.ravel(), pred.ravel()
    ours = iou_per_class(confusion_matrix(target, pred, 5))
    assert np.isnan(ours[3]) and ours[4] == 0.0
    np.testing.assert_allclose(ours, sk_per_class(jaccard_score, t, p, 5), equal_nan=True)
    # the mean is sklearn's macro average over the classes that occur (4 included, 3 not)
    ref_macro = jaccard_score(t, p, labels=[0, 1, 2, 4], average="macro", zero_division=0)
    assert mean_iou(confusion_matrix(target, pred, 5)) == pytest.approx(ref_macro)


def test_ignore_index_matches_sklearn_on_kept_pixels():
    target, pred = random_maps(3, (30, 30), 4)
    target[:5] = 255
    cm = confusion_matrix(target, pred, 4, ignore_index=255)
    keep = target.ravel() != 255
    np.testing.assert_array_equal(cm, sk_confusion_matrix(target.ravel()[keep], pred.ravel()[keep],
                                                          labels=range(4)))
    assert cm.sum() == keep.sum()


def test_ignore_index_inside_class_range_drops_those_target_pixels():
    target = np.array([0, 0, 1, 2])
    pred = np.array([1, 2, 1, 2])
    cm = confusion_matrix(target, pred, 3, ignore_index=0)
    np.testing.assert_array_equal(cm, [[0, 0, 0], [0, 1, 0], [0, 0, 1]])
    cm_t = confusion_matrix(torch.from_numpy(target), torch.from_numpy(pred), 3, ignore_index=0)
    np.testing.assert_array_equal(cm_t.numpy(), cm)


# ----------------------------------------------------------------------------- invariants (hypothesis)

label_maps = st.integers(1, 6).flatmap(
    lambda c: st.tuples(
        st.just(c),
        arrays(np.int64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.integers(0, c - 1)),
        st.randoms(use_true_random=False),
    )
)


@settings(max_examples=60, deadline=None)
@given(label_maps)
def test_iou_and_dice_in_unit_interval(data):
    c, target, rnd = data
    pred = np.array([rnd.randrange(c) for _ in range(target.size)]).reshape(target.shape)
    cm = confusion_matrix(target, pred, c)
    for v in (iou_per_class(cm), dice_per_class(cm)):
        ok = v[~np.isnan(v)]
        assert ((ok >= 0) & (ok <= 1)).all()
    # Dice >= IoU for every class (Dice = 2 IoU / (1 + IoU))
    iou, dice = iou_per_class(cm), dice_per_class(cm)
    m = ~np.isnan(iou)
    np.testing.assert_allclose(dice[m], 2 * iou[m] / (1 + iou[m]))
    assert cm.sum() == target.size


@settings(max_examples=60, deadline=None)
@given(label_maps)
def test_perfect_prediction_scores_one(data):
    c, target, _ = data
    s = segmentation_scores(target, target.copy(), c)
    present = np.isin(np.arange(c), target)
    np.testing.assert_array_equal(s["iou_per_class"][present], 1.0)
    assert np.isnan(s["iou_per_class"][~present]).all()
    assert s["mean_iou"] == 1.0 and s["mean_dice"] == 1.0 and s["pixel_accuracy"] == 1.0


@settings(max_examples=60, deadline=None)
@given(label_maps)
def test_relabelling_classes_permutes_per_class_iou(data):
    c, target, rnd = data
    pred = np.array([rnd.randrange(c) for _ in range(target.size)]).reshape(target.shape)
    perm = np.array(rnd.sample(range(c), c))  # class k is renamed perm[k]
    iou = iou_per_class(confusion_matrix(target, pred, c))
    iou_renamed = iou_per_class(confusion_matrix(perm[target], perm[pred], c))
    np.testing.assert_allclose(iou_renamed[perm], iou, equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(label_maps)
def test_swapping_target_and_pred_transposes_cm(data):
    c, target, rnd = data
    pred = np.array([rnd.randrange(c) for _ in range(target.size)]).reshape(target.shape)
    np.testing.assert_array_equal(confusion_matrix(pred, target, c), confusion_matrix(target, pred, c).T)


# ----------------------------------------------------------------------------- torch backend


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_torch_equals_numpy(seed):
    target, pred = random_maps(seed, (2, 16, 16), 6)
    target[0, :3] = 255
    s_np = segmentation_scores(target, pred, 6, ignore_index=255)
    tt, tp = torch.from_numpy(target), torch.from_numpy(pred).to(torch.uint8)
    cm_t = confusion_matrix(tt, tp, 6, ignore_index=255)
    assert isinstance(cm_t, torch.Tensor) and cm_t.dtype == torch.int64 and cm_t.device == tt.device
    np.testing.assert_array_equal(cm_t.numpy(), confusion_matrix(target, pred, 6, ignore_index=255))
    s_t = segmentation_scores(tt, tp, 6, ignore_index=255)
    for k, v in s_np.items():
        assert isinstance(s_t[k], torch.Tensor)
        np.testing.assert_allclose(s_t[k].numpy(), v, equal_nan=True)


def test_torch_without_validation_gives_same_counts():
    target, pred = random_maps(4, (3, 10, 10), 3)
    tt, tp = torch.from_numpy(target), torch.from_numpy(pred)
    assert torch.equal(confusion_matrix(tt, tp, 3, validate=False), confusion_matrix(tt, tp, 3))


def test_no_validation_drops_out_of_range_labels():
    # documented behaviour of validate=False: labels outside [0, C) are not counted
    cm = confusion_matrix(np.array([0, 1, 7]), np.array([0, 1, 1]), 2, validate=False)
    np.testing.assert_array_equal(cm, [[1, 0], [0, 1]])


def test_bool_masks_are_two_class_labels():
    t = torch.tensor([True, True, False, False])
    p = torch.tensor([True, False, False, False])
    np.testing.assert_array_equal(confusion_matrix(t, p, 2).numpy(), [[2, 0], [1, 1]])


def test_mixed_numpy_and_torch_inputs_become_torch():
    cm = confusion_matrix(np.array([0, 1]), torch.tensor([0, 0]), 2)
    assert isinstance(cm, torch.Tensor)
    np.testing.assert_array_equal(cm.numpy(), [[1, 0], [1, 0]])


# ----------------------------------------------------------------------------- binary masks


def test_binary_by_hand():
    # target 1 1 0 0, probs .9 .2 .7 .1 -> mask 1 0 1 0: |T∩P| = 1, |T| = 2, |P| = 2, |T∪P| = 3
    t = np.array([[1, 1, 0, 0]])
    p = np.array([[0.9, 0.2, 0.7, 0.1]])
    assert binary_iou(t, p) == pytest.approx(1 / 3)
    assert binary_dice(t, p) == pytest.approx(2 / 4)
    # threshold is inclusive (>=), as in keras.metrics.BinaryIoU
    assert binary_iou(np.array([1, 0]), np.array([0.5, 0.49])) == 1.0
    assert binary_iou(t, p, threshold=0.8) == pytest.approx(1 / 2)


def test_binary_both_empty_is_nan_and_one_empty_is_zero():
    z = np.zeros((4, 4))
    assert math.isnan(binary_iou(z.astype(int), z)) and math.isnan(binary_dice(z.astype(bool), z))
    one = z.copy()
    one[0, 0] = 1
    assert binary_iou(z.astype(int), one) == 0.0 and binary_iou(one, z) == 0.0
    assert torch.isnan(binary_iou(torch.zeros(2, 2), torch.zeros(2, 2)))


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_binary_matches_sklearn_and_torch(seed):
    rng = np.random.default_rng(seed)
    t = rng.random((2, 1, 12, 12)) < 0.3
    prob = np.clip(t * 0.6 + rng.random(t.shape) * 0.5, 0, 1).astype(np.float32)
    ref_iou = jaccard_score(t.ravel(), prob.ravel() >= 0.5)
    ref_dice = f1_score(t.ravel(), prob.ravel() >= 0.5)
    assert binary_iou(t, prob) == pytest.approx(ref_iou)
    assert binary_dice(t.astype(np.float32), prob) == pytest.approx(ref_dice)
    assert float(binary_iou(torch.from_numpy(t), torch.from_numpy(prob))) == pytest.approx(ref_iou)
    # an integer prediction is used as a mask as it is
    assert binary_iou(t, (prob >= 0.5).astype(np.uint8)) == pytest.approx(ref_iou)
    # and equals the 2-class confusion-matrix IoU of the foreground class
    cm = confusion_matrix(t.astype(int), (prob >= 0.5).astype(int), 2)
    assert iou_per_class(cm)[1] == pytest.approx(ref_iou)


# ----------------------------------------------------------------------------- accumulator


def test_accumulator_equals_one_shot_numpy_and_torch():
    target, pred = random_maps(5, (6, 9, 9), 4)
    target[1, 0] = 255
    one_shot = segmentation_scores(target, pred, 4, ignore_index=255)
    for convert in (lambda a: a, torch.from_numpy):
        acc = ConfusionMatrix(4, ignore_index=255)
        for i in range(0, 6, 2):
            acc.update(convert(target[i:i + 2]), convert(pred[i:i + 2]))
        res = acc.compute()
        assert isinstance(res["mean_iou"], float) and isinstance(res["iou_per_class"], list)
        assert all(isinstance(v, float) for v in res["iou_per_class"])
        for k, v in one_shot.items():
            np.testing.assert_allclose(res[k], v, equal_nan=True)


def test_accumulator_keeps_torch_state_and_accepts_numpy_batches():
    target, pred = random_maps(6, (4, 5, 5), 3)
    acc = ConfusionMatrix(3)
    acc.update(torch.from_numpy(target[:2]), torch.from_numpy(pred[:2]))
    acc.update(target[2:], pred[2:])
    assert isinstance(acc.matrix, torch.Tensor)
    np.testing.assert_array_equal(acc.matrix.numpy(), confusion_matrix(target, pred, 3))


def test_accumulator_reset_and_empty_compute():
    acc = ConfusionMatrix(2)
    res = acc.compute()
    assert math.isnan(res["mean_iou"]) and len(res["iou_per_class"]) == 2
    acc.update(np.array([0, 1]), np.array([0, 1]))
    assert acc.compute()["mean_iou"] == 1.0
    acc.reset()
    assert acc.matrix.sum() == 0
    acc.update(np.array([0, 1]), np.array([1, 0]))
    assert acc.compute()["mean_iou"] == 0.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.filterwarnings("ignore:Synchronization debug mode is a prototype")
def test_cuda_accumulation_stays_on_device_without_sync():
    target = torch.randint(0, 5, (4, 64, 64), device="cuda")
    pred = torch.randint(0, 5, (4, 64, 64), device="cuda")
    acc = ConfusionMatrix(5, ignore_index=255)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any host sync raises
    try:
        acc.update(target, pred, validate=False)
        acc.update(target, pred, validate=False)
        cm = confusion_matrix(target, pred, 5, ignore_index=255, validate=False)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert acc.matrix.device.type == "cuda" and cm.device.type == "cuda"
    ref = confusion_matrix(target.cpu().numpy(), pred.cpu().numpy(), 5)
    np.testing.assert_array_equal(acc.matrix.cpu().numpy(), 2 * ref)


# ----------------------------------------------------------------------------- bad input


def test_rejects_num_classes_below_one():
    with pytest.raises(ValueError, match=r"num_classes must be an integer >= 1, got 0"):
        confusion_matrix(np.array([0]), np.array([0]), 0)


def test_rejects_non_integer_num_classes():
    with pytest.raises(ValueError, match=r"num_classes must be an integer"):
        confusion_matrix(np.array([0]), np.array([0]), 2.0)


def test_rejects_accumulator_num_classes_below_one():
    with pytest.raises(ValueError, match=r"num_classes must be an integer >= 1"):
        ConfusionMatrix(0)


def test_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"target and pred must have the same shape, got \(2, 3\) and \(3, 2\)"):
        confusion_matrix(np.zeros((2, 3), int), np.zeros((3, 2), int), 2)


def test_rejects_scores_instead_of_labels_with_hint():
    with pytest.raises(ValueError, match=r"looks like per-class scores: take pred.argmax\(1\) first"):
        confusion_matrix(np.zeros((2, 4, 4), int), np.zeros((2, 3, 4, 4), int), 3)


def test_rejects_wrong_ndim():
    with pytest.raises(ValueError, match=r"target must be 1-D or 2-D or 3-D or 4-D .*got shape \(\)"):
        confusion_matrix(np.array(1), np.array(1), 2)
    with pytest.raises(ValueError, match=r"target must be .*got shape \(1, 1, 1, 1, 1\)"):
        confusion_matrix(np.zeros((1,) * 5, int), np.zeros((1,) * 5, int), 2)


def test_rejects_float_target():
    with pytest.raises(ValueError, match=r"target must hold integer class indices, got dtype float64"):
        confusion_matrix(np.zeros(4), np.zeros(4, int), 2)


def test_rejects_float_pred_tensor():
    with pytest.raises(ValueError, match=r"pred must hold integer class indices, got dtype torch.float32"):
        confusion_matrix(torch.zeros(4, dtype=torch.long), torch.zeros(4), 2)


def test_rejects_target_class_out_of_range():
    with pytest.raises(ValueError, match=r"target must hold class indices in \[0, 2\].*found values in \[0, 3\]"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)


def test_rejects_negative_pred_class():
    with pytest.raises(ValueError, match=r"pred must hold class indices in \[0, 1\], found values in \[-1, 1\]"):
        segmentation_scores(np.array([0, 1]), np.array([-1, 1]), 2)


def test_rejects_pred_equal_to_ignore_index():
    with pytest.raises(ValueError, match=r"pred must hold class indices in \[0, 1\]"):
        confusion_matrix(np.array([0, 255]), np.array([0, 255]), 2, ignore_index=255)


def test_rejects_out_of_range_in_accumulator_update():
    acc = ConfusionMatrix(2)
    with pytest.raises(ValueError, match=r"target must hold class indices in \[0, 1\]"):
        acc.update(torch.tensor([0, 2]), torch.tensor([0, 1]))


def test_rejects_non_integer_ignore_index():
    with pytest.raises(ValueError, match=r"ignore_index must be an integer or None, got 2.5"):
        confusion_matrix(np.array([0]), np.array([0]), 2, ignore_index=2.5)


def test_rejects_non_array_input():
    with pytest.raises(TypeError, match=r"target must be a numpy array or a torch tensor, got str"):
        confusion_matrix("0101", np.array([0]), 2)


def test_rejects_non_square_cm():
    with pytest.raises(ValueError, match=r"cm must be a square \(C, C\) confusion matrix.*got shape \(2, 3\)"):
        iou_per_class(np.zeros((2, 3), int))


def test_rejects_1d_cm():
    with pytest.raises(ValueError, match=r"cm must be a square .*got shape \(4,\)"):
        pixel_accuracy(np.zeros(4, int))


def test_binary_rejects_logits():
    with pytest.raises(ValueError, match=r"pred_prob_or_mask must hold probabilities in \[0, 1\].*sigmoid"):
        binary_iou(np.array([0, 1]), np.array([-2.0, 3.0]))


def test_binary_rejects_nan_probabilities():
    with pytest.raises(ValueError, match=r"pred_prob_or_mask must hold probabilities in \[0, 1\]"):
        binary_dice(np.array([0, 1]), np.array([np.nan, 0.5]))


def test_binary_rejects_non_binary_target():
    with pytest.raises(ValueError, match=r"target must be a binary mask holding only 0 and 1"):
        binary_dice(np.array([0, 2]), np.array([0.1, 0.9]))


def test_binary_rejects_non_binary_integer_prediction():
    with pytest.raises(ValueError, match=r"pred_prob_or_mask as an integer/bool mask must hold only 0 and 1"):
        binary_iou(torch.tensor([0, 1]), torch.tensor([0, 3]))


def test_binary_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"target and pred_prob_or_mask must have the same shape"):
        binary_iou(np.zeros((1, 4, 4)), np.zeros((4, 4)))


def test_binary_rejects_bad_threshold():
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\], got 1.5"):
        binary_iou(np.zeros(2), np.zeros(2), threshold=1.5)


def test_binary_rejects_wrong_ndim():
    with pytest.raises(ValueError, match=r"target must be .*got shape \(\)"):
        binary_iou(np.array(1), np.array(1.0))
