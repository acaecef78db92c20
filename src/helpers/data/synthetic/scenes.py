"""Offline stand-ins for two colour segmentation sets: PASCAL-VOC-like scenes and diseased leaves.

The notebooks on semantic segmentation of natural images train on PASCAL VOC and on a
leaf-disease set; both are large downloads, so for tests, quick runs and offline work the
course draws colour images with the same ingredients.

:func:`synthetic_scenes` (the VOC stand-in):

* class 0 is the background; every object class ``1 .. num_classes-1`` has **its own shape
  family** (disc, ellipse, square, triangle, star, rectangle, blob, cross, ring, hexagon,
  crescent) **and its own texture** (stripes of a class-specific period and orientation,
  checkerboard, dots, smooth gradient, fine grain, concentric rings, cross-hatch, plain,
  blocky speckle);
* colours are drawn around a class hue, but several classes share a hue region, one object in
  six takes a random hue and saturation and brightness are drawn from one wide range, so colour
  alone does not separate the classes; shape alone does not either, because a network sees
  texture before it sees a whole outline (and rings, crosses and crescents leave holes);
* 1-4 objects per image, 15-45 % of the image side, randomly rotated, possibly cut by the image
  edge and overlapping (later objects are painted over earlier ones, as in the mask);
* a textured background: low-frequency colour noise, sometimes faint stripes, and clutter
  (small blobs and thin lines of random colours) that belongs to no class;
* like VOC, pixels within ``ignore_border`` px of a change of class carry the label 255
  ("ignore"), so a loss with ``ignore_index=255`` does not punish uncertain outlines;
* a slight blur and mild Gaussian noise.

:func:`synthetic_leaves` (the leaf-disease stand-in):

* one green leaf with a pointed (lanceolate) outline, a petiole, a lighter midrib and side
  veins, a fine texture and shading, at a random rotation and scale on a brownish-grey soil
  background with dark specks (lesion look-alikes that lie off the leaf and are not labelled);
* brown, irregular lesions with a darker core and a yellowish halo, only on the leaf; the
  lesion field is thresholded at a quantile over the leaf pixels, so the lesion area is
  exactly the drawn fraction (from ``lesion_fraction``) of the leaf area.

Everything is vectorised over pixels (a short Python loop runs over the objects of an image),
every random number comes from one seeded generator, and an image depends only on the seed and
on the images before it: the first ``k`` images of ``n > k`` are the ``k`` images of ``n = k``.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from helpers.core.checks import check_positive_int, check_seed
from helpers.data.synthetic.noise import smooth_basis as _smooth_basis

# One entry per object class (class k+1 uses entry k): shape family, texture, texture period in
# pixels at size 128, stripe orientation in degrees (image frame), hue centre, name.
# Hue centres come in groups (reds, blues, greens) so that classes share colours.
_CLASSES = (
    ("disc", "stripes", 6.0, 0.0, 0.00, "striped disc"),
    ("ellipse", "checker", 7.0, 0.0, 0.60, "checkered ellipse"),
    ("square", "dots", 7.0, 0.0, 0.06, "dotted square"),
    ("triangle", "gradient", 0.0, 0.0, 0.33, "shaded triangle"),
    ("star", "grain", 0.0, 0.0, 0.55, "grainy star"),
    ("rectangle", "stripes", 4.0, 90.0, 0.95, "pinstriped rectangle"),
    ("blob", "rings", 8.0, 0.0, 0.40, "ringed blob"),
    ("cross", "hatch", 6.0, 45.0, 0.14, "hatched cross"),
    ("ring", "plain", 0.0, 0.0, 0.68, "plain ring"),
    ("hexagon", "stripes", 10.0, 135.0, 0.27, "banded hexagon"),
    ("crescent", "speckle", 3.0, 0.0, 0.03, "speckled crescent"),
)
MAX_CLASSES = len(_CLASSES) + 1
IGNORE = 255


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1))), np.float32)


def _smooth_noise(rng: np.random.Generator, basis: np.ndarray, channels: int) -> np.ndarray:
    k = basis.shape[1]
    coarse = rng.normal(0.0, 1.0, (channels, k, k)).astype(np.float32)
    return basis @ coarse @ basis.T  # (channels, size, size), std about 1


def _shape(family: str, u: np.ndarray, v: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Inside test in object coordinates (``u`` along the object's axis, unit = radius)."""
    if family == "disc":
        return u * u + v * v <= 1.0
    if family == "ellipse":
        return u * u + (v / (0.45 + 0.25 * p[0])) ** 2 <= 1.0
    if family == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.72
    if family == "rectangle":
        return (np.abs(u) <= 0.95) & (np.abs(v) <= 0.95 * (0.3 + 0.25 * p[0]))
    if family == "triangle":
        c, s = np.cos(2 * np.pi / 3), np.sin(2 * np.pi / 3)
        return (u <= 0.5) & (c * u + s * v <= 0.5) & (c * u - s * v <= 0.5)
    if family == "hexagon":
        out = np.abs(v) <= 0.87
        for a in (np.pi / 6, -np.pi / 6):
            out &= np.abs(u * np.cos(a) + v * np.sin(a)) <= 0.87
        return out
    if family == "cross":
        w = 0.24 + 0.12 * p[0]
        return ((np.abs(u) <= w) & (np.abs(v) <= 0.95)) | ((np.abs(v) <= w) & (np.abs(u) <= 0.95))
    if family == "ring":
        rho2 = u * u + v * v
        return (rho2 <= 1.0) & (rho2 >= (0.45 + 0.2 * p[0]) ** 2)
    if family == "crescent":
        return (u * u + v * v <= 1.0) & ((u - 0.4 - 0.2 * p[0]) ** 2 + v * v > 0.8**2)
    rho, phi = np.sqrt(u * u + v * v), np.arctan2(v, u)
    if family == "star":
        points = 5 + int(p[0] * 2)  # 5 or 6 points
        return rho <= 0.42 + 0.58 * ((1 + np.cos(points * phi)) / 2) ** 1.5
    # blob: a disc whose radius wobbles with three random harmonics
    edge = 0.76 + 0.08 * (np.cos(2 * phi + 6 * p[1]) * (2 * p[0] - 1) + np.cos(3 * phi + 6 * p[2]) * (2 * p[3] - 1)
                          + np.cos(4 * phi + 6 * p[3]) * (2 * p[2] - 1))
    return rho <= edge


