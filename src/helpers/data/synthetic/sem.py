"""Synthetic SEM micrographs of an etched alloy: grains, grain boundaries, carbides, distractors.

The grain-boundary paper's 100 SEM images of Alloy 690 are not public, so the course draws
images with the same ingredients (the paper's Figs. 4-5):

* grains whose boundaries **curve**: nearest-seed (Voronoi) grains computed on a coordinate grid
  displaced by a smooth random warp field;
* grain boundaries a few pixels wide, etched brighter than the grains, labelled as the mask;
* **carbide precipitates sitting on the boundaries** (bright blobs, with their own mask);
* distractors **off** the boundaries: white spots that look like carbides but lie inside grains,
  and straight polishing scratches across the grains; neither is in any mask;
* a heat-treatment ``treatment`` that changes the look: ``"short"`` gives small grains, strong
  grain-to-grain etch contrast, faint boundaries and few small carbides; ``"long"`` gives large grains,
  flatter grain contrast, well-marked boundaries and many larger carbides (precipitation grows with
  ageing time); ``"medium"`` lies between;
* an illumination gradient, a slight blur and detector noise (Gaussian plus shot noise).

Every random number comes from one seeded generator, so a seed gives the same images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from helpers.core.checks import check_choice, check_positive_int, check_seed
from helpers.data.synthetic.noise import smooth_basis

TREATMENTS = ("short", "medium", "long")
# Per treatment: grains per 256x256 image, grain-contrast spread, boundary brightness,
# carbides per 100 px of boundary, carbide radius (px).
_STYLE = {
    "short": dict(grains=(40, 60), contrast=0.22, boundary=0.12, carbide_density=0.6, carbide_radius=(1.5, 2.5)),
    "medium": dict(grains=(25, 40), contrast=0.15, boundary=0.20, carbide_density=1.2, carbide_radius=(2.0, 3.0)),
    "long": dict(grains=(14, 24), contrast=0.09, boundary=0.28, carbide_density=2.0, carbide_radius=(2.5, 3.5)),
}


def _treatments(treatment: str | Sequence[str], n: int, rng: np.random.Generator) -> list[str]:
    if isinstance(treatment, str):
        if treatment == "mixed":
            return [TREATMENTS[i] for i in rng.integers(0, 3, n)]
        check_choice(treatment, "treatment", (*TREATMENTS, "mixed"))
        return [treatment] * n
    treatment = list(treatment)
    if len(treatment) != n:
        raise ValueError(f"treatment must be one name or a list of {n} names, got a list of {len(treatment)}")
    for t in treatment:
        check_choice(t, "treatment", TREATMENTS)
    return treatment


def _blobs(centres: np.ndarray, radius: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Union of discs (vectorised over discs, drawn in their bounding boxes)."""
    out = np.zeros(shape, bool)
    h, w = shape
    for (cy, cx), r in zip(centres, radius):
        r0 = int(np.ceil(r))
        y0, y1, x0, x1 = max(0, int(cy) - r0), min(h, int(cy) + r0 + 1), max(0, int(cx) - r0), min(w, int(cx) + r0 + 1)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        out[y0:y1, x0:x1] |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    return out


