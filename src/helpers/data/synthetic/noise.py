"""Small deterministic generators shared by the notebooks and the tests.

The paper notebooks add their own, richer generators (SEM microstructures, EM
membranes, filler structures); this module holds the one the getting-started
notebook trains on and the tests use.
"""

from __future__ import annotations

import numpy as np

from helpers.core.checks import check_positive_int


def smooth_basis(size: int, knots: int) -> np.ndarray:
    """``(size, knots)`` Gaussian bumps: ``basis @ c @ basis.T`` turns ``knots x knots`` noise into a smooth field."""
    centres = (np.arange(knots, dtype=np.float32) + 0.5) * size / knots
    return np.exp(-(((np.arange(size, dtype=np.float32)[:, None] - centres) / (size / knots)) ** 2))


def smooth_fields(rng: np.random.Generator, n: int, size: int, knots: int, channels: int = 1) -> np.ndarray:
    """Smooth random fields ``(n, channels, size, size)`` of unit-order amplitude: Gaussian bumps on a
    ``knots x knots`` grid with normal weights (the warps and shading of the EM generators)."""
    basis = smooth_basis(size, knots)
    coarse = rng.normal(0.0, 1.0, (n, channels, knots, knots)).astype(np.float32)
    return basis @ coarse @ basis.T


def synthetic_shapes(n: int, size: int = 64, num_classes: int = 3, *, max_shapes: int = 6,
                     noise: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grey images of overlapping discs and squares with a per-pixel class mask.

    Class 0 is the background; classes ``1 .. num_classes-1`` alternate between discs
    (odd classes) and squares (even classes), each with its own mean brightness, so a
    segmentation model must use both intensity and shape. Gaussian noise and a smooth
    illumination gradient make it less trivial. Vectorised over images and shapes.

    Args:
        n: number of images.
        size: height and width in pixels (>= 16).
        num_classes: classes including the background (2..8).
        max_shapes: at most this many shapes per image (at least 1).
        noise: standard deviation of the additive Gaussian noise.
        seed: the same seed gives the same images.

    Returns:
        ``images`` float32 ``(n, size, size)`` in [0, 1] and ``masks`` int64 ``(n, size, size)``.

    Example:
        >>> x, y = synthetic_shapes(4, size=32, num_classes=3, seed=1)
        >>> x.shape, y.shape, int(y.max()) <= 2
        ((4, 32, 32), (4, 32, 32), True)
    """
    n = check_positive_int(n, "n")
    size = check_positive_int(size, "size", minimum=16)
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    if num_classes > 8:
        raise ValueError(f"num_classes must be in [2, 8], got {num_classes}")
    max_shapes = check_positive_int(max_shapes, "max_shapes")
    if not (0 <= noise <= 1):
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    rng = np.random.default_rng(seed)
    # Draw every random number up front (so results do not depend on the chunking), then
    # render in chunks: the (images, shapes, H, W) arrays of one chunk stay cache-sized.
    cls = rng.integers(1, num_classes, size=(n, max_shapes))
    present = rng.random((n, max_shapes)) < 0.75
    present[:, 0] = True
    cy, cx = rng.uniform(0.1, 0.9, (2, n, max_shapes)) * size
    radius = rng.uniform(0.07, 0.18, (n, max_shapes)) * size
    gy, gx = rng.uniform(-0.15, 0.15, (2, n, 1, 1)).astype(np.float32)
    noise_field = rng.normal(0.0, noise, (n, size, size)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    brightness = np.linspace(0.25, 0.9, num_classes).astype(np.float32)
    brightness[0] = 0.1
    labels = np.concatenate([np.zeros((n, 1), np.int64), cls], axis=1)
    masks = np.empty((n, size, size), np.int64)
    chunk = max(1, 2**22 // (max_shapes * size * size))
    for s in range(0, n, chunk):
        sl = slice(s, min(n, s + chunk))
        dy = yy[None, None] - cy[sl, :, None, None]
        dx = xx[None, None] - cx[sl, :, None, None]
        r = radius[sl, :, None, None]
        disc = dy**2 + dx**2 <= r**2
        square = np.maximum(np.abs(dy), np.abs(dx)) <= 0.85 * r
        inside = np.where((cls[sl] % 2 == 1)[..., None, None], disc, square) & present[sl, :, None, None]
        # Later shapes are painted over earlier ones: take the last shape covering each pixel.
        order = np.arange(1, max_shapes + 1)[None, :, None, None]
        top = np.max(np.where(inside, order, 0), axis=1)  # 0 = background
        m = len(top)
        masks[sl] = np.take_along_axis(labels[sl], top.reshape(m, -1), axis=1).reshape(m, size, size)
    images = brightness[masks]
    images += gy * (yy / size - 0.5) + gx * (xx / size - 0.5)
    images += noise_field
    return np.clip(images, 0.0, 1.0, out=images), masks
