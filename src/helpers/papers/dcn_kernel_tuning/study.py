"""Reading DCN's branch maps: the kernel-tuning paper's Table 1, a contrast measure, the F1-F3 figure.

The paper (Takaya et al.) trains DCN with the default kernels, looks at the three branch maps
F1, F2, F3 of tuning images, picks the branch whose map "does not work well", changes that
branch's deconvolution kernel and retrains. On ISBI 2012 (its data set A) it reports that a
smaller kernel gives a higher-contrast map and a larger kernel a lower-contrast one; on its
private data set B it lists the test IoU of 16 kernel settings (:data:`PAPER_TABLE1`).

:func:`feature_map_contrast` turns "contrast" into a number so the claim can be checked and
the choice automated (the paper's future work): :func:`table1_change` makes the paper's one
change (the worst branch's kernel reduced, as far as Table 1 went), :func:`propose_kernels` and
:func:`contrast_guided_search` repeat that change automatically, driven by the measured contrast,
:func:`kernel_contrast_spearman` tests "smaller kernel, higher contrast", and
:func:`table1_rows` / :func:`format_table1` put measured scores beside the paper's Table 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from helpers.core.checks import _is_torch, check_positive_int

__all__ = ["PAPER_TABLE1", "PAPER_TABLE1_BASELINE", "PAPER_TABLE1_PROPOSED", "branch_maps",
           "contrast_guided_search", "feature_map_contrast", "format_table1", "kernel_contrast_spearman",
           "plot_branch_maps", "propose_kernels", "table1_change", "table1_rows"]

#: Table 1 of the paper: test IoU on its data set B (ant sensilla ssTEM, private) per
#: deconvolution kernels ``(k1, k2, k3)`` of F1, F2, F3 (strides 2, 4, 8), in the paper's row order.
PAPER_TABLE1: dict[tuple[int, int, int], float] = {
    (4, 8, 16): 0.6536,  # Chen et al.'s kernels ("before")
    (4, 8, 10): 0.7041,  # proposed: F3's kernel reduced after reading the maps
    (4, 8, 12): 0.6859,  # proposed
    (4, 8, 14): 0.6625,  # proposed
    (2, 8, 16): 0.6871,
    (6, 8, 16): 0.7097,
    (4, 6, 16): 0.5198,
    (4, 10, 16): 0.6934,
    (4, 8, 18): 0.6163,
    (4, 8, 20): 0.6801,
    (2, 4, 10): 0.6693,
    (2, 4, 20): 0.6573,
    (2, 8, 20): 0.7063,
    (4, 10, 18): 0.6611,
    (2, 6, 16): 0.6419,
    (2, 8, 18): 0.6736,
}
#: The row every other row is compared with.
PAPER_TABLE1_BASELINE = (4, 8, 16)
#: The rows the paper marks as its method's choices (F3's kernel reduced).
PAPER_TABLE1_PROPOSED = ((4, 8, 10), (4, 8, 12), (4, 8, 14))


def feature_map_contrast(maps: Any, clip: float = 0.01) -> Any:
    """RMS contrast of each map after robust normalisation to [0, 1], per sample and per map.

    For one map ``m`` with ``P`` pixels: ``lo`` and ``hi`` are its ``clip`` and ``1 - clip``
    quantiles (order statistics ``round(q (P - 1))`` of the sorted values), the map is rescaled
    to ``u = clip((m - lo) / (hi - lo), 0, 1)``, and the contrast is the standard deviation of
    ``u`` (population form, ``/ P``). A map of constant value (``hi == lo``) has contrast 0.

    Why this measure: the paper judges maps by eye, in figures where each map is shown with its
    own grey scale (``imshow`` stretches min..max), so only the *distribution* of grey levels
    matters, not the logits' scale, which differs from branch to branch. The RMS contrast (Peli
    1990) of the stretched map is the usual single number for that: 0.5 for a clean two-level
    map with equal areas, near 0 for a map that is mostly one grey with a few extremes (a
    washed-out map), about 0.29 for uniform grey levels. The quantile clip keeps one hot pixel
    from setting the scale; the Michelson measure ``(max - min) / (max + min)`` is not used
    because logits are signed and the stretched map's would always be 1.

    Args:
        maps: ``(N, B, H, W)`` (sample, map, pixels: e.g. the three branch maps of
            :func:`branch_maps`), ``(B, H, W)`` or ``(H, W)``; NumPy array or torch tensor, float.
        clip: quantile cut at each end, in ``[0, 0.5)``; 0 gives the plain min-max stretch.

    Returns:
        Contrast per map, shape ``maps.shape[:-2]`` (``(N, B)`` for ``(N, B, H, W)``), float32,
        of the input's kind (a tensor stays on its device, no host sync).

    Raises:
        ValueError: fewer than 2 dimensions, an empty map, a non-float input, NaN or inf (checked
            for NumPy input only: a tensor is never read back to the host), or
            ``clip`` outside ``[0, 0.5)``.

    Example:
        >>> import numpy as np
        >>> float(feature_map_contrast(np.array([[0.0, 0.0], [1.0, 1.0]]), clip=0))  # two levels
        0.5
        >>> m = np.array([[0.0, 1.0, 1.0, 1.0]])  # u = (0, 1, 1, 1): mean 0.75, std sqrt(3)/4
        >>> round(float(feature_map_contrast(m, clip=0)), 4)
        0.433
    """
    if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not 0 <= clip < 0.5:
        raise ValueError(f"clip must be a quantile in [0, 0.5), got {clip!r}")
    torch_in = _is_torch(maps)
    if not torch_in and not isinstance(maps, np.ndarray):
        raise TypeError(f"maps must be a numpy array or a torch tensor, got {type(maps).__name__}")
    if maps.ndim < 2:
        raise ValueError(f"maps must be (..., H, W) with at least 2 dimensions, got shape {tuple(maps.shape)}")
    h, w = int(maps.shape[-2]), int(maps.shape[-1])
    if h * w == 0:
        raise ValueError(f"maps hold empty maps (shape {tuple(maps.shape)})")
    p = h * w
    i_lo, i_hi = int(round(clip * (p - 1))), int(round((1 - clip) * (p - 1)))
    if torch_in:
        import torch

        if not maps.is_floating_point():
            raise ValueError(f"maps must be floating point, got dtype {maps.dtype}")
        v = maps.detach().float().flatten(-2)
        s = v.sort(-1).values
        lo, hi = s[..., i_lo:i_lo + 1], s[..., i_hi:i_hi + 1]
        span = hi - lo
        u = ((v - lo) / span.clamp_min(1e-12)).clamp(0, 1)
        c = u.std(-1, unbiased=False)
        return torch.where(span[..., 0] > 0, c, torch.zeros_like(c))
    if not np.issubdtype(maps.dtype, np.floating):
        raise ValueError(f"maps must be floating point, got dtype {maps.dtype}")
    if not np.isfinite(maps).all():
        raise ValueError("maps contain NaN or infinite values")
    v = maps.astype(np.float32).reshape(*maps.shape[:-2], p)
    s = np.sort(v, -1)
    lo, hi = s[..., i_lo:i_lo + 1], s[..., i_hi:i_hi + 1]
    span = hi - lo
    u = np.clip((v - lo) / np.maximum(span, 1e-12), 0, 1)
    return np.where(span[..., 0] > 0, u.std(-1), 0.0).astype(np.float32)


def branch_maps(model: Any, images: Any, channel: int = 0, batch_size: int = 8) -> Any:
    """The branch maps F1, F2, F3 of a DCN for ``images``, in eval mode, as ``(N, 3, H, W)`` float32 on the CPU.

    Args:
        model: a :class:`helpers.models.dcn.DCN` (anything whose ``forward(x, return_branches=True)``
            returns ``(fused, F1, F2, F3)``).
        images: ``(N, C, H, W)`` tensor (moved to the model's device in batches).
        channel: which output channel to show: 0 for a one-channel (sigmoid) model, the
            membrane class for a softmax model.
        batch_size: images per forward pass.

    Example:
        >>> import torch
        >>> from helpers.models.dcn import dcn
        >>> branch_maps(dcn(width=4), torch.zeros(2, 1, 16, 16)).shape
        torch.Size([2, 3, 16, 16])
    """
    import torch

    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be a 4-D tensor (N, C, H, W), got {getattr(images, 'shape', type(images))}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, images.shape[0], batch_size):
            _, *fs = model(images[i:i + batch_size].to(device), return_branches=True)
            if not 0 <= channel < fs[0].shape[1]:
                raise ValueError(f"channel must be in [0, {fs[0].shape[1] - 1}], got {channel}")
            out.append(torch.stack([f[:, channel] for f in fs], 1).float())
    model.train(was_training)
    return torch.cat(out).cpu()  # one copy to the host, not one wait per batch


def plot_branch_maps(images: Any, maps: Any, masks: Any = None, *, kernels: Sequence[int] | None = None,
                     n: int = 3, clip: float = 0.01, title: str | None = None):
    """The paper's feature-map figure: image, F1, F2, F3, fused probability (and label) per row.

    Each branch map is shown on its own robust grey scale (its ``clip`` .. ``1 - clip``
    quantiles), the way it is judged by eye, with its :func:`feature_map_contrast` in the title.
    The fused column shows ``sigmoid(F1 + F2 + F3)`` on [0, 1].

    Args:
        images: ``(N, H, W)`` or ``(N, 1, H, W)`` images (NumPy or torch).
        maps: ``(N, 3, H, W)`` branch maps, e.g. from :func:`branch_maps`.
        masks: optional ``(N, H, W)`` labels (membrane = 1) for a last column.
        kernels: ``(k1, k2, k3)`` to name in the column titles.
        n: rows (samples) to show.
        clip: see :func:`feature_map_contrast`.
        title: figure title.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    from helpers.plots import _to_numpy

    img, fm = _to_numpy(images), _to_numpy(maps).astype(np.float32)
    if img.ndim == 4:
        img = img[:, 0]
    if fm.ndim != 4 or fm.shape[1] != 3:
        raise ValueError(f"maps must be (N, 3, H, W): F1, F2, F3 per sample, got shape {fm.shape}")
    if img.shape[0] != fm.shape[0] or img.shape[-2:] != fm.shape[-2:]:
        raise ValueError(f"images {img.shape} and maps {fm.shape} must hold the same samples and pixels")
    lab = None if masks is None else _to_numpy(masks)
    if lab is not None and lab.shape[-2:] != fm.shape[-2:]:
        raise ValueError(f"masks {lab.shape} must have the maps' height and width {fm.shape[-2:]}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    n = min(int(n), fm.shape[0])
    contrast = feature_map_contrast(fm[:n], clip=clip)
    cols = 5 + (lab is not None)
    fig, axes = plt.subplots(n, cols, figsize=(2.2 * cols, 2.3 * n), squeeze=False)
    ks = tuple(kernels) if kernels is not None else (None, None, None)
    fused = 1.0 / (1.0 + np.exp(-np.clip(fm[:n].sum(1), -30, 30)))
    for i in range(n):
        axes[i, 0].imshow(img[i], cmap="gray")
        axes[i, 0].set_title("image", fontsize=8)
        for b in range(3):
            m = fm[i, b].ravel()
            lo, hi = np.quantile(m, clip), np.quantile(m, 1 - clip)
            axes[i, 1 + b].imshow(fm[i, b], cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1)
            k = f", k={ks[b]}" if ks[b] is not None else ""
            axes[i, 1 + b].set_title(f"F{b + 1} (s={2 ** (b + 1)}{k})\ncontrast {contrast[i, b]:.3f}", fontsize=8)
        axes[i, 4].imshow(fused[i], cmap="gray", vmin=0, vmax=1)
        axes[i, 4].set_title("sigmoid(F1+F2+F3)", fontsize=8)
        if lab is not None:
            axes[i, 5].imshow(lab[i], cmap="gray", vmin=0, vmax=1)
            axes[i, 5].set_title("label (membrane = 1)", fontsize=8)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- choosing kernels

#: Strides of F1, F2, F3 (as :data:`helpers.models.dcn.STRIDES`; repeated here so this module needs no torch).
BRANCH_STRIDES = (2, 4, 8)


def _kernels3(kernels: Any, name: str = "kernels") -> tuple[int, int, int]:
    try:
        ks = tuple(kernels)
    except TypeError:
        raise ValueError(f"{name} must be three kernel sizes (k1, k2, k3), got {kernels!r}") from None
    if len(ks) != 3 or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1 for k in ks):
        raise ValueError(f"{name} must be three positive integer kernel sizes (k1, k2, k3), got {kernels!r}")
    return tuple(int(k) for k in ks)  # type: ignore[return-value]


def _contrast3(contrast: Any) -> np.ndarray:
    c = np.asarray(contrast, dtype=np.float64)
    if c.shape != (3,) or not np.isfinite(c).all():
        raise ValueError(f"contrast must be three finite numbers (F1, F2, F3), got {contrast!r}")
    return c


def table1_change(branch: int, base: Sequence[int] = PAPER_TABLE1_BASELINE,
                  table: dict[tuple[int, int, int], float] | None = None) -> tuple[int, int, int]:
    """The paper's change for a branch whose map "does not work well": its kernel reduced, as far as Table 1 went.

    Among the rows of ``table`` that differ from ``base`` in ``branch`` alone, with a smaller
    kernel there, the one with the smallest kernel: F1 -> ``(2, 8, 16)``, F2 -> ``(4, 6, 16)``,
    F3 -> ``(4, 8, 10)`` (the paper's own choice on its data set B).

    Args:
        branch: 0, 1 or 2 for F1, F2, F3 (e.g. the argmin of the measured contrast).
        base: the kernels before the change.
        table: rows to choose from; default :data:`PAPER_TABLE1`.

    Returns:
        The new kernels ``(k1, k2, k3)``.

    Raises:
        ValueError: ``branch`` not in 0..2, or no row of ``table`` reduces that branch alone.

    Example:
        >>> table1_change(2), table1_change(0)
        ((4, 8, 10), (2, 8, 16))
    """
    if isinstance(branch, bool) or not isinstance(branch, (int, np.integer)) or not 0 <= branch <= 2:
        raise ValueError(f"branch must be 0, 1 or 2 (F1, F2, F3), got {branch!r}")
    b = int(branch)
    base = _kernels3(base, "base")
    rows = PAPER_TABLE1 if table is None else table
    cands = [k for k in rows if all(k[i] == base[i] for i in range(3) if i != b) and k[b] < base[b]]
    if not cands:
        raise ValueError(f"no row of the table changes only F{b + 1}'s kernel of {base} to a smaller one")
    return min(cands, key=lambda k: k[b])


def propose_kernels(kernels: Sequence[int], contrast: Any, tried: Any = (), *, step: int = 2,
                    min_kernels: Sequence[int] = BRANCH_STRIDES) -> tuple[tuple[int, int, int], int] | None:
    """Next kernels to train, read off the maps: shrink the kernel of the lowest-contrast branch.

    The paper's rule, made mechanical: the branch whose map has the lowest contrast is the one
    that "does not work well", and a smaller kernel sharpens a map. Branches are tried from the
    lowest contrast up; for each, the kernel is reduced by ``step``, ``2 step``, ... down to
    ``min_kernels[b]`` (by default the branch's stride: a kernel below the stride leaves pixels
    that no feature writes), and the first setting not in ``tried`` is returned.

    Args:
        kernels: the current kernels ``(k1, k2, k3)``.
        contrast: the measured contrast of F1, F2, F3 (e.g. the mean of
            :func:`feature_map_contrast` over tuning images).
        tried: settings already trained (skipped).
        step: kernel decrement (2 keeps even kernels even, as in Table 1).
        min_kernels: smallest kernel per branch.

    Returns:
        ``(new_kernels, branch)`` or ``None`` when every reduction was tried.

    Example:
        >>> propose_kernels((4, 8, 16), [0.30, 0.25, 0.12])  # F3 has the flattest map
        ((4, 8, 14), 2)
        >>> propose_kernels((4, 8, 16), [0.30, 0.25, 0.12], tried={(4, 8, 14)})
        ((4, 8, 12), 2)
    """
    ks = _kernels3(kernels)
    c = _contrast3(contrast)
    step = int(step)
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    lows = _kernels3(min_kernels, "min_kernels")
    done = {_kernels3(t, "tried") for t in tried}
    for b in np.argsort(c, kind="stable"):
        b = int(b)
        k = ks[b] - step
        while k >= lows[b]:
            cand = tuple(k if i == b else ks[i] for i in range(3))
            if cand not in done:
                return cand, b  # type: ignore[return-value]
            k -= step
    return None


def contrast_guided_search(evaluate: Any, start: Sequence[int] = PAPER_TABLE1_BASELINE, budget: int = 6, *,
                           score: str = "iou", step: int = 2,
                           min_kernels: Sequence[int] = BRANCH_STRIDES) -> dict[str, Any]:
    """Choose DCN's kernels automatically from the feature maps: the paper's future work.

    Train ``start``; then, ``budget - 1`` times: :func:`propose_kernels` from the best setting so
    far and *its* map contrasts, train the proposal, and keep it as the best if its ``score``
    is higher (greedy descent on the kernel sizes, the direction given by the maps). Every
    setting is trained at most once.

    Args:
        evaluate: ``evaluate(kernels) -> {score: float, "contrast": [c1, c2, c3], ...}``, one
            training of DCN with those kernels (the score measured on validation images, the
            contrast on tuning images).
        start: the first kernels (Chen et al.'s ``(4, 8, 16)``).
        budget: trainings in all, ``start`` included (>= 1).
        score: key of the score to maximise.
        step, min_kernels: see :func:`propose_kernels`.

    Returns:
        ``{"best": kernels, "best_score": float, "history": [...]}``; each history entry has
        ``kernels``, ``score``, ``contrast``, ``branch`` (the branch changed; ``None`` for
        ``start``) and ``accepted``. Fewer than ``budget`` entries when no reduction is left.

    Example:
        >>> fake = lambda k: {"iou": 1 - abs(k[2] - 10) / 10, "contrast": [0.3, 0.3, 0.1 + 0.01 * (20 - k[2])]}
        >>> out = contrast_guided_search(fake, budget=4)
        >>> out["best"], [h["kernels"][2] for h in out["history"]]
        ((4, 8, 10), [16, 14, 12, 10])
    """
    if not callable(evaluate):
        raise ValueError(f"evaluate must be a callable kernels -> scores, got {type(evaluate).__name__}")
    budget = check_positive_int(budget, "budget")

    def run(kernels: tuple[int, int, int]) -> tuple[float, np.ndarray]:
        r = evaluate(kernels)
        if score not in r or "contrast" not in r:
            raise ValueError(f"evaluate must return a dict with {score!r} and 'contrast', got keys {sorted(r)}")
        s = float(r[score])
        if not np.isfinite(s):
            raise ValueError(f"evaluate returned a non-finite {score} for kernels {kernels}: {s}")
        return s, _contrast3(r["contrast"])

    ks = _kernels3(start, "start")
    s, c = run(ks)
    best = (ks, s, c)
    history = [{"kernels": ks, "score": s, "contrast": c.tolist(), "branch": None, "accepted": True}]
    tried = {ks}
    while len(history) < budget:
        prop = propose_kernels(best[0], best[2], tried, step=step, min_kernels=min_kernels)
        if prop is None:
            break
        ks, branch = prop
        tried.add(ks)
        s, c = run(ks)
        accepted = s > best[1]
        if accepted:
            best = (ks, s, c)
        history.append({"kernels": ks, "score": s, "contrast": c.tolist(), "branch": branch, "accepted": accepted})
    return {"best": best[0], "best_score": best[1], "history": history}


def kernel_contrast_spearman(kernels: Any, contrast: Any) -> np.ndarray:
    """Spearman rank correlation of each branch's kernel size with its map's contrast, over runs.

    A negative value for a branch means "smaller kernel, higher contrast" (the paper's finding
    on ISBI 2012). A branch whose kernel (or contrast) does not vary across the runs gets NaN.

    Args:
        kernels: ``(R, 3)`` kernels of ``R`` runs.
        contrast: ``(R, 3)`` contrast of F1, F2, F3 of the same runs.

    Returns:
        ``(3,)`` float64 rank correlations (NaN where undefined).

    Raises:
        ValueError: shapes that are not ``(R, 3)`` with ``R >= 2`` or non-finite contrast.

    Example:
        >>> k = [(4, 8, 16), (4, 8, 10), (2, 6, 12)]
        >>> c = [(0.2, 0.3, 0.1), (0.2, 0.3, 0.3), (0.25, 0.1, 0.2)]
        >>> kernel_contrast_spearman(k, c).round(2).tolist()
        [-1.0, 1.0, -1.0]
    """
    from scipy.stats import rankdata

    k = np.asarray(kernels, dtype=np.float64)
    c = np.asarray(contrast, dtype=np.float64)
    if k.ndim != 2 or k.shape[1] != 3 or k.shape != c.shape or k.shape[0] < 2:
        raise ValueError(f"kernels and contrast must both be (runs, 3) with at least 2 runs, got {k.shape} and {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("contrast holds NaN or infinite values")
    rho = np.full(3, np.nan)
    for b in range(3):
        if np.ptp(k[:, b]) == 0 or np.ptp(c[:, b]) == 0:
            continue
        rk, rc = rankdata(k[:, b]), rankdata(c[:, b])
        rho[b] = float(np.corrcoef(rk, rc)[0, 1])
    return rho


def table1_rows(ours: dict[Any, dict[str, float]], *, baseline: Sequence[int] = PAPER_TABLE1_BASELINE,
                chosen: Any = (), paper: bool = True) -> list[dict[str, Any]]:
    """The paper's Table 1 with measured scores beside it, one dict per row, in the paper's order.

    Args:
        ours: kernels -> ``{"iou": ..., "dice": ..., "mean_iou": ...}`` (any of them; keys given as
            tuples or lists of three kernels). Settings not in the paper's table are appended.
        baseline: the row the differences are taken from (ours and the paper's).
        chosen: settings to mark as ours, e.g. the kernels chosen from the maps.
        paper: False for data that is not the paper's (a folder of your own): only the measured
            settings, with no paper numbers beside them (``paper_iou`` and ``paper_delta`` None).

    Returns:
        Dicts with ``kernels``, ``note`` (``"before"``, ``"proposed"``, ``"ours"``),
        ``paper_iou``, ``paper_delta``, ``iou``, ``delta``, ``dice``, ``mean_iou`` (``None`` where
        not known).

    Example:
        >>> rows = table1_rows({(4, 8, 16): {"iou": 0.70}, (4, 8, 10): {"iou": 0.72}})
        >>> rows[1]["kernels"], rows[1]["paper_delta"], round(rows[1]["delta"], 3)
        ((4, 8, 10), 0.0505, 0.02)
    """
    measured = {_kernels3(k, "ours' kernels"): dict(v) for k, v in ours.items()}
    base = _kernels3(baseline, "baseline")
    marked = {_kernels3(k, "chosen") for k in chosen}
    order = list(PAPER_TABLE1) + [k for k in measured if k not in PAPER_TABLE1]
    if not paper:
        order = [k for k in order if k in measured]
    b_iou = measured.get(base, {}).get("iou")
    rows = []
    for k in order:
        m = measured.get(k, {})
        paper_iou = PAPER_TABLE1.get(k) if paper else None
        notes = ["before"] if k == base else ["proposed"] if k in PAPER_TABLE1_PROPOSED else []
        if k in marked:
            notes.append("ours")
        iou = m.get("iou")
        rows.append({
            "kernels": k, "note": ", ".join(notes),
            "paper_iou": paper_iou,
            "paper_delta": None if paper_iou is None or k == base else round(paper_iou - PAPER_TABLE1[base], 4),
            "iou": iou, "delta": None if iou is None or b_iou is None or k == base else iou - b_iou,
            "dice": m.get("dice"), "mean_iou": m.get("mean_iou"),
        })
    return rows


def format_table1(rows: Sequence[dict[str, Any]], digits: int = 4) -> str:
    """A Markdown table of :func:`table1_rows` (the paper's layout: kernels, IoU, difference from "before");
    without the paper's columns when no row has a paper number (``table1_rows(..., paper=False)``).

    Example:
        >>> print(format_table1(table1_rows({(4, 8, 16): {"iou": 0.7}})).splitlines()[2])
        | 4, 8, 16 (before) | 0.6536 |  | 0.7000 |  | – | – |
        >>> print(format_table1(table1_rows({(4, 8, 16): {"iou": 0.7}}, paper=False)).splitlines()[2])
        | 4, 8, 16 (before) | 0.7000 |  | – | – |
    """
    def f(v: Any, signed: bool = False) -> str:
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return "–"
        return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"

    with_paper = any(r["paper_iou"] is not None for r in rows)
    lines = ["| kernels k1, k2, k3 | paper IoU (data B) | paper Δ | our IoU (membrane) | our Δ | "
             "our Dice (membrane) | our mean IoU |",
             "|---|---|---|---|---|---|---|"]
    if not with_paper:
        lines = ["| kernels k1, k2, k3 | our IoU (membrane) | our Δ | our Dice (membrane) | our mean IoU |",
                 "|---|---|---|---|---|"]
    for r in rows:
        name = ", ".join(str(k) for k in r["kernels"]) + (f" ({r['note']})" if r.get("note") else "")
        pd_ = "" if r["paper_delta"] is None and r["paper_iou"] is not None else f(r["paper_delta"], True)
        od = "" if r["delta"] is None and r["iou"] is not None else f(r["delta"], True)
        paper_cells = f" {f(r['paper_iou'])} | {pd_} |" if with_paper else ""
        lines.append(f"| {name} |{paper_cells} {f(r['iou'])} | {od} | {f(r['dice'])} | {f(r['mean_iou'])} |")
    return "\n".join(lines)
