import numpy as np
import pytest
import torch

from helpers.plots import CLASS_COLORS, overlay, plot_history, show_segmentation
from helpers.training import History


def test_overlay_colors_only_labelled_pixels():
    img = np.full((4, 4), 0.5, np.float32)
    img[0, 0] = 0.0
    img[3, 3] = 1.0  # normalised to [0, 1]
    mask = np.zeros((4, 4), np.int64)
    mask[1, 1] = 2
    out = overlay(img, mask, alpha=1.0)
    assert out.shape == (4, 4, 3)
    np.testing.assert_allclose(out[1, 1], CLASS_COLORS[2])
    np.testing.assert_allclose(out[2, 2], [0.5, 0.5, 0.5])  # unlabelled pixel keeps its grey
    np.testing.assert_allclose(out[3, 3], [1.0, 1.0, 1.0])


def test_overlay_bad_input():
    with pytest.raises(ValueError, match="same height and width"):
        overlay(np.zeros((4, 4)), np.zeros((4, 5), np.int64))
    with pytest.raises(ValueError, match=r"mask must be 2-D \(H, W\)"):
        overlay(np.zeros((4, 4)), np.zeros((1, 4, 4), np.int64))


def test_show_segmentation_grid():
    imgs = torch.rand(5, 1, 8, 8)
    masks = torch.randint(0, 3, (5, 8, 8))
    fig = show_segmentation(imgs, masks, masks, n=3)
    assert len(fig.axes) == 9
    assert [ax.get_title() for ax in fig.axes[:3]] == ["image", "ground truth", "prediction"]
    fig = show_segmentation(imgs.numpy()[:, 0], masks.numpy(), n=10)
    assert len(fig.axes) == 10  # capped at the 5 samples given, 2 columns


def test_show_segmentation_bad_input():
    with pytest.raises(ValueError, match="same number of samples"):
        show_segmentation(np.zeros((3, 8, 8)), np.zeros((2, 8, 8), np.int64))
    with pytest.raises(ValueError, match="masks and preds must have the same shape"):
        show_segmentation(np.zeros((2, 8, 8)), np.zeros((2, 8, 8), np.int64), np.zeros((2, 4, 4), np.int64))


def test_plot_history_from_history_and_dict():
    h = History()
    for e in range(3):
        h.append(epoch=e + 1, train_loss=1.0 / (e + 1), val_loss=1.2 / (e + 1), lr=0.1, seconds=1.0, miou=0.2 * e)
    fig = plot_history(h, ["miou"])
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [1.0, 0.5, 1 / 3])
    fig = plot_history({"loss": [1, 0.5], "val_loss": [1.1, 0.6]})
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="no curve named"):
        plot_history(h, ["dice"])
    with pytest.raises(ValueError, match="must be a History"):
        plot_history([1, 2, 3])


def test_prediction_gallery_layout_and_errors():
    from helpers.plots import prediction_gallery

    rng = np.random.default_rng(0)
    x = rng.random((10, 16, 16, 3))
    y = rng.integers(0, 3, (10, 16, 16))
    fig = prediction_gallery(x, y, y, scores=list(range(10)), ncols=4, ignore_index=255, title="t")
    assert len(fig.axes) == 2 * 3 * 4  # 3 rows of 4 samples, truth and prediction each
    assert fig.axes[0].get_title() == "0.000"
    with pytest.raises(ValueError, match="same number"):
        prediction_gallery(x, y, y, scores=[1.0])
    with pytest.raises(ValueError):
        prediction_gallery(x, y, y[:, :8])
