"""The labelled slice data set notebook 03 trains on, and the paper-style example figure.

:func:`filler_dataset` plans structures and slices from one seed, builds the structures (and cuts the
slices, in blocks whose seeds do not depend on the number of workers) in worker processes, and keeps
recently built structures for later data sets of the same seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from helpers.core.checks import check_positive_int, check_seed
from helpers.core.sweeps import config_key
from helpers.data.synthetic.filler.slicing import _check_slicing, slice_images
from helpers.data.synthetic.filler.structure import MORPHOLOGIES, PAPER_NAMES, filler_structure

_BLOCK = 200  # slices per parallel task; block seeds do not depend on the number of workers
_STRUCTURES: dict[tuple[Any, ...], dict[str, Any]] = {}  # built structures, reused by later data sets
_STRUCTURES_KEPT = 64


def _build_structure(args: tuple[str, int, dict[str, Any]]) -> dict[str, Any]:
    morph, seed, kwargs = args
    return filler_structure(morph, seed=seed, **kwargs)


def _slice_block(args: tuple[dict[str, Any], int, float, int, int, dict[str, Any]]) -> np.ndarray:
    structure, n, field_nm, pixels, seed, kwargs = args
    return slice_images(structure, n, field_nm=field_nm, pixels=pixels, seed=seed, **kwargs)


def _pool_map(fn: Any, tasks: list[Any], workers: int) -> list[Any]:
    """``map`` in ``workers`` processes (forkserver: safe in a kernel that already runs torch threads)."""
    if workers <= 1 or len(tasks) <= 1:
        return [fn(a) for a in tasks]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=mp.get_context(method)) as pool:
        return list(pool.map(fn, tasks))


def filler_dataset(n_per_class: int, *, field_nm: float, pixels: int = 64, seed: int = 0,
                   structures_per_class: int = 2, structure_kwargs: dict[str, Any] | None = None,
                   workers: int = 1, **slice_kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """A shuffled, labelled set of slices of the three morphologies.

    Args:
        n_per_class: slices per class.
        field_nm: side of the field of view in nm (the paper's 250, 500 or 1000).
        pixels: image side in pixels.
        seed: the same seed gives the same structures, slices and order (whatever ``workers`` is).
        structures_per_class: independent 3D structures per class; the slices are shared out evenly.
        structure_kwargs: extra arguments of :func:`filler_structure` (``box_nm``, ``volume_fraction``,
            ``radius_nm``).
        workers: processes that build structures and cut slices (a (1000 nm)^2 field costs about
            10 ms per 64-px slice on one core, so tens of thousands of slices want several).
        **slice_kwargs: extra arguments of :func:`slice_images` (``thickness_nm``, ``blur_px``, ``noise``).

    Returns:
        ``images`` float32 ``(3 * n_per_class, pixels, pixels)`` and ``labels`` int64 in
        ``MORPHOLOGIES`` order (0 random/Rnd, 1 dispersed/M-SBR, 2 aggregated/n-SBR).

    Example:
        >>> x, y = filler_dataset(4, field_nm=250.0, pixels=32, structures_per_class=1,
        ...                       structure_kwargs={"box_nm": 400.0})
        >>> x.shape, y.dtype, np.bincount(y).tolist()
        ((12, 32, 32), dtype('int64'), [4, 4, 4])
    """
    n_per_class = check_positive_int(n_per_class, "n_per_class")
    structures_per_class = check_positive_int(structures_per_class, "structures_per_class")
    workers = check_positive_int(workers, "workers")
    structure_kwargs = dict(structure_kwargs or {})
    for bad in ("morphology", "seed"):
        if bad in structure_kwargs:
            raise ValueError(f"structure_kwargs must not set {bad!r}; it is chosen per structure")
    for bad in ("n", "seed", "field_nm", "pixels"):
        if bad in slice_kwargs:
            raise ValueError(f"slice_kwargs must not set {bad!r}")
    rng = np.random.default_rng(check_seed(seed))
    plan = []  # (class, structure seed, slice seed, slices) per structure
    for c in range(len(MORPHOLOGIES)):
        counts = np.full(structures_per_class, n_per_class // structures_per_class)
        counts[: n_per_class % structures_per_class] += 1
        for m in counts:
            s_seed, i_seed = (int(v) for v in rng.integers(0, 2**31, 2))
            if m:
                plan.append((c, s_seed, i_seed, int(m)))
    # The structures depend on the seed, not on the field of view: data sets of several fields from one
    # seed share them, and building them is the slow part for small fields.
    keys = [(MORPHOLOGIES[c], s, config_key(structure_kwargs)) for c, s, _, _ in plan]
    missing = sorted({k for k in keys if k not in _STRUCTURES})
    built = dict(zip(missing, _pool_map(_build_structure, [(m, sd, structure_kwargs) for m, sd, _ in missing],
                                        workers)))
    structures = [built[k] if k in built else _STRUCTURES[k] for k in keys]
    for k, s in built.items():
        if len(_STRUCTURES) >= _STRUCTURES_KEPT:
            _STRUCTURES.pop(next(iter(_STRUCTURES)))
        _STRUCTURES[k] = s
    # Check the cut before any worker is busy for minutes.
    _check_slicing(structures[0], field_nm, pixels, slice_kwargs.get("thickness_nm", 0.0))
    tasks, labels = [], []
    for (c, _, i_seed, m), structure in zip(plan, structures):
        sizes = [min(_BLOCK, m - j) for j in range(0, m, _BLOCK)]
        seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(i_seed).spawn(len(sizes))]
        tasks += [(structure, k, float(field_nm), pixels, s, slice_kwargs) for k, s in zip(sizes, seeds)]
        labels.append(np.full(m, c, np.int64))
    x, y = np.concatenate(_pool_map(_slice_block, tasks, workers)), np.concatenate(labels)
    order = rng.permutation(len(y))
    return x[order], y[order]


def plot_filler_examples(field_sizes: tuple[float, ...] = (250, 500, 1000), pixels: int = 64, seed: int = 0):
    """One slice per class (rows) and field of view (columns), like the paper's example figure.

    Args:
        field_sizes: fields of view in nm (each at most the default 1500-nm box).
        pixels: image side in pixels.
        seed: the same seed gives the same figure.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    field_sizes = tuple(field_sizes)
    if not field_sizes:
        raise ValueError("field_sizes must name at least one field of view")
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(MORPHOLOGIES), len(field_sizes), figsize=(2.4 * len(field_sizes) + 0.6, 7.6),
                             squeeze=False)
    for i, morph in enumerate(MORPHOLOGIES):
        s = filler_structure(morph, seed=int(rng.integers(0, 2**31)))
        for j, f in enumerate(field_sizes):
            img = slice_images(s, 1, field_nm=float(f), pixels=pixels, seed=int(rng.integers(0, 2**31)))[0]
            ax = axes[i, j]
            ax.imshow(img, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"({f:g} nm)$^2$", fontsize=10)
            if j == 0:
                ax.set_ylabel(f"{PAPER_NAMES[morph]}\n({morph})", fontsize=10)
    fig.tight_layout()
    return fig
