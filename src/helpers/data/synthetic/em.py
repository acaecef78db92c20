"""Synthetic ssTEM-like images of neural tissue: cells, membranes, mitochondria.

The offline default of the few-shot notebook stands in for the Drosophila ssTEM set
(:mod:`helpers.data.public.sstem`) with the same three classes and roughly its class balance
(background ~74 %, membrane ~20 %, mitochondria ~5 % of the pixels):

* **cells** (neurite cross-sections): nearest-seed (Voronoi) regions of random seeds, computed
  on a grid bent by a smooth random warp so the outlines curve; each cell gets its own grey
  level and a fine cytoplasm texture;
* **membranes** (class 1): the band where the distances to the nearest and second-nearest seed
  differ by less than the membrane width, i.e. a dark band of even width along every cell
  border; width drawn per image;
* **mitochondria** (class 2): elongated ellipses inside cells (clipped to the cell holding
  their centre and kept off the membranes), darker than the cytoplasm and striped by cristae
  (a sinusoid along the long axis), with a dark outer rim;
* distractors that are **not** labelled: small dark vesicles scattered in the cytoplasm;
* microscope: slight Gaussian blur, smooth illumination drift and Gaussian noise.

Everything is computed for the whole batch at once (loops run over seeds and ellipses, never
over images or pixels), from one seeded generator: a seed gives the same images.
64 images of 256 x 256 take about a second on one CPU core.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from helpers.core.checks import check_number, check_positive_int, check_range_pair, check_seed
from helpers.data.synthetic.noise import smooth_fields

__all__ = ["EM_CLASSES", "synthetic_em", "plot_em_examples"]

EM_CLASSES = ("background", "membrane", "mitochondria")


def synthetic_em(n: int, size: int = 256, *, seed: int = 0, cells: tuple[int, int] = (16, 32),
                 membrane_width: tuple[float, float] = (6.0, 8.5), mitochondria: tuple[int, int] = (3, 8),
                 noise: float = 0.06, blur: float = 0.8) -> dict[str, Any]:
    """EM-like images of neural tissue with background / membrane / mitochondria labels.

    Args:
        n: number of images.
        size: height and width in pixels (>= 32); cell counts and sizes are given for a
            256-pixel field and scaled with it.
        seed: the same seed gives the same images.
        cells: (min, max) number of cells per 256 x 256 field.
        membrane_width: (min, max) membrane width in pixels (drawn per image).
        mitochondria: (min, max) number of mitochondria per 256 x 256 field.
        noise: standard deviation of the additive Gaussian noise (0..0.5).
        blur: Gaussian blur sigma in pixels (0..5).

    Returns:
        ``images`` float32 ``(n, size, size)`` in [0, 1]; ``labels`` uint8 ``(n, size, size)``
        (0 background, 1 membrane, 2 mitochondria); ``cells`` int32 cell index per pixel;
        ``classes`` the class names.

    Example:
        >>> s = synthetic_em(2, size=64, seed=1)
        >>> s["images"].shape, s["images"].dtype, s["labels"].dtype, sorted(set(s["labels"].ravel().tolist()))
        ((2, 64, 64), dtype('float32'), dtype('uint8'), [0, 1, 2])
    """
    n = check_positive_int(n, "n")
    size = check_positive_int(size, "size", minimum=32)
    c_lo, c_hi = check_range_pair(cells, "cells", 2, 1000)
    w_lo, w_hi = check_range_pair(membrane_width, "membrane_width", 1.0, 20.0)
    m_lo, m_hi = check_range_pair(mitochondria, "mitochondria", 0, 200)
    noise = check_number(noise, "noise", 0.0, 0.5)
    blur = check_number(blur, "blur", 0.0, 5.0)
    rng = np.random.default_rng(check_seed(seed))
    scale = size / 256.0
    area = scale**2
    f32 = np.float32

    # --- cells: warped nearest-seed regions; d1/d2 = distance to the nearest / second-nearest seed.
    yy, xx = np.mgrid[0:size, 0:size].astype(f32)
    warp = smooth_fields(rng, n, size, 5, channels=2) * f32(6.0 * scale)
    wy, wx = yy + warp[:, 0], xx + warp[:, 1]  # (n, H, W)
    # Seeds on a jittered lattice (an even spread, no clumps of tiny cells), a random subset kept.
    n_cells = np.maximum(2, np.round(rng.uniform(c_lo, c_hi, n) * area)).astype(int)
    m = int(np.ceil(np.sqrt(n_cells.max() * 1.3)))
    k_max = m * m
    lattice = (np.stack(np.meshgrid(np.arange(m), np.arange(m), indexing="ij"), -1).reshape(-1, 2) + 0.5) / m
    jitter = rng.uniform(-0.45, 0.45, (n, k_max, 2)) / m
    seeds = ((lattice + jitter) * size).astype(f32)
    keep = rng.random((n, k_max)).argsort(1) < n_cells[:, None]  # n_cells seeds per image, at random
    # Running nearest and second-nearest squared distance over the seeds (vectorised over images).
    d1 = np.full((n, size, size), np.inf, f32)
    d2 = np.full((n, size, size), np.inf, f32)
    cell = np.zeros((n, size, size), np.int32)
    cell2 = np.zeros((n, size, size), np.int32)
    for k in range(k_max):
        d = (wy - seeds[:, k, 0, None, None]) ** 2 + (wx - seeds[:, k, 1, None, None]) ** 2
        d[~keep[:, k]] = np.inf
        closer = d < d1
        second = ~closer & (d < d2)
        np.copyto(d2, d1, where=closer)
        np.copyto(cell2, cell, where=closer)
        np.copyto(d2, d, where=second)
        cell2[second] = k
        np.copyto(d1, d, where=closer)
        cell[closer] = k
    # Distance to the bisector of the two nearest seeds, (d2^2 - d1^2) / (2 |s1 - s2|): the
    # distance to the cell border (in warped coordinates), so membranes have an even width.
    flat = seeds.reshape(n, k_max, 2)
    s1 = np.take_along_axis(flat, cell.reshape(n, -1, 1), 1)
    s2 = np.take_along_axis(flat, cell2.reshape(n, -1, 1), 1)
    sep = np.linalg.norm(s1 - s2, axis=-1).reshape(n, size, size)
    border = (d2 - d1) / np.maximum(2.0 * sep, 1e-3)
    width = rng.uniform(w_lo, w_hi, n).astype(f32)[:, None, None] * f32(max(scale, 0.5))
    membrane = border < width / 2

    # --- mitochondria: elongated ellipses inside the cell of their centre, off the membranes.
    lo_m = max(int(round(m_lo * area)), 1 if m_lo > 0 else 0)  # small fields keep at least one
    n_mito = rng.integers(lo_m, max(int(round(m_hi * area)), lo_m) + 1, n)
    m_max = int(n_mito.max())
    mito = np.zeros((n, size, size), bool)
    cristae = np.zeros((n, size, size), f32)
    rim = np.zeros((n, size, size), f32)
    for j in range(m_max):
        active = (j < n_mito)[:, None, None]
        cy, cx = (rng.uniform(0.05, 0.95, (2, n)) * size).astype(f32)
        a = (rng.uniform(15.0, 30.0, n) * scale).astype(f32)[:, None, None]  # half length
        b = (rng.uniform(8.0, 14.0, n) * scale).astype(f32)[:, None, None]  # half width
        theta = rng.uniform(0, np.pi, n).astype(f32)[:, None, None]
        period = rng.uniform(3.0, 5.0, n).astype(f32)[:, None, None]
        dy, dx = yy - cy[:, None, None], xx - cx[:, None, None]
        u = dx * np.cos(theta) + dy * np.sin(theta)
        v = -dx * np.sin(theta) + dy * np.cos(theta)
        r = np.sqrt((u / a) ** 2 + (v / b) ** 2)
        home = cell[np.arange(n), np.clip(cy.astype(int), 0, size - 1), np.clip(cx.astype(int), 0, size - 1)]
        inside = (r <= 1.0) & active & (cell == home[:, None, None]) & ~membrane
        mito |= inside
        cristae = np.where(inside, np.cos(2 * np.pi * u / period) * 0.5 + 0.5, cristae)
        rim = np.where(inside, np.clip((r - 0.75) / 0.25, 0, 1), rim)

    labels = np.zeros((n, size, size), np.uint8)
    labels[mito] = 2
    labels[membrane] = 1  # membrane wins, as in the ssTEM set (mitochondria are kept off it anyway)

    # --- intensities: cytoplasm level per cell, texture, vesicles, membranes and mitochondria.
    level = rng.normal(0.62, 0.05, (n, k_max)).astype(f32)
    image = np.take_along_axis(level, cell.reshape(n, -1), 1).reshape(n, size, size)
    image += ndimage.gaussian_filter(rng.normal(0.0, 0.07, (n, size, size)).astype(f32), (0, 1.2, 1.2))
    vesicles = (rng.random((n, size, size)) < 0.002 / max(area, 0.25)).astype(f32)
    image -= 0.35 * np.minimum(ndimage.gaussian_filter(vesicles, (0, 1.3, 1.3)) * 10.0, 1.0) * (labels == 0)
    mem_profile = np.clip(1.0 - 2 * border / np.maximum(width, 1e-3), 0, 1)  # darkest on the border line
    image = np.where(membrane, 0.36 - 0.2 * mem_profile + 0.04 * rng.standard_normal((n, 1, 1)).astype(f32), image)
    mito_level = 0.36 + 0.14 * cristae - 0.14 * rim
    image = np.where(mito, mito_level, image)

    # --- microscope: blur, illumination drift, noise.
    if blur > 0:
        image = ndimage.gaussian_filter(image, (0, blur, blur))
    image = image + 0.05 * smooth_fields(rng, n, size, 3)[:, 0]
    image = image + rng.normal(0.0, noise, image.shape).astype(f32) if noise > 0 else image
    images = np.clip(image, 0.0, 1.0).astype(f32)
    return {"images": images, "labels": labels, "cells": cell, "classes": EM_CLASSES}


def plot_em_examples(sample: dict[str, Any], n: int = 4, *, title: str = "synthetic EM"):
    """Images on top, their labels below (membrane white, mitochondria orange).

    Args:
        sample: the dict returned by :func:`synthetic_em` (or any dict with ``images`` and
            ``labels`` of the same shape, e.g. ssTEM crops).
        n: how many images (columns) to show.
        title: label of the image row.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    for key in ("images", "labels"):
        if key not in sample:
            raise ValueError(f"sample must be the dict returned by synthetic_em; it has no {key!r}")
    images, labels = np.asarray(sample["images"]), np.asarray(sample["labels"])
    if images.ndim != 3 or images.shape != labels.shape:
        raise ValueError(f"sample's images and labels must both be (N, H, W), got {images.shape} and {labels.shape}")
    n = min(check_positive_int(n, "n"), len(images))
    palette = np.array([(0.1, 0.1, 0.1), (1.0, 1.0, 1.0), (1.0, 0.55, 0.1)], np.float32)
    fig, axes = plt.subplots(2, n, figsize=(2.8 * n, 5.8), squeeze=False)
    for j in range(n):
        axes[0, j].imshow(images[j], cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(f"{title} {j}", fontsize=9)
        axes[1, j].imshow(palette[np.clip(labels[j], 0, 2)])
        frac = np.bincount(labels[j].ravel(), minlength=3)[:3] / labels[j].size
        axes[1, j].set_title(f"membrane {frac[1]:.0%}, mitochondria {frac[2]:.0%}", fontsize=8)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig
