"""Mixup and CutMix for segmentation: images *and* masks mixed per batch on the device (PSPNet paper, eqs. 4-5).

Each image is mixed with another image of the batch, and so are their one-hot masks, giving soft
per-pixel targets. Mixup: ``x = lam * x_i + (1 - lam) * x_j``, ``q = lam * onehot(y_i) + (1 - lam) *
onehot(y_j)``, ``lam ~ Beta(alpha, alpha)``. CutMix: a box of area ``(1 - lam)`` of the image is pasted
from ``x_j`` (and its mask from ``y_j``); ``lam`` is then the exact kept fraction. The paper loops over
samples with one ``lam`` each; :func:`mix_batch` draws one ``lam`` per sample too, vectorised over the
batch. Notebook 02, section 3, writes the step out as a loop and checks it against this one.
"""

from __future__ import annotations

from typing import Any

import torch

from helpers.core.checks import check_choice, check_finite, check_positive_int, check_range

MIX_MODES = ("mixup", "cutmix", "random")


def one_hot_with_ignore(y: torch.Tensor, num_classes: int, ignore_index: int = 255,
                        validate: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, H, W)`` labels -> one-hot ``(N, C, H, W)`` float and a ``valid`` mask ``(N, H, W)``.

    Ignored pixels get an all-zero target and ``valid = False``. ``validate`` checks the label
    range, which reads a value back from the device: leave it off inside a training step.
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch tensor of integer labels (N, H, W), got {type(y).__name__}")
    if y.ndim != 3 or y.is_floating_point():
        raise ValueError(f"y must be integer labels (N, H, W), got {tuple(y.shape)} {y.dtype}")
    valid = y != ignore_index
    if validate and bool((valid & ((y < 0) | (y >= num_classes))).any()):
        raise ValueError(f"y has labels outside [0, {num_classes}) other than ignore_index={ignore_index}")
    onehot = torch.nn.functional.one_hot(torch.where(valid, y, 0), num_classes).movedim(-1, 1).float()
    return onehot * valid.unsqueeze(1), valid


def cutmix_boxes(lam: torch.Tensor, height: int, width: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean masks ``(N, H, W)``, True inside a random box of area about ``(1 - lam)`` of the image.

    The box has the image's aspect ratio, sides ``sqrt(1 - lam)`` of the image's, and a centre drawn
    uniformly; it is clipped at the border (so the area can be smaller, as in CutMix).
    """
    height, width = check_positive_int(height, "height"), check_positive_int(width, "width")
    if not isinstance(lam, torch.Tensor) or lam.ndim != 1 or not lam.is_floating_point():
        got = f"{tuple(lam.shape)} {lam.dtype}" if isinstance(lam, torch.Tensor) else type(lam).__name__
        raise ValueError(f"lam must be a 1-D float tensor (N,) of mixing ratios, got {got}")
    if lam.device.type == "cpu":  # free there; on a GPU it would be a host sync per step
        check_range(lam, "lam", 0.0, 1.0)
    n = lam.shape[0]
    dev = lam.device
    rh = (height * torch.sqrt(1 - lam)).round()
    rw = (width * torch.sqrt(1 - lam)).round()
    # Drawn on the CPU generator, copied without waiting for the GPU (a blocking copy syncs every step).
    cy = torch.rand(n, generator=generator).to(dev, non_blocking=True) * height
    cx = torch.rand(n, generator=generator).to(dev, non_blocking=True) * width
    y0, y1 = (cy - rh / 2).clamp(0, height), (cy + rh / 2).clamp(0, height)
    x0, x1 = (cx - rw / 2).clamp(0, width), (cx + rw / 2).clamp(0, width)
    yy = torch.arange(height, device=dev).view(1, -1, 1)
    xx = torch.arange(width, device=dev).view(1, 1, -1)
    return ((yy >= y0.round().view(-1, 1, 1)) & (yy < y1.round().view(-1, 1, 1))
            & (xx >= x0.round().view(-1, 1, 1)) & (xx < x1.round().view(-1, 1, 1)))


def mix_batch(x: torch.Tensor, y: torch.Tensor, num_classes: int, *, mode: str = "random", alpha: float = 1.0,
              ignore_index: int = 255, generator: torch.Generator | None = None, validate: bool = True
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Mixup or CutMix of a batch of images and their masks (vectorised; see the module docstring).

    Args:
        x: images ``(N, C, H, W)``.
        y: integer masks ``(N, H, W)``, ``ignore_index`` for unlabelled pixels.
        num_classes: classes of the one-hot targets.
        mode: ``"mixup"``, ``"cutmix"`` or ``"random"`` (one of the two per batch, as the paper).
        alpha: ``lam ~ Beta(alpha, alpha)`` per sample.
        generator: a CPU ``torch.Generator`` for reproducible draws.
        validate: check the label range and finite images (host syncs; off inside a training step).

    Returns:
        ``(x_mixed, soft_target (N, num_classes, H, W), valid (N, H, W), info)``. Where
        ``valid`` is True the soft target sums to 1; a pixel is valid when every image that
        contributes to it is labelled there. ``info`` holds ``mode`` (the one used), ``perm``
        (image ``i`` was mixed with image ``perm[i]``), ``lam`` per sample, and for CutMix ``box``
        (True where the pixel comes from ``perm[i]``).

    Shown step by step in notebook 02, section 3: the same step as a loop over the batch, checked
    against this function with the same draws.

    Example:
        >>> x, y = torch.rand(4, 3, 8, 8), torch.randint(0, 3, (4, 8, 8))
        >>> xm, q, valid, info = mix_batch(x, y, 3, mode="mixup", generator=torch.Generator().manual_seed(0))
        >>> bool(torch.allclose(q.sum(1)[valid], torch.ones(())))
        True
    """
    check_choice(mode, "mode", MIX_MODES)
    num_classes = check_positive_int(num_classes, "num_classes")
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"x and y must be torch tensors, got {type(x).__name__} and {type(y).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a float tensor of images (N, C, H, W), got dtype {x.dtype}")
    if x.ndim != 4 or y.shape != (x.shape[0], *x.shape[2:]):
        raise ValueError(f"x must be (N, C, H, W) and y (N, H, W) of the same N, H, W; got {tuple(x.shape)} and {tuple(y.shape)}")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    if validate:
        check_finite(x, "x")  # a NaN pixel would spread to its mixing partner
    n, _, h, w = x.shape
    gen = generator if generator is not None else torch.Generator().manual_seed(int(torch.randint(0, 2**31, ())))
    used = mode if mode != "random" else ("mixup" if torch.rand((), generator=gen) < 0.5 else "cutmix")
    perm = torch.randperm(n, generator=gen).to(x.device, non_blocking=True)
    lam = _beta(alpha, n, gen).to(x.device, non_blocking=True)
    q, valid = one_hot_with_ignore(y, num_classes, ignore_index, validate)
    if used == "mixup":
        l4 = lam.view(-1, 1, 1, 1).to(x.dtype)
        xm = l4 * x + (1 - l4) * x[perm]
        lq = lam.view(-1, 1, 1, 1)
        qm = lq * q + (1 - lq) * q[perm]
        vm = valid & valid[perm]
        info = {"mode": used, "perm": perm, "lam": lam}
    else:
        box = cutmix_boxes(lam, h, w, gen)  # True: take image j
        xm = torch.where(box.unsqueeze(1), x[perm], x)
        qm = torch.where(box.unsqueeze(1), q[perm], q)
        vm = torch.where(box, valid[perm], valid)
        info = {"mode": used, "perm": perm, "lam": 1 - box.float().mean((1, 2)), "box": box}
    return xm, qm, vm, info


def _beta(alpha: float, n: int, gen: torch.Generator) -> torch.Tensor:
    # Beta(a, a) from two Gamma draws through the generator (torch.distributions cannot take one).
    g1 = torch._standard_gamma(torch.full((n,), float(alpha)), generator=gen)
    g2 = torch._standard_gamma(torch.full((n,), float(alpha)), generator=gen)
    return g1 / (g1 + g2)
