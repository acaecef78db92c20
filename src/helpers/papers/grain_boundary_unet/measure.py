"""Measuring grain boundaries: medial-axis length, carbide coverage, and topology.

The grain-boundary paper measures boundary length along the **medial axis** of the predicted
boundary region (its centre line): a prediction a little too thick lowers the IoU but hardly
moves the centre line, so the length stays right. The ratio it is after is the fraction of that
length covered by carbide precipitates. Its proposed future work counts the edges of the
boundary network to penalise broken boundaries; :func:`skeleton_graph_stats` and
:func:`betti_error` measure exactly that kind of error.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.morphology import medial_axis, remove_small_holes, remove_small_objects, skeletonize

from helpers.core.checks import check_array, check_choice, check_ndim, check_same_shape

_EIGHT = np.ones((3, 3), bool)


def _binary(mask: Any, name: str) -> np.ndarray:
    check_array(mask, name)
    m = np.asarray(mask.detach().cpu() if hasattr(mask, "detach") else mask)
    check_ndim(m, name, 2, "(H, W)")
    if m.dtype != bool:
        values = np.unique(m)
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f"{name} must be a binary mask (bool or 0/1), found values {values[:5].tolist()}")
    return m.astype(bool)


def boundary_skeleton(mask: Any, min_size: int = 0) -> np.ndarray:
    """Medial axis (centre line) of a binary boundary mask.

    Args:
        mask: ``(H, W)`` bool or 0/1 boundary mask.
        min_size: remove foreground specks and fill background holes smaller than this many
            pixels first (0 = no cleanup).

    Example:
        >>> band = np.zeros((7, 20), bool); band[2:5, 2:18] = True
        >>> int(boundary_skeleton(band)[3].sum())
        14
    """
    m = _binary(mask, "mask")
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0, got {min_size}")
    if min_size:
        m = remove_small_objects(m, min_size=min_size)
        m = remove_small_holes(m, area_threshold=min_size)
    return medial_axis(m)


# Kulpa (1977): scaling the 8-neighbour chain length by this factor makes it unbiased on average over
# line orientations; the plain count over-estimates a randomly oriented curve by about 5 %.
KULPA_FACTOR = 0.948


def skeleton_length(skeleton_or_mask: Any, pixel_size: float | None = None, from_mask: bool = False,
                    estimator: str = "kulpa") -> float:
    """Length of a one-pixel-wide skeleton, counting each 8-neighbour link once.

    Orthogonal links count 1, diagonal links sqrt(2). Where a skeleton pixel has both an
    orthogonal and a diagonal path to the same neighbour (an L-shaped corner), only the
    orthogonal links are kept, so corners are not counted twice.

    With ``estimator="freeman"`` that count is the length: exact for lines along the axes and
    diagonals (a straight line of N pixels has length N - 1), about 5 % too long for a curve of
    all orientations such as a grain boundary. ``estimator="kulpa"`` (default) scales it by
    0.948 (Kulpa 1977), which is unbiased on average over orientations.

    Args:
        skeleton_or_mask: ``(H, W)`` binary skeleton (or a mask if ``from_mask``).
        pixel_size: micrometres per pixel; the length is then in micrometres.
        from_mask: take the medial axis of the mask first.
        estimator: ``"kulpa"`` or ``"freeman"`` (see above).

    Example:
        >>> line = np.zeros((5, 12), bool); line[2, 1:11] = True
        >>> skeleton_length(line, estimator="freeman")
        9.0
    """
    s = boundary_skeleton(skeleton_or_mask) if from_mask else _binary(skeleton_or_mask, "skeleton")
    if pixel_size is not None and not pixel_size > 0:
        raise ValueError(f"pixel_size must be > 0 micrometres per pixel, got {pixel_size}")
    check_choice(estimator, "estimator", ("kulpa", "freeman"))
    right = s[:, :-1] & s[:, 1:]
    down = s[:-1, :] & s[1:, :]
    diag = s[:-1, :-1] & s[1:, 1:]  # down-right
    anti = s[:-1, 1:] & s[1:, :-1]  # down-left
    # A diagonal link whose two pixels are also joined through an orthogonal corner pixel is redundant.
    corner_diag = s[:-1, 1:] | s[1:, :-1]
    corner_anti = s[:-1, :-1] | s[1:, 1:]
    length = right.sum() + down.sum() + math.sqrt(2) * ((diag & ~corner_diag).sum() + (anti & ~corner_anti).sum())
    if estimator == "kulpa":
        length = length * KULPA_FACTOR
    return float(length) * (pixel_size if pixel_size is not None else 1.0)


def carbide_boundary_ratio(boundary_mask: Any, carbide_mask: Any, tolerance: float = 2.0) -> dict[str, float]:
    """Fraction of the boundary length covered by carbides (the paper's target quantity).

    The boundary's medial axis is split into covered pixels (within ``tolerance`` px of a
    carbide pixel) and uncovered ones; the ratio is the covered skeleton length over the whole
    skeleton length.

    Args:
        boundary_mask: ``(H, W)`` binary grain-boundary mask (predicted or true).
        carbide_mask: ``(H, W)`` binary carbide mask.
        tolerance: distance in pixels within which a skeleton pixel counts as covered.

    Returns:
        ``ratio``, ``boundary_length_px``, ``covered_length_px``, ``carbide_count`` (carbide
        particles touching the boundary, 8-connected) and ``carbide_area_fraction_on_boundary``
        (carbide pixels inside the boundary mask / all carbide pixels; NaN without carbides).
        ``ratio`` is 0 for an empty boundary.

    Example:
        >>> b = np.zeros((9, 30), bool); b[3:6, 2:28] = True
        >>> c = np.zeros_like(b); c[2:7, 2:15] = True
        >>> round(carbide_boundary_ratio(b, c, tolerance=0)["ratio"], 1)  # half the centre line
        0.5
    """
    b = _binary(boundary_mask, "boundary_mask")
    c = _binary(carbide_mask, "carbide_mask")
    check_same_shape(b, c, "boundary_mask", "carbide_mask")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 pixels, got {tolerance}")
    skel = boundary_skeleton(b)
    total = skeleton_length(skel)
    near = ndimage.distance_transform_edt(~c) <= tolerance if c.any() else np.zeros_like(c)
    covered = skeleton_length(skel & near)
    labels, count = ndimage.label(c, structure=_EIGHT)
    touching = np.unique(labels[(labels > 0) & ndimage.binary_dilation(b, iterations=max(1, int(tolerance)))])
    return {
        "ratio": covered / total if total > 0 else 0.0,
        "boundary_length_px": total,
        "covered_length_px": covered,
        "carbide_count": int(touching.size),
        "carbide_area_fraction_on_boundary": float((c & b).sum() / c.sum()) if c.any() else float("nan"),
    }


def relative_error(measured: float, truth: float) -> float:
    """Signed error in percent, ``100 * (measured - truth) / truth``.

    ``truth == 0`` gives 0 when ``measured`` is 0 too, and ``inf`` (with the sign of
    ``measured``) otherwise.
    """
    measured, truth = float(measured), float(truth)
    if truth == 0:
        return 0.0 if measured == 0 else math.copysign(math.inf, measured)
    return 100.0 * (measured - truth) / truth


def skeleton_graph_stats(mask: Any, thin: bool = True) -> dict[str, int]:
    """Counts that describe the boundary network as a graph.

    The mask is thinned to a one-pixel skeleton first (``thin=False`` if it already is one).
    Thinning, unlike the medial axis used for lengths, leaves no spurs at the corners of a thick
    line, so a closed ring has no loose ends. Skeleton pixels are classified by their number of 8-neighbours: 1 = endpoint (a loose end;
    every break of a boundary adds two), >= 3 = junction pixel. Junction pixels that touch form
    one junction. Edges are the skeleton pieces left when junctions are removed.

    Returns:
        ``endpoints``, ``junctions``, ``edges``, ``betti0`` (connected pieces of the mask,
        8-connected) and ``betti1`` (enclosed regions: 4-connected background components that do
        not touch the image border, i.e. grains fully surrounded by boundary).

    Example:
        >>> ring = np.zeros((12, 12), bool); ring[2:10, 2:10] = True; ring[4:8, 4:8] = False
        >>> s = skeleton_graph_stats(ring); (s["betti0"], s["betti1"], s["endpoints"])
        (1, 1, 0)
    """
    m = _binary(mask, "mask")
    s = skeletonize(m) if thin else m
    neighbours = ndimage.convolve(s.astype(np.int32), _EIGHT.astype(np.int32), mode="constant") - 1
    endpoints = int((s & (neighbours == 1)).sum())
    junction_px = s & (neighbours >= 3)
    _, junctions = ndimage.label(junction_px, structure=_EIGHT)
    _, edges = ndimage.label(s & ~junction_px, structure=_EIGHT)
    _, b0 = ndimage.label(m, structure=_EIGHT)
    background, nb = ndimage.label(~m)  # 4-connected, the dual of 8-connected foreground
    border = np.unique(np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]]))
    b1 = nb - int((border > 0).sum())
    return {"endpoints": endpoints, "junctions": int(junctions), "edges": int(edges), "betti0": int(b0),
            "betti1": int(b1)}


def betti_error(pred_mask: Any, true_mask: Any) -> dict[str, int]:
    """Topology errors of a predicted boundary network against the truth.

    Returns:
        ``betti0`` and ``betti1``: absolute differences of the Betti numbers; ``edges``: absolute
        difference in the number of skeleton edges (the paper's proposed penalty); ``endpoints``:
        signed difference in loose ends (positive: the prediction has breaks the truth has not).
    """
    p, t = _binary(pred_mask, "pred_mask"), _binary(true_mask, "true_mask")
    check_same_shape(p, t, "pred_mask", "true_mask")
    sp, st = skeleton_graph_stats(p), skeleton_graph_stats(t)
    return {"betti0": abs(sp["betti0"] - st["betti0"]), "betti1": abs(sp["betti1"] - st["betti1"]),
            "edges": abs(sp["edges"] - st["edges"]), "endpoints": sp["endpoints"] - st["endpoints"]}