def _texture(kind: str, period: float, angle: float, y: np.ndarray, x: np.ndarray, u: np.ndarray,
             v: np.ndarray, radius: float, rng: np.random.Generator, phase: float) -> np.ndarray:
    """Texture value in [0, 1] on a box of pixels (``y, x`` image frame, ``u, v`` object frame)."""
    if kind in ("stripes", "hatch"):
        a = np.deg2rad(angle)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * (x * np.cos(a) + y * np.sin(a)) / period + phase)
        if kind == "hatch":
            t2 = 0.5 + 0.5 * np.sin(2 * np.pi * (x * np.cos(a + np.pi / 2) + y * np.sin(a + np.pi / 2)) / period)
            t = ((t > 0.75) | (t2 > 0.75)).astype(np.float32)
        return t
    if kind == "checker":
        return ((np.floor(u * radius / period + phase) + np.floor(v * radius / period)) % 2).astype(np.float32)
    if kind == "dots":
        fy = (y / period + phase) % 1.0 - 0.5
        fx = (x / period) % 1.0 - 0.5
        return (fy * fy + fx * fx < 0.09).astype(np.float32)
    if kind == "gradient":
        return np.clip(0.5 + 0.5 * u, 0.0, 1.0)
    if kind == "grain":
        return rng.random(y.shape, dtype=np.float32)
    if kind == "rings":
        return 0.5 + 0.5 * np.sin(2 * np.pi * np.sqrt(u * u + v * v) * radius / period + phase)
    if kind == "speckle":
        b = max(2, int(round(period)))
        cells = rng.random((y.shape[0] // b + 1, y.shape[1] // b + 1), dtype=np.float32)
        return cells.repeat(b, 0).repeat(b, 1)[: y.shape[0], : y.shape[1]]
    return np.full(y.shape, 0.1, np.float32)  # plain


def _background(size: int, rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, basis: np.ndarray,
                clutter: int) -> np.ndarray:
    base = _hsv(rng.random(), rng.uniform(0.05, 0.55), rng.uniform(0.25, 0.85))
    noise = _smooth_noise(rng, basis, 4)
    image = base + (0.12 * noise[0])[..., None] + 0.04 * np.moveaxis(noise[1:], 0, -1)
    if rng.random() < 0.4:  # faint stripes of random period and orientation
        a, period = rng.uniform(0, np.pi), rng.uniform(4, 14) * size / 128
        image += (0.04 * np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / period))[..., None]
    scale = size / 128
    for _ in range(int(rng.integers(clutter // 2, clutter + 1))):  # small blobs of random colour
        cy, cx = rng.uniform(0, size, 2)
        ry, rx = rng.uniform(1.5, 5.5, 2) * max(scale, 0.5)
        y0, y1 = max(0, int(cy - ry) - 1), min(size, int(cy + ry) + 2)
        x0, x1 = max(0, int(cx - rx) - 1), min(size, int(cx + rx) + 2)
        inside = ((yy[y0:y1, x0:x1] - cy) / ry) ** 2 + ((xx[y0:y1, x0:x1] - cx) / rx) ** 2 <= 1
        image[y0:y1, x0:x1][inside] = _hsv(rng.random(), rng.uniform(0.1, 0.9), rng.uniform(0.2, 0.95))
    for _ in range(int(rng.integers(0, 3))):  # thin lines (twigs, wires)
        a, offset = rng.uniform(0, np.pi), rng.uniform(-0.4, 0.4) * size
        dist = np.abs((xx - size / 2) * np.sin(a) - (yy - size / 2) * np.cos(a) - offset)
        alpha = np.clip(1.2 - dist / max(scale, 0.5), 0, 1)[..., None] * rng.uniform(0.4, 0.9)
        image = image * (1 - alpha) + alpha * _hsv(rng.random(), rng.uniform(0, 0.6), rng.uniform(0.1, 0.9))
    return image


def _finish(image: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Slight blur, mild Gaussian noise, clip to [0, 1]."""
    image = ndimage.gaussian_filter(image, sigma=(0.6, 0.6, 0), truncate=2.5)
    image += noise * rng.standard_normal(image.shape, dtype=np.float32)
    return np.clip(image, 0.0, 1.0, out=image)


def _scene(size: int, object_classes: tuple[int, ...], rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray,
           basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = _background(size, rng, yy, xx, basis, clutter=8)
    label = np.zeros((size, size), np.uint8)
    scale = size / 128
    for _ in range(int(rng.integers(1, 5))):
        cls = int(rng.integers(1, len(object_classes) + 1))  # the label; the look is object_classes[cls - 1]
        family, texture, period, angle, hue, _name = _CLASSES[object_classes[cls - 1] - 1]
        radius = rng.uniform(0.15, 0.45) * size / 2
        cy, cx = rng.uniform(0.1, 0.9, 2) * size
        theta = rng.uniform(0, 2 * np.pi)
        p = rng.random(4)
        phase = rng.uniform(0, 2 * np.pi)
        period = max(2.5, period * scale * rng.uniform(0.85, 1.15))
        angle = angle + rng.uniform(-12, 12)
        h = rng.random() if rng.random() < 1 / 6 else hue + rng.uniform(-0.07, 0.07)
        s, val = rng.uniform(0.25, 0.9), rng.uniform(0.4, 0.95)
        c_a = _hsv(h, s, val)
        c_b = _hsv(h + rng.uniform(-0.05, 0.05), s * rng.uniform(0.6, 1.0), val * rng.uniform(0.35, 0.6))
        shade = rng.uniform(-0.15, 0.15)
        r0 = int(np.ceil(radius)) + 1
        y0, y1 = max(0, int(cy) - r0), min(size, int(cy) + r0 + 1)
        x0, x1 = max(0, int(cx) - r0), min(size, int(cx) + r0 + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        y, x = yy[y0:y1, x0:x1], xx[y0:y1, x0:x1]
        dy, dx = (y - cy) / radius, (x - cx) / radius
        u = dx * np.cos(theta) + dy * np.sin(theta)
        v = -dx * np.sin(theta) + dy * np.cos(theta)
        inside = _shape(family, u, v, p)
        t = _texture(texture, period, angle, y, x, u, v, radius, rng, phase)
        colour = (c_a + (c_b - c_a) * t[..., None]) * (1 + shade * u)[..., None]
        image[y0:y1, x0:x1][inside] = colour[inside]
        label[y0:y1, x0:x1][inside] = cls
    return image, label


def synthetic_scenes(n: int, size: int = 128, *, num_classes: int = 6, seed: int = 0,
                     ignore_border: int = 1, object_classes: Sequence[int] | None = None) -> dict[str, Any]:
    """Colour scenes of textured objects on a textured background, with VOC-style masks.

    Args:
        n: number of images.
        size: height and width in pixels (>= 32).
        num_classes: classes including the background (2..12); each object class has its own
            shape family and texture, see the module docstring and ``class_names``.
        seed: the same seed gives the same images.
        ignore_border: pixels within this many pixels (chessboard distance) of a pixel of
            another class get the label 255, "ignore", as in PASCAL VOC; 0 switches it off.
        object_classes: which object looks (1-based rows of the class table, 1..11) become labels
            ``1 .. num_classes-1``, in this order; ``None`` = ``1 .. num_classes-1``. Two tasks with
            disjoint lists share no class: e.g. a source task to pretrain a backbone on
            (``(6, ..., 11)``) and a target task to transfer it to (``(1, ..., 5)``).

    Returns:
        ``images`` float32 ``(n, size, size, 3)`` RGB in [0, 1]; ``masks`` uint8
        ``(n, size, size)`` with class indices and 255 on the ignore band; ``class_names`` the
        ``num_classes`` names, ``"background"`` first.

    Example:
        >>> s = synthetic_scenes(2, size=64, num_classes=4, seed=1)
        >>> s["images"].shape, s["masks"].dtype, s["class_names"][:2]
        ((2, 64, 64, 3), dtype('uint8'), ['background', 'striped disc'])
        >>> set(s["masks"].ravel().tolist()) <= {0, 1, 2, 3, 255}
        True
        >>> synthetic_scenes(1, size=64, num_classes=3, object_classes=(9, 10))["class_names"]
        ['background', 'plain ring', 'banded hexagon']
    """
    n = check_positive_int(n, "n")
    size = check_positive_int(size, "size", minimum=32)
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    if num_classes > MAX_CLASSES:
        raise ValueError(f"num_classes must be in [2, {MAX_CLASSES}], got {num_classes}")
    ignore_border = check_positive_int(ignore_border, "ignore_border", minimum=0)
    if object_classes is None:
        object_classes = tuple(range(1, num_classes))
    else:
        object_classes = tuple(int(c) for c in object_classes)
        if (len(object_classes) != num_classes - 1 or len(set(object_classes)) != len(object_classes)
                or not all(1 <= c < MAX_CLASSES for c in object_classes)):
            raise ValueError(f"object_classes must be {num_classes - 1} distinct class-table rows in "
                             f"[1, {MAX_CLASSES - 1}] (num_classes - 1 of them), got {object_classes}")
    rng = np.random.default_rng(check_seed(seed))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    basis = _smooth_basis(size, 5)
    images = np.empty((n, size, size, 3), np.float32)
    masks = np.empty((n, size, size), np.uint8)
    window = 2 * ignore_border + 1
    for i in range(n):
        image, label = _scene(size, object_classes, rng, yy, xx, basis)
        images[i] = _finish(image, rng, noise=0.02)
        if ignore_border:
            # A pixel whose (2b+1)^2 neighbourhood holds two classes is within b px of a class change.
            mixed = ndimage.maximum_filter(label, window) != ndimage.minimum_filter(label, window)
            label[mixed] = IGNORE
        masks[i] = label
    names = ["background"] + [_CLASSES[c - 1][5] for c in object_classes]
    return {"images": images, "masks": masks, "class_names": names}


def _leaf_image(size: int, lesion_fraction: tuple[float, float], rng: np.random.Generator, yy: np.ndarray,
                xx: np.ndarray, basis: np.ndarray, fine_basis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scale = size / 128
    # Soil: brownish grey, low-frequency variation, dark specks that look like lesions (off the leaf).
    soil = _hsv(rng.uniform(0.05, 0.12), rng.uniform(0.1, 0.35), rng.uniform(0.3, 0.6))
    noise = _smooth_noise(rng, basis, 2)
    image = soil + (0.08 * noise[0])[..., None] + (0.03 * noise[1])[..., None] * np.array([1, 0, -1], np.float32)
    image += 0.03 * rng.standard_normal((size, size, 1), dtype=np.float32)
    n_specks = int(rng.integers(4, 12))
    sc = rng.uniform(0, size, (n_specks, 2)).astype(np.float32)
    sr = rng.uniform(1.0, 3.5, n_specks).astype(np.float32) * max(scale, 0.5)
    d2 = (yy[None] - sc[:, 0, None, None]) ** 2 + (xx[None] - sc[:, 1, None, None]) ** 2
    specks = (d2 <= (sr**2)[:, None, None]).any(0)
    image[specks] = _hsv(rng.uniform(0.05, 0.1), rng.uniform(0.5, 0.8), rng.uniform(0.15, 0.35))

    # Leaf outline: half-width along the midrib w(u) ~ (1+u)^p (1-u)^q, pointed at the tip (u = 1).
    theta = rng.uniform(0, 2 * np.pi)
    cy, cx = size / 2 + rng.uniform(-0.08, 0.08, 2) * size
    length = rng.uniform(0.38, 0.48) * size  # half-length
    width = length * rng.uniform(0.4, 0.6)  # largest half-width
    p, q = rng.uniform(0.5, 0.9), rng.uniform(1.0, 1.5)
    u_max = (p - q) / (p + q)
    norm = (1 + u_max) ** p * (1 - u_max) ** q
    wobble = rng.uniform(0, 2 * np.pi, 2)
    a = (xx - cx) * np.cos(theta) + (yy - cy) * np.sin(theta)  # along the midrib, px
    b = -(xx - cx) * np.sin(theta) + (yy - cy) * np.cos(theta)  # across, px
    u = a / length
    uc = np.clip(u, -1, 1)
    half = width * (1 + uc) ** p * (1 - uc) ** q / norm
    half *= 1 + 0.05 * np.sin(3 * uc + wobble[0]) + 0.015 * np.sin(40 * uc + wobble[1])  # uneven, serrate margin
    blade = (np.abs(u) < 1) & (np.abs(b) <= half)
    stalk = (u <= -0.97) & (u >= -1.0 - rng.uniform(0.12, 0.22)) & (np.abs(b) <= 1.1 * max(scale, 0.6))
    leaf = blade | stalk

    # Leaf colour: green, a fine mottled texture, darker toward the margin, lighter veins.
    leaf_value = rng.uniform(0.35, 0.65)
    green = _hsv(rng.uniform(0.22, 0.33), rng.uniform(0.5, 0.85), leaf_value)
    across = np.clip(np.abs(b) / np.maximum(half, 1e-3), 0, 1)
    mottle = _smooth_noise(rng, fine_basis, 1)[0]
    leaf_rgb = green * (1 - 0.2 * across**2 + 0.05 * mottle + 0.1 * rng.uniform(-1, 1) * u)[..., None]
    leaf_rgb += 0.02 * rng.standard_normal((size, size, 1), dtype=np.float32)
    mid_w = max(scale, 0.5) * (0.5 + 0.9 * (1 - uc) / 2)
    midrib = np.abs(b) <= mid_w
    spacing, slope = length * rng.uniform(0.16, 0.24), rng.uniform(0.7, 1.3)
    phase = (a - np.abs(b) * slope) / spacing + rng.random()
    side = (np.abs(phase - np.round(phase)) * spacing < 0.55 * max(scale, 0.6)) & (across < 0.88) & (np.abs(u) < 0.9)
    vein_light = np.where(midrib, 0.45, np.where(side, 0.25, 0.0)).astype(np.float32)
    light = np.array([0.85, 0.95, 0.6], np.float32)
    leaf_rgb += vein_light[..., None] * (light - leaf_rgb)

    # Lesions: a field of irregular spots, thresholded at the quantile that gives the drawn fraction.
    lesion = np.zeros((size, size), bool)
    leaf_idx = np.flatnonzero(leaf)
    k = int(round(rng.uniform(*lesion_fraction) * leaf_idx.size))
    n_spots = int(rng.integers(2, 9))
    centres = np.column_stack(np.unravel_index(rng.choice(leaf_idx, n_spots), (size, size))).astype(np.float32)
    radii = rng.uniform(0.03, 0.08, n_spots).astype(np.float32) * size
    d = np.sqrt((yy[None] - centres[:, 0, None, None]) ** 2 + (xx[None] - centres[:, 1, None, None]) ** 2)
    field = (1 - d / radii[:, None, None]).max(0) + 0.3 * _smooth_noise(rng, fine_basis, 1)[0]
    if k > 0:
        values = field.ravel()[leaf_idx]
        threshold = np.partition(values, values.size - k)[values.size - k]
        lesion = leaf & (field >= threshold)
        depth = np.clip((field - threshold) / 0.6, 0, 1)
    else:
        depth = np.zeros_like(field)
    halo = ndimage.gaussian_filter(lesion.astype(np.float32), 1.2 + 1.2 * scale, truncate=3.0)
    halo = np.clip(2.5 * halo, 0, 1) * rng.uniform(0.5, 0.9)
    yellow = _hsv(rng.uniform(0.11, 0.16), rng.uniform(0.6, 0.85), rng.uniform(0.6, 0.8))
    leaf_rgb += halo[..., None] * (yellow - leaf_rgb)
    brown = _hsv(rng.uniform(0.05, 0.1), rng.uniform(0.5, 0.8), leaf_value * rng.uniform(0.6, 0.9))  # darker
    spot_rgb = brown * (1 - 0.45 * depth + 0.05 * np.sin(depth * rng.uniform(8, 16)))[..., None]
    spot_rgb += 0.03 * rng.standard_normal((size, size, 1), dtype=np.float32)
    leaf_rgb = np.where(lesion[..., None], spot_rgb, leaf_rgb)
    image = np.where(leaf[..., None], leaf_rgb, image)
    return image, lesion, leaf


def synthetic_leaves(n: int, size: int = 128, *, seed: int = 0,
                     lesion_fraction: tuple[float, float] = (0.02, 0.15)) -> dict[str, Any]:
    """Colour images of a diseased leaf on soil, with lesion and leaf masks.

    Args:
        n: number of images.
        size: height and width in pixels (>= 32).
        seed: the same seed gives the same images.
        lesion_fraction: ``(low, high)`` with ``0 <= low <= high <= 1``; each image's lesion area
            is a fraction of its leaf area drawn uniformly from this range.

    Returns:
        ``images`` float32 ``(n, size, size, 3)`` RGB in [0, 1]; ``masks`` uint8 ``(n, size, size)``,
        1 = lesion, 0 otherwise; ``leaf`` uint8 ``(n, size, size)``, 1 = leaf (lesions included).

    Example:
        >>> s = synthetic_leaves(2, size=64, seed=1)
        >>> s["images"].shape, s["masks"].dtype, bool((s["masks"] <= s["leaf"]).all())
        ((2, 64, 64, 3), dtype('uint8'), True)
    """
    n = check_positive_int(n, "n")
    size = check_positive_int(size, "size", minimum=32)
    try:
        low, high = (float(f) for f in lesion_fraction)
    except (TypeError, ValueError):
        raise ValueError(f"lesion_fraction must be a pair (low, high), got {lesion_fraction!r}") from None
    if not (0.0 <= low <= high <= 1.0):
        raise ValueError(f"lesion_fraction must satisfy 0 <= low <= high <= 1, got {lesion_fraction!r}")
    rng = np.random.default_rng(check_seed(seed))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    basis, fine_basis = _smooth_basis(size, 5), _smooth_basis(size, 14)
    images = np.empty((n, size, size, 3), np.float32)
    masks = np.empty((n, size, size), np.uint8)
    leaves = np.empty((n, size, size), np.uint8)
    for i in range(n):
        image, lesion, leaf = _leaf_image(size, (low, high), rng, yy, xx, basis, fine_basis)
        images[i] = _finish(image, rng, noise=0.02)
        masks[i], leaves[i] = lesion, leaf
    return {"images": images, "masks": masks, "leaf": leaves}


def plot_scene_examples(sample: dict[str, Any], n: int = 4):
    """Images on top, their colour-coded masks below (ignore pixels, 255, in white).

    Args:
        sample: the dict returned by :func:`synthetic_scenes` or :func:`synthetic_leaves` (any
            dict with ``images`` and ``masks``; ``class_names``, if present, gives a legend).
        n: how many images (columns) to show.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    for key in ("images", "masks"):
        if key not in sample:
            raise ValueError(f"sample must be the dict returned by synthetic_scenes or synthetic_leaves; "
                             f"it has no {key!r}")
    n = min(check_positive_int(n, "n"), len(sample["images"]))
    palette = np.zeros((256, 3), np.float32)
    palette[1:] = plt.get_cmap("tab20")(np.arange(255) % 20)[:, :3]
    palette[IGNORE] = 1.0
    fig, axes = plt.subplots(2, n, figsize=(2.8 * n, 6.4), squeeze=False)
    for j in range(n):
        axes[0, j].imshow(np.clip(sample["images"][j], 0, 1))
        axes[0, j].set_title(f"image {j}", fontsize=9)
        axes[1, j].imshow(palette[np.asarray(sample["masks"][j], np.uint8)], interpolation="nearest")
        axes[1, j].set_title("mask (white = ignore)", fontsize=9)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    names = sample.get("class_names")
    if names is None and "leaf" in sample:
        names = ["healthy / background", "lesion"]
    if names:
        handles = [Patch(color=palette[c], label=name) for c, name in enumerate(names)]
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
    else:
        fig.tight_layout()
    return fig
