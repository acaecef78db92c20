"""Figures a reader would rather look at than read: overlay grids and learning curves.

Every function returns the matplotlib ``Figure`` so a notebook can save it or the
tests can inspect it; nothing is shown or saved behind the reader's back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from helpers.core.checks import check_ndim, check_positive_int, check_same_shape

# Qualitative colours (tab10 without grey) for class overlays; class 0 stays transparent.
CLASS_COLORS = np.array([
    [0, 0, 0], [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40],
    [148, 103, 189], [140, 86, 75], [227, 119, 194], [188, 189, 34], [23, 190, 207],
], dtype=np.float32) / 255.0


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy() if x.is_floating_point() else x.detach().cpu().numpy()
    return np.asarray(x)


def _as_hw_or_hwc(img: np.ndarray) -> np.ndarray:
    """Accept (H, W), (1, H, W), (3, H, W) or (H, W, 3) and return something imshow takes."""
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = np.moveaxis(img, 0, -1)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    return img


def overlay(image: Any, mask: Any, alpha: float = 0.45, ignore_index: int | None = None) -> np.ndarray:
    """RGB picture of ``image`` with the classes of ``mask`` painted over it (class 0 not painted).

    Args:
        image: ``(H, W)`` grey or ``(H, W, 3)``/``(3, H, W)`` colour, values in [0, 1].
        mask: ``(H, W)`` integer classes.
        alpha: opacity of the class colours.
        ignore_index: label drawn in white (e.g. VOC's 255 border).
    """
    img = _as_hw_or_hwc(_to_numpy(image)).astype(np.float32)
    m = _to_numpy(mask)
    check_ndim(m, "mask", 2, "(H, W)")
    if img.shape[:2] != m.shape:
        raise ValueError(f"image and mask must have the same height and width, got {img.shape[:2]} and {m.shape}")
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    rgb = np.repeat(img[..., None], 3, axis=-1) if img.ndim == 2 else img[..., :3]
    m = m.astype(np.int64)
    colors = np.zeros(m.shape + (3,), np.float32)
    painted = m > 0
    if ignore_index is not None:
        colors[m == ignore_index] = 1.0
        painted &= m != ignore_index
    colors[painted] = CLASS_COLORS[1:][(m[painted] - 1) % (len(CLASS_COLORS) - 1)]
    a = np.where(painted | ((m == ignore_index) if ignore_index is not None else False), alpha, 0.0)[..., None]
    return (1 - a) * rgb + a * colors


def show_segmentation(images: Any, masks: Any, preds: Any | None = None, *, n: int = 4,
                      titles: Sequence[str] | None = None, ignore_index: int | None = None,
                      cell_size: float = 2.4):
    """A grid with one row per sample: image, true mask overlay and (if given) predicted overlay.

    Args:
        images: ``(N, H, W)``, ``(N, 1, H, W)``, ``(N, 3, H, W)`` or ``(N, H, W, 3)``.
        masks: ``(N, H, W)`` integer classes.
        preds: ``(N, H, W)`` predicted classes, optional.
        n: how many samples to show (the first ``n``).
        titles: column titles; defaults to image / ground truth / prediction.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    images, masks = _to_numpy(images), _to_numpy(masks)
    check_ndim(images, "images", (3, 4), "(N, H, W) or (N, C, H, W)")
    check_ndim(masks, "masks", 3, "(N, H, W)")
    if len(images) != len(masks):
        raise ValueError(f"images and masks must hold the same number of samples, got {len(images)} and {len(masks)}")
    if preds is not None:
        preds = _to_numpy(preds)
        check_same_shape(masks, preds, "masks", "preds")
    n = min(check_positive_int(n, "n"), len(images))
    cols = 3 if preds is not None else 2
    titles = list(titles) if titles is not None else ["image", "ground truth", "prediction"][:cols]
    fig, axes = plt.subplots(n, cols, figsize=(cell_size * cols, cell_size * n), squeeze=False)
    for i in range(n):
        img = _as_hw_or_hwc(images[i])
        panels = [img, overlay(img, masks[i], ignore_index=ignore_index)]
        if preds is not None:
            panels.append(overlay(img, preds[i], ignore_index=ignore_index))
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(panel, cmap="gray" if panel.ndim == 2 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j])
    fig.tight_layout()
    return fig


def prediction_gallery(images: Any, masks: Any, preds: Any, *, scores: Sequence[float] | None = None,
                       ncols: int = 8, ignore_index: int | None = None, title: str | None = None,
                       cell_size: float = 1.5):
    """Many samples at a glance (the paper's 16-image galleries): truth above, prediction below.

    Args:
        images: ``(N, H, W)``, ``(N, H, W, 3)`` or ``(N, C, H, W)``.
        masks, preds: ``(N, H, W)`` integer classes.
        scores: one number per sample printed over it (e.g. its loss).
        ncols: samples per row.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    images, masks, preds = _to_numpy(images), _to_numpy(masks), _to_numpy(preds)
    check_ndim(masks, "masks", 3, "(N, H, W)")
    check_same_shape(masks, preds, "masks", "preds")
    if len(images) != len(masks) or (scores is not None and len(scores) != len(masks)):
        raise ValueError("images, masks, preds (and scores) must hold the same number of samples")
    n = len(masks)
    ncols = min(check_positive_int(ncols, "ncols"), n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(2 * nrows, ncols, figsize=(cell_size * ncols, 2 * cell_size * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i in range(n):
        r, c = divmod(i, ncols)
        img = _as_hw_or_hwc(images[i])
        axes[2 * r, c].imshow(overlay(img, masks[i], ignore_index=ignore_index))
        axes[2 * r + 1, c].imshow(overlay(img, preds[i], ignore_index=ignore_index))
        if scores is not None:
            axes[2 * r, c].set_title(f"{scores[i]:.3f}", fontsize=7)
    if title:
        fig.suptitle(f"{title} (upper: truth, lower: prediction)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_history(history: Any, metrics: Sequence[str] = (), *, title: str | None = None):
    """Learning curves: train and validation loss, and any named validation metrics beside them.

    Args:
        history: a :class:`helpers.training.History`, a Keras ``History`` or a dict of lists
            (keys ``train_loss``/``loss`` and ``val_loss``).
        metrics: keys of further curves to draw in a second panel (e.g. ``["miou"]``).

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    if hasattr(history, "to_dict"):
        data = history.to_dict()
    elif hasattr(history, "history"):  # keras.callbacks.History
        data = dict(history.history)
    elif isinstance(history, Mapping):
        data = dict(history)
    else:
        raise ValueError(f"history must be a History, a Keras History or a dict of lists, got {type(history).__name__}")
    train_key = "train_loss" if "train_loss" in data else "loss"
    if train_key not in data:
        raise ValueError(f"history has no 'train_loss' or 'loss' curve; keys are {sorted(data)}")
    missing = [m for m in metrics if m not in data]
    if missing:
        raise ValueError(f"history has no curve named {missing}; keys are {sorted(data)}")
    epochs = data.get("epoch") or list(range(1, len(data[train_key]) + 1))
    panels = 2 if metrics else 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.4), squeeze=False)
    ax = axes[0, 0]
    ax.plot(epochs, data[train_key], label="train")
    val = np.asarray(data.get("val_loss", []), dtype=float)
    if val.size and np.isfinite(val).any():
        ax.plot(np.asarray(epochs)[np.isfinite(val)], val[np.isfinite(val)], label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    if metrics:
        ax2 = axes[0, 1]
        for m in metrics:
            v = np.asarray(data[m], dtype=float)
            ax2.plot(np.asarray(epochs)[np.isfinite(v)], v[np.isfinite(v)], label=m)
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("score")
        ax2.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