def _one_image(size: int, style: dict[str, Any], boundary_width: int, rng: np.random.Generator,
               yy: np.ndarray, xx: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    scale = size / 256.0
    n_grains = max(4, int(rng.integers(*style["grains"]) * scale**2))
    # Smooth warp field: low-resolution noise, upsampled; bends the straight Voronoi edges.
    # (Gaussian bumps on a 6x6 grid, summed by two small matrix products: much faster than zoom.)
    coarse = rng.normal(0.0, 1.0, (2, 6, 6)).astype(np.float32)
    warp = (basis @ coarse @ basis.T) * (7.0 * scale)
    wy, wx = yy + warp[0], xx + warp[1]
    seeds = rng.uniform(0, size, (n_grains, 2)).astype(np.float32)
    # Nearest seed by a running minimum over seeds: the same float32 values and first-minimum ties as
    # an argmin over a (seeds, H, W) stack, at a fraction of the memory traffic.
    best = (wy - seeds[0, 0]) ** 2 + (wx - seeds[0, 1]) ** 2
    grains = np.zeros((size, size), np.int32)
    for k in range(1, n_grains):
        d2 = (wy - seeds[k, 0]) ** 2 + (wx - seeds[k, 1]) ** 2
        closer = d2 < best
        np.copyto(best, d2, where=closer)
        grains[closer] = k
    edge = np.zeros((size, size), bool)
    edge[:, 1:] |= grains[:, 1:] != grains[:, :-1]
    edge[1:, :] |= grains[1:, :] != grains[:-1, :]
    boundary = ndimage.binary_dilation(edge, iterations=max(0, boundary_width - 2)) if boundary_width > 2 else edge

    # Grain interiors: an etch level per grain (crystal orientation) and a fine texture.
    level = 0.45 + rng.normal(0.0, style["contrast"], n_grains).astype(np.float32)
    image = level[grains]
    image += ndimage.gaussian_filter(rng.normal(0.0, 0.05, (size, size)).astype(np.float32), 1.5)
    image = np.where(boundary, image + style["boundary"] + 0.1, image)

    # Carbides: centres drawn on the boundary centre line, density per boundary length.
    edge_idx = np.flatnonzero(edge)
    n_carb = rng.poisson(style["carbide_density"] * edge_idx.size / 2 / 100)
    centres = np.column_stack(np.unravel_index(rng.choice(edge_idx, size=min(n_carb, edge_idx.size), replace=False),
                                               (size, size))).astype(np.float32)
    radius = rng.uniform(*style["carbide_radius"], len(centres)) * max(scale, 0.5)
    carbides = _blobs(centres, radius, (size, size))

    # Distractors away from the boundaries: white spots inside grains, polishing scratches.
    far = ndimage.distance_transform_edt(~boundary) > 8 * scale
    far_idx = np.flatnonzero(far)
    n_spots = int(rng.integers(3, 9))
    spots = np.zeros_like(carbides)
    if far_idx.size:
        spot_c = np.column_stack(np.unravel_index(rng.choice(far_idx, n_spots), (size, size))).astype(np.float32)
        spots = _blobs(spot_c, rng.uniform(1.5, 3.0, n_spots) * max(scale, 0.5), (size, size)) & far
    image = np.where(carbides | spots, 0.95, image)
    for _ in range(int(rng.integers(1, 4))):
        theta = rng.uniform(0, np.pi)
        offset = rng.uniform(-0.5, 0.5) * size
        dist = np.abs((xx - size / 2) * np.sin(theta) - (yy - size / 2) * np.cos(theta) - offset)
        image -= np.clip(1.0 - dist / 0.9, 0, 1) * rng.uniform(0.08, 0.2)

    # Microscope: illumination gradient, slight blur, shot and read noise.
    gy, gx = rng.uniform(-0.15, 0.15, 2)
    image = image + gy * (yy / size - 0.5) + gx * (xx / size - 0.5)
    image = ndimage.gaussian_filter(np.clip(image, 0, 1), 0.7)
    photons = 60.0
    image = rng.poisson(image * photons).astype(np.float32) / photons + rng.normal(0, 0.02, image.shape)
    return np.clip(image, 0, 1).astype(np.float32), boundary, carbides, grains


def synthetic_sem(n: int, size: int = 256, *, treatment: str | Sequence[str] = "medium", seed: int = 0,
                  boundary_width: int = 3) -> dict[str, Any]:
    """SEM-like micrographs of an etched alloy with grain-boundary and carbide masks.

    Args:
        n: number of images.
        size: height and width in pixels (>= 32); the look is scaled from a 256-px field of view.
        treatment: ``"short"``, ``"medium"``, ``"long"`` (heat-treatment time, see the module
            docstring), ``"mixed"`` (one drawn per image) or a list with one name per image.
        seed: the same seed gives the same images.
        boundary_width: width of the boundary mask in pixels (2..8).

    Returns:
        ``images`` float32 ``(n, size, size)`` in [0, 1]; ``boundaries`` and ``carbides`` uint8 0/1
        masks of the same shape (carbides lie on the boundaries); ``grains`` int32 grain labels;
        ``treatment`` the list of treatments used.

    Example:
        >>> s = synthetic_sem(2, size=64, treatment="long", seed=1)
        >>> s["images"].shape, s["boundaries"].dtype, s["treatment"]
        ((2, 64, 64), dtype('uint8'), ['long', 'long'])
    """
    n = check_positive_int(n, "n")
    size = check_positive_int(size, "size", minimum=32)
    boundary_width = check_positive_int(boundary_width, "boundary_width", minimum=2)
    if boundary_width > 8:
        raise ValueError(f"boundary_width must be in [2, 8], got {boundary_width}")
    rng = np.random.default_rng(check_seed(seed))
    kinds = _treatments(treatment, n, rng)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    basis = smooth_basis(size, 6)
    images = np.empty((n, size, size), np.float32)
    boundaries = np.empty((n, size, size), np.uint8)
    carbides = np.empty((n, size, size), np.uint8)
    grains = np.empty((n, size, size), np.int32)
    for i, kind in enumerate(kinds):
        images[i], b, c, grains[i] = _one_image(size, _STYLE[kind], boundary_width, rng, yy, xx, basis)
        boundaries[i], carbides[i] = b, c
    return {"images": images, "boundaries": boundaries, "carbides": carbides, "grains": grains, "treatment": kinds}


def plot_sem_examples(sample: dict[str, Any], n: int = 3):
    """The paper's Fig. 5 layout: SEM images on top, their boundary labels below, carbides in colour.

    Args:
        sample: the dict returned by :func:`synthetic_sem`.
        n: how many images (columns) to show.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    for key in ("images", "boundaries", "carbides", "treatment"):
        if key not in sample:
            raise ValueError(f"sample must be the dict returned by synthetic_sem; it has no {key!r}")
    n = min(check_positive_int(n, "n"), len(sample["images"]))
    fig, axes = plt.subplots(2, n, figsize=(3.0 * n, 6.2), squeeze=False)
    for j in range(n):
        axes[0, j].imshow(sample["images"][j], cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(f"SEM image ({sample['treatment'][j]} treatment)", fontsize=9)
        label = np.stack([sample["boundaries"][j]] * 3, -1).astype(np.float32)
        label[sample["carbides"][j] > 0] = (1.0, 0.45, 0.1)
        axes[1, j].imshow(label)
        axes[1, j].set_title("label: boundaries (white), carbides (orange)", fontsize=8)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig
