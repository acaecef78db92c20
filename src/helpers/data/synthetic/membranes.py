"""Synthetic ssTEM-like images with membrane masks: the offline stand-in for ISBI 2012.

The DCN notebook's embedded default imitates :mod:`helpers.data.public.isbi` (binary task, membrane =
1, about 22 % membrane pixels, dark membranes on a lighter, grainy cytoplasm):

* **cells** (neurite cross-sections): an additively weighted Voronoi partition
  (``|p - s_k| - r_k``, the cell of the smallest value wins) of seeds on a jittered grid of
  pitch ``cell_size``, computed on coordinates bent by a smooth random warp. The weights make
  cells of different sizes and bow their borders into hyperbolic arcs; the warp bends them
  further. Each cell gets its own grey level.
* **membranes** (class 1): pixels where the two smallest values differ by less than the
  local membrane width (about ``width / 2`` on each side of a border), the width drawn per
  image and modulated smoothly along the membranes. They are drawn dark, darkest on the
  border line, as in EM.
* **distractors**, not labelled: elongated mitochondria (dark ellipses with cristae stripes)
  inside about a quarter of the cells, kept off the membranes, and small dark vesicles in the
  cytoplasm: a membrane detector must learn shape, not just darkness.
* **microscope**: grain, slight Gaussian blur, illumination drift and noise.

Vectorised over the whole batch: the nearest seeds are found among the 5 x 5 grid cells
around each pixel (exact for the jitter and weights used), a loop of 25 array steps over all
images at once; no loop over images or pixels. A seed gives the same images.
16 images of 512 x 512 take about 3 s on one CPU core.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from helpers.core.checks import check_number, check_positive_int, check_range_pair, check_seed
from helpers.data.synthetic.noise import smooth_fields

__all__ = ["plot_membrane_examples", "synthetic_membranes"]

_PAD = 3  # grid cells of seeds beyond each image border (the warp moves coordinates by < 1 cell)


def synthetic_membranes(n: int, size: int = 512, *, seed: int = 0, cell_size: float = 40.0,
                        membrane_width: tuple[float, float] = (3.0, 5.0), mitochondria: float = 0.25,
                        noise: float = 0.04, blur: float = 0.9) -> dict[str, Any]:
    """EM-like images of neural tissue with binary membrane masks (membrane = 1).

    Args:
        n: number of images.
        size: height and width in pixels (>= 32).
        seed: the same seed gives the same images.
        cell_size: pitch of the seed grid in pixels (mean cell diameter), in [12, size].
        membrane_width: range of the membrane width in pixels, drawn per image (at most
            ``cell_size / 3``). The membrane fraction grows as ``width / cell_size``: the
            defaults give ~23 % at ``cell_size=40`` (ISBI 2012: 22 %); scale both together.
        mitochondria: fraction of cells holding a mitochondrion (an unlabelled distractor).
        noise: standard deviation of the final Gaussian noise.
        blur: Gaussian blur sigma in pixels (0 = none).

    Returns:
        ``images`` float32 ``(n, size, size)`` in [0, 1]; ``masks`` uint8 ``(n, size, size)``,
        1 = membrane; ``cells`` int32 cell index per pixel (per image); ``distractors`` uint8
        (1 = mitochondrion or vesicle, never on a membrane).

    Raises:
        ValueError: a size, count or range out of bounds.

    Example:
        >>> s = synthetic_membranes(2, size=64, seed=1, cell_size=20, membrane_width=(2.0, 2.5))
        >>> s["images"].shape, s["images"].dtype, s["masks"].dtype
        ((2, 64, 64), dtype('float32'), dtype('uint8'))
        >>> round(float(s["masks"].mean()), 2)  # membrane fraction
        0.24
    """
    n = check_positive_int(n, "n")
    size = check_positive_int(size, "size", minimum=32)
    cell = check_number(cell_size, "cell_size", 12.0, float(size))
    w_lo, w_hi = check_range_pair(membrane_width, "membrane_width", 1.0, cell / 3)
    p_mito = check_number(mitochondria, "mitochondria", 0.0, 1.0)
    noise = check_number(noise, "noise", 0.0, 0.5)
    blur = check_number(blur, "blur", 0.0, 5.0)
    rng = np.random.default_rng(check_seed(seed))
    f32 = np.float32

    # Seeds on a jittered grid with additive weights; jitter 0.15..0.85 of a cell and weights
    # <= 0.45 cell keep the nearest and second-nearest seed within the 5 x 5 cells around a pixel.
    g = int(np.ceil(size / cell)) + 2 * _PAD
    gy, gx = np.mgrid[0:g, 0:g].astype(f32)
    jitter = rng.uniform(0.15, 0.85, (n, 2, g, g)).astype(f32)
    seed_y = ((gy - _PAD + jitter[:, 0]) * cell).ravel()
    seed_x = ((gx - _PAD + jitter[:, 1]) * cell).ravel()
    weight = (rng.uniform(0.0, 0.45, n * g * g) * cell).astype(f32)
    level = rng.normal(0.56, 0.04, n * g * g).astype(f32)
    has_mito = rng.random(n * g * g) < p_mito
    mito_a = (rng.uniform(0.22, 0.38, n * g * g) * cell).astype(f32)
    mito_b = (rng.uniform(0.09, 0.15, n * g * g) * cell).astype(f32)
    mito_t = rng.uniform(0, np.pi, n * g * g).astype(f32)

    # Warped pixel coordinates (bent borders) and a smooth width modulation.
    # (Knots every ~1.5 cells: borders curve within a cell's length.)
    knots = max(3, int(round(size / (1.5 * cell))))
    warp = smooth_fields(rng, n, size, knots, 2) * (0.25 * cell)
    fields = smooth_fields(rng, n, size, 5, 2)
    yy, xx = np.mgrid[0:size, 0:size].astype(f32)
    wy = yy + warp[:, 0]
    wx = xx + warp[:, 1]
    cy = np.clip(np.floor(wy / cell).astype(np.int64) + _PAD, 2, g - 3)
    cx = np.clip(np.floor(wx / cell).astype(np.int64) + _PAD, 2, g - 3)
    centre = np.arange(n, dtype=np.int64)[:, None, None] * (g * g) + cy * g + cx
    d1 = np.full(wy.shape, np.inf, f32)
    d2 = np.full(wy.shape, np.inf, f32)
    nearest = np.zeros(wy.shape, np.int64)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            idx = centre + (dy * g + dx)
            ey = wy - seed_y.take(idx)
            ex = wx - seed_x.take(idx)
            d = np.sqrt(ey * ey + ex * ex) - weight.take(idx)
            closer = d < d1
            np.minimum(d2, np.where(closer, d1, d), out=d2)
            np.copyto(nearest, idx, where=closer)
            np.minimum(d1, d, out=d1)
    gap = d2 - d1  # ~ 2 x distance to the nearest cell border

    width = rng.uniform(w_lo, w_hi, (n, 1, 1)).astype(f32) * np.clip(1.0 + 0.2 * fields[:, 0], 0.6, 1.4)
    masks = (gap < width).astype(np.uint8)

    # Cytoplasm: a grey level per cell; membranes darkest on the border line.
    image = level.take(nearest)
    mem_level = rng.normal(0.27, 0.025, (n, 1, 1)).astype(f32)
    profile = np.clip(1.0 - (gap / (1.15 * width)) ** 2, 0.0, 1.0)
    image = image - (image - mem_level) * profile

    # Distractors: a mitochondrion around the seed of some cells, vesicles from thresholded smooth noise.
    ey = wy - seed_y.take(nearest)
    ex = wx - seed_x.take(nearest)
    cos_t, sin_t = np.cos(mito_t).take(nearest), np.sin(mito_t).take(nearest)
    u, v = ey * cos_t + ex * sin_t, -ey * sin_t + ex * cos_t
    ell = (u / mito_a.take(nearest)) ** 2 + (v / mito_b.take(nearest)) ** 2
    off_membrane = gap > width + 3.0
    mito = has_mito.take(nearest) & (ell < 1.0) & off_membrane
    cristae = 0.05 * np.sin(u * (2 * np.pi / 5.0))
    mito_grey = np.where(ell > 0.6, 0.30, 0.40 + cristae).astype(f32)
    image = np.where(mito, mito_grey, image)
    blobs = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (n, size, size)).astype(f32), (0, 1.6, 1.6))
    vesicle = (blobs > 3.2 * float(blobs.std())) & off_membrane & ~mito
    image = np.where(vesicle, image - 0.16, image)

    # Microscope: grain, blur, illumination drift, noise.
    image = image + rng.normal(0.0, 0.05, image.shape).astype(f32)
    if blur > 0:
        image = ndimage.gaussian_filter(image, (0, blur, blur))
    image = image + 0.03 * fields[:, 1] + rng.normal(0.0, noise, image.shape).astype(f32)
    cells = (nearest % (g * g)).astype(np.int32)
    return {"images": np.clip(image, 0.0, 1.0).astype(f32), "masks": masks, "cells": cells,
            "distractors": (mito | vesicle).astype(np.uint8)}


def plot_membrane_examples(sample: dict[str, Any], n: int = 3, *, title: str = "synthetic EM membranes"):
    """Images on top, their membrane masks below (membrane white), distractors outlined in orange.

    Args:
        sample: the dict returned by :func:`synthetic_membranes` (or any dict with ``images`` and
            ``masks``, e.g. ISBI slices; ``distractors`` is optional).
        n: how many images (columns) to show.
        title: figure title.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    for key in ("images", "masks"):
        if key not in sample:
            raise ValueError(f"sample must be the dict returned by synthetic_membranes; it has no {key!r}")
    n = min(check_positive_int(n, "n"), len(sample["images"]))
    fig, axes = plt.subplots(2, n, figsize=(3.0 * n, 6.2), squeeze=False)
    for j in range(n):
        mask = np.asarray(sample["masks"][j])
        axes[0, j].imshow(sample["images"][j], cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(f"image {j}", fontsize=9)
        label = np.stack([mask] * 3, -1).astype(np.float32)
        if "distractors" in sample:
            label[np.asarray(sample["distractors"][j]) > 0] = (1.0, 0.45, 0.1)
        axes[1, j].imshow(label)
        axes[1, j].set_title(f"membrane = 1 ({mask.mean():.1%} of pixels)", fontsize=9)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title + (" (orange: unlabelled distractors)" if "distractors" in sample else ""), fontsize=10)
    fig.tight_layout()
    return fig
