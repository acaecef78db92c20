"""Synthetic stand-ins for PASCAL VOC scenes and a leaf-disease set (offline defaults of notebook 2).

* :func:`synthetic_scenes`: textured objects of several classes on a textured background. Each
  object class has its own shape (disc, square, triangle, ellipse, cross, ring, ...) and its own
  texture (stripes of a class-specific frequency and angle, checkerboard, dots, smooth ramps), with
  colours drawn from overlapping ranges, so neither colour nor shape alone tells the classes apart.
  Pixels next to an object's outline are labelled 255 ("ignore"), like VOC's borders.
* :func:`synthetic_leaves`: a green leaf (pointed outline, midrib and side veins) on a brownish
  background, with brown lesions ringed by a yellow halo; the lesion mask is the target.

Deterministic per seed; every pixel operation is vectorised (a loop runs over objects only).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from ..checks import check_positive_int

SHAPES = ("disc", "square", "triangle", "ellipse", "cross", "ring", "diamond", "bar", "star", "semi", "hexagon")


def _shape_mask(kind: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shape in normalised coordinates u, v (object centred at 0, radius 1)."""
    r = np.hypot(u, v)
    if kind == "disc":
        return r <= 1
    if kind == "square":
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if kind == "triangle":
        return (v <= 0.7) & (v >= 2 * np.abs(u) - 1.0)
    if kind == "ellipse":
        return (u / 1.0) ** 2 + (v / 0.55) ** 2 <= 1
    if kind == "cross":
        return ((np.abs(u) <= 0.3) & (np.abs(v) <= 1)) | ((np.abs(v) <= 0.3) & (np.abs(u) <= 1))
    if kind == "ring":
        return (r <= 1) & (r >= 0.55)
    if kind == "diamond":
        return np.abs(u) + np.abs(v) <= 1
    if kind == "bar":
        return (np.abs(u) <= 1) & (np.abs(v) <= 0.35)
    if kind == "star":
        theta = np.arctan2(v, u)
        return r <= 0.6 + 0.4 * np.cos(5 * theta)
    if kind == "semi":
        return (r <= 1) & (v >= -0.2)
    return np.maximum(np.abs(u) * 0.866 + np.abs(v) * 0.5, np.abs(v)) <= 0.9  # hexagon


def _texture(cls: int, yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A class-specific pattern in [-1, 1]."""
    kind = cls % 4
    freq = 0.25 + 0.12 * (cls % 3)
    angle = 0.6 * cls + rng.uniform(-0.3, 0.3)
    t = xx * np.cos(angle) + yy * np.sin(angle)
    if kind == 0:
        return np.sin(freq * t)
    if kind == 1:
        return np.sign(np.sin(freq * xx) * np.sin(freq * yy))
    if kind == 2:
        return np.cos(freq * 1.5 * xx) * np.cos(freq * 1.5 * yy)
    return np.tanh((t - t.mean()) / 20.0)


def synthetic_scenes(n: int, size: int = 128, *, num_classes: int = 6, seed: int = 0,
                     ignore_border: int = 1) -> dict[str, Any]:
    """Multi-class scenes of textured objects (see the module docstring).

    Args:
        n: number of images.
        size: height and width (>= 32).
        num_classes: classes including the background 0 (2..12).
        seed: the same seed gives the same scenes.
        ignore_border: width in pixels of the 255 band along object outlines (0 = none).

    Returns:
        ``images`` float32 ``(n, size, size, 3)`` in [0, 1], ``masks`` uint8 ``(n, size, size)``
        (0 background, 1..num_classes-1 objects, 255 ignore), ``class_names``.

    Example:
        >>> s = synthetic_scenes(2, size=64, num_classes=4, seed=0)
        >>> s["images"].shape, s["masks"].dtype, s["class_names"][:2]
        ((2, 64, 64, 3), dtype('uint8'), ['background', 'disc'])
    """
    n = check_positive_int(n, "n")
    size = check_positive_int(size, "size", minimum=32)
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    if num_classes > 12:
        raise ValueError(f"num_classes must be in [2, 12], got {num_classes}")
    if isinstance(ignore_border, bool) or not isinstance(ignore_border, (int, np.integer)) or ignore_border < 0:
        raise ValueError(f"ignore_border must be an integer >= 0, got {ignore_border!r}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    # Class colours: a base hue per class, spread so that ranges of neighbouring classes overlap.
    base = rng.uniform(0.2, 0.8, (num_classes, 3)).astype(np.float32)
    images = np.empty((n, size, size, 3), np.float32)
    masks = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        bg = ndimage.zoom(rng.normal(0, 1, (3, 6, 6)), (1, size / 6, size / 6), order=1)[:, :size, :size]
        img = 0.45 + 0.12 * np.moveaxis(bg, 0, -1).astype(np.float32) + 0.05 * _texture(0, yy, xx, rng)[..., None]
        label = np.zeros((size, size), np.uint8)
        outline = np.zeros((size, size), bool)
        for _ in range(int(rng.integers(1, 5))):
            cls = int(rng.integers(1, num_classes))
            radius = rng.uniform(0.12, 0.3) * size
            cy, cx = rng.uniform(0.1, 0.9, 2) * size
            rot = rng.uniform(0, 2 * np.pi)
            du, dv = (xx - cx) / radius, (yy - cy) / radius
            u, v = du * np.cos(rot) + dv * np.sin(rot), -du * np.sin(rot) + dv * np.cos(rot)
            obj = _shape_mask(SHAPES[(cls - 1) % len(SHAPES)], u, v)
            if not obj.any():
                continue
            colour = np.clip(base[cls] + rng.normal(0, 0.12, 3), 0, 1).astype(np.float32)
            tex = _texture(cls, yy, xx, rng)[..., None]
            img = np.where(obj[..., None], colour + 0.15 * tex, img)
            label[obj] = cls
            if ignore_border:
                outline |= obj ^ ndimage.binary_erosion(obj)
        img = img + rng.normal(0, 0.03, img.shape).astype(np.float32)
        if ignore_border:
            edges = np.zeros_like(outline)
            edges[:, 1:] |= label[:, 1:] != label[:, :-1]
            edges[1:, :] |= label[1:, :] != label[:-1, :]
            band = ndimage.binary_dilation(edges, iterations=ignore_border) if ignore_border > 1 else edges
            label = np.where(band, 255, label).astype(np.uint8)
        images[i] = np.clip(img, 0, 1)
        masks[i] = label
    names = ["background", *[SHAPES[(c - 1) % len(SHAPES)] for c in range(1, num_classes)]]
    return {"images": images, "masks": masks, "class_names": names}


def synthetic_leaves(n: int, size: int = 128, *, seed: int = 0,
                     lesion_fraction: tuple[float, float] = (0.02, 0.15)) -> dict[str, Any]:
    """Leaves with disease lesions (see the module docstring).

    Args:
        n: number of images.
        size: height and width (>= 32).
        seed: the same seed gives the same leaves.
        lesion_fraction: range of the fraction of the leaf area covered by lesions.

    Returns:
        ``images`` float32 ``(n, size, size, 3)`` in [0, 1]; ``masks`` uint8 (1 = lesion);
        ``leaf`` uint8 (1 = leaf); lesions lie on the leaf.

    Example:
        >>> s = synthetic_leaves(2, size=64, seed=0)
        >>> bool((s["masks"] <= s["leaf"]).all())
        True
    """
    n = check_positive_int(n, "n")
    size = check_positive_int(size, "size", minimum=32)
    lo, hi = (float(v) for v in lesion_fraction)
    if not 0 <= lo <= hi <= 1:
        raise ValueError(f"lesion_fraction must be (low, high) with 0 <= low <= high <= 1, got {lesion_fraction}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    images = np.empty((n, size, size, 3), np.float32)
    masks = np.zeros((n, size, size), np.uint8)
    leaves = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        rot = rng.uniform(0, np.pi)
        length, width = rng.uniform(0.38, 0.46) * size, rng.uniform(0.16, 0.22) * size
        cy, cx = size / 2 + rng.normal(0, size * 0.03, 2)
        du, dv = xx - cx, yy - cy
        u = (du * np.cos(rot) + dv * np.sin(rot)) / length  # along the leaf, -1..1
        v = (-du * np.sin(rot) + dv * np.cos(rot)) / width
        half = np.clip(1 - u**2, 0, None) ** 0.8 * (1 - 0.25 * u)  # pointed tip at u = 1
        leaf = (np.abs(v) <= half) & (np.abs(u) <= 1)
        veins = (np.abs(v) < 0.05) | (np.abs(np.sin(9 * (u - 0.6 * np.abs(v)))) < 0.08)
        green = np.stack([0.25 + 0.05 * u, 0.55 + 0.1 * v, 0.2 + 0 * u], -1)
        green = green + 0.1 * veins[..., None]
        bg = np.stack([0.45 + 0 * u, 0.38 + 0 * u, 0.30 + 0 * u], -1)
        bg = bg + 0.06 * ndimage.zoom(rng.normal(0, 1, (5, 5)), size / 5, order=1)[:size, :size, None]
        img = np.where(leaf[..., None], green, bg)
        # Lesions: discs on the leaf, added until the drawn fraction of the leaf is covered.
        target = rng.uniform(lo, hi) * leaf.sum()
        lesion = np.zeros_like(leaf)
        idx = np.flatnonzero(leaf)
        for _ in range(40):
            if lesion.sum() >= target or idx.size == 0:
                break
            c = np.unravel_index(rng.choice(idx), leaf.shape)
            r = rng.uniform(0.02, 0.06) * size
            spot = ((yy - c[0]) ** 2 / r**2 + (xx - c[1]) ** 2 / (r * rng.uniform(0.7, 1.3)) ** 2) <= 1
            lesion |= spot & leaf
        halo = ndimage.binary_dilation(lesion, iterations=2) & leaf & ~lesion
        img = np.where(halo[..., None], np.array([0.75, 0.7, 0.2], np.float32), img)
        img = np.where(lesion[..., None], np.array([0.45, 0.28, 0.12], np.float32), img)
        img = ndimage.gaussian_filter(img, (0.6, 0.6, 0)) + rng.normal(0, 0.02, img.shape)
        images[i], masks[i], leaves[i] = np.clip(img, 0, 1), lesion, leaf
    return {"images": images, "masks": masks, "leaf": leaves}
