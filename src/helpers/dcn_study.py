"""Reading DCN's branch maps: the kernel-tuning paper's Table 1, a contrast measure, the F1-F3 figure.

The paper (Takaya et al.) trains DCN with the default kernels, looks at the three branch maps
F1, F2, F3 of tuning images, picks the branch whose map "does not work well", changes that
branch's deconvolution kernel and retrains. On ISBI 2012 (its data set A) it reports that a
smaller kernel gives a higher-contrast map and a larger kernel a lower-contrast one; on its
private data set B it lists the test IoU of 16 kernel settings (:data:`PAPER_TABLE1`).

:func:`feature_map_contrast` turns "contrast" into a number so the claim can be checked and
the choice automated (the paper's future work).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["PAPER_TABLE1", "PAPER_TABLE1_BASELINE", "PAPER_TABLE1_PROPOSED", "branch_maps", "feature_map_contrast",
           "plot_branch_maps"]

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


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


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
            out.append(torch.stack([f[:, channel] for f in fs], 1).float().cpu())
    model.train(was_training)
    return torch.cat(out)


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

    def to_np(x: Any) -> np.ndarray:
        return x.detach().float().cpu().numpy() if _is_torch(x) else np.asarray(x)

    img, fm = to_np(images), to_np(maps).astype(np.float32)
    if img.ndim == 4:
        img = img[:, 0]
    if fm.ndim != 4 or fm.shape[1] != 3:
        raise ValueError(f"maps must be (N, 3, H, W): F1, F2, F3 per sample, got shape {fm.shape}")
    if img.shape[0] != fm.shape[0] or img.shape[-2:] != fm.shape[-2:]:
        raise ValueError(f"images {img.shape} and maps {fm.shape} must hold the same samples and pixels")
    lab = None if masks is None else to_np(masks)
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
