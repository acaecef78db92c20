import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.augment import (AugmentedSegmentation, cutmix_boxes, mix_batch, one_hot_with_ignore,
                             segmentation_augmentation)
from helpers.training import poly_lr_lambda


def _block_mask(seed: int, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = np.where(rng.random((4, 4)) < 0.5, 1, 8).astype(np.uint8)  # two labels, far apart in value
    return np.kron(coarse, np.ones((size // 4, size // 4), np.uint8))  # big blocks: interiors survive blur


@given(st.integers(0, 10_000))
@settings(max_examples=15, deadline=None)
def test_pipeline_keeps_image_and_mask_aligned(seed):
    mask = _block_mask(seed)
    image = np.repeat((mask[..., None] / 10.0).astype(np.float32), 3, axis=-1)  # the image encodes its mask
    t = segmentation_augmentation("affine_blur", 48, mean=(0, 0, 0), std=(1, 1, 1), seed=seed)
    out = t(image=image, mask=mask)
    img, m = out["image"].numpy()[0], out["mask"].numpy()
    assert out["image"].shape == (3, 48, 48) and out["mask"].dtype == torch.uint8
    # Blur and two resamplings (bilinear for the image, nearest for the mask) move a label's edge by a
    # pixel or two, so thresholding the image halfway between the two labels gives back the mask except
    # within 2 px of the mask's label edges. A shift or a flip of one but not the other would leave
    # wrong pixels inside the regions. Left out: pixels near the fill (ignored) area and the image's own
    # 3-px border, where the blur reflects and a one-pixel line of a label (left by scaling) is resampled.
    from scipy import ndimage

    keep = ndimage.minimum_filter(np.where(m == 255, 0, 1), 7) == 1
    keep[:3], keep[-3:], keep[:, :3], keep[:, -3:] = False, False, False, False
    shown = np.where(img * 10 > 4.5, 8, 1)
    if keep.sum() > 200:
        assert (shown[keep] == m[keep]).mean() > 0.85
        inside_wrong = _wrong_away_from_edges(shown, m) & keep
        assert not inside_wrong.any(), f"{inside_wrong.sum()} pixels disagree away from any label edge"


def _wrong_away_from_edges(shown: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Pixels where ``shown`` and the mask ``m`` disagree more than 2 px from any label edge of ``m``."""
    from scipy import ndimage

    near_edge = ndimage.maximum_filter(m, 5) != ndimage.minimum_filter(m, 5)
    return (shown != m) & ~near_edge


def test_alignment_check_catches_a_shift():
    """The property above is not vacuous: a mask shifted by 3 px against its image fails it."""
    m = np.kron(np.array([[1, 8], [8, 1]], np.uint8), np.ones((24, 24), np.uint8))
    assert _wrong_away_from_edges(np.roll(m, 3, axis=1), m).any()


def test_no_augmentation_is_normalisation_only():
    mask = _block_mask(0)
    image = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    out = segmentation_augmentation("none", 64)(image=image, mask=mask)
    np.testing.assert_array_equal(out["mask"].numpy(), mask)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(out["image"].numpy().transpose(1, 2, 0), (image - mean) / std, atol=1e-5)


def test_dataset_and_bad_input():
    ds = AugmentedSegmentation(np.zeros((3, 32, 32, 3), np.float32), np.zeros((3, 32, 32), np.uint8),
                               segmentation_augmentation("affine_blur", 24))
    x, y = ds[1]
    assert len(ds) == 3 and x.shape == (3, 24, 24) and y.shape == (24, 24)
    with pytest.raises(ValueError, match="masks must be"):
        AugmentedSegmentation(np.zeros((3, 32, 32, 3), np.float32), np.zeros((3, 30, 32), np.uint8), None)
    with pytest.raises(ValueError, match="float32"):
        AugmentedSegmentation(np.zeros((3, 32, 32, 3), np.uint8), np.zeros((3, 32, 32), np.uint8), None)
    with pytest.raises(ValueError, match="kind"):
        segmentation_augmentation("elastic", 32)


def _batch(seed=0, n=6, classes=4, size=16, ignore=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g)
    y = torch.randint(0, classes, (n, size, size), generator=g)
    if ignore:
        y[:, 0, :] = 255
    return x, y


@pytest.mark.parametrize("seed", range(5))
def test_mixup_follows_equation_4(seed):
    x, y = _batch(seed)
    xm, q, valid, info = mix_batch(x, y, 4, mode="mixup", generator=torch.Generator().manual_seed(seed))
    lam, perm = info["lam"].view(-1, 1, 1, 1), info["perm"]
    torch.testing.assert_close(xm, lam * x + (1 - lam) * x[perm])
    onehot, v = one_hot_with_ignore(y, 4)
    torch.testing.assert_close(q, lam * onehot + (1 - lam) * onehot[perm])
    assert torch.equal(valid, v & v[perm])
    torch.testing.assert_close(q.sum(1)[valid], torch.ones(int(valid.sum())))
    assert not valid[:, 0, :].any()  # the ignored row stays ignored


@pytest.mark.parametrize("seed", range(5))
def test_cutmix_follows_equation_5(seed):
    x, y = _batch(seed, ignore=False)
    xm, q, valid, info = mix_batch(x, y, 4, mode="cutmix", alpha=1.0, generator=torch.Generator().manual_seed(seed))
    box, perm = info["box"], info["perm"]
    torch.testing.assert_close(xm, torch.where(box[:, None], x[perm], x))
    assert set(q.unique().tolist()) <= {0.0, 1.0}  # CutMix targets stay one-hot
    torch.testing.assert_close(q.sum(1), torch.ones_like(q.sum(1)))
    assert valid.all()
    for b in box:  # each pasted region is one axis-aligned rectangle
        if b.any():
            rows, cols = b.any(1).nonzero().ravel(), b.any(0).nonzero().ravel()
            assert b[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
            assert int(b.sum()) == len(rows) * len(cols)


def test_cutmix_box_area_matches_lambda():
    lam = torch.full((2000,), 0.75)
    boxes = cutmix_boxes(lam, 64, 64, torch.Generator().manual_seed(0))
    # Unclipped boxes have area (1 - lam) = 1/4 of the image; clipping only makes them smaller.
    areas = boxes.float().mean((1, 2))
    assert areas.max() <= 0.25 + 1e-6 and 0.12 < areas.mean() < 0.25


def test_random_mode_uses_both_and_bad_input():
    x, y = _batch()
    g = torch.Generator().manual_seed(0)
    modes = {mix_batch(x, y, 4, generator=g)[3]["mode"] for _ in range(20)}
    assert modes == {"mixup", "cutmix"}
    with pytest.raises(ValueError, match="labels outside"):
        mix_batch(x, torch.full_like(y, 7), 4)
    with pytest.raises(ValueError, match="mode"):
        mix_batch(x, y, 4, mode="mosaic")
    with pytest.raises(ValueError, match="same N, H, W"):
        mix_batch(x, y[:, :8], 4)
    with pytest.raises(ValueError, match="alpha"):
        mix_batch(x, y, 4, alpha=0)


def test_poly_schedule_values():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, poly_lr_lambda(10, 0.9))
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    expected = [0.01 * (1 - k / 10) ** 0.9 for k in range(10)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-6)
    assert opt.param_groups[0]["lr"] == 0.0
    with pytest.raises(ValueError, match="total_steps"):
        poly_lr_lambda(0)
