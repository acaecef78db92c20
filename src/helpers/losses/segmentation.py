"""Segmentation losses in PyTorch: functional form plus a thin ``nn.Module`` form.

* :func:`dice_loss` and :func:`bce_dice_loss`: the grain-boundary U-Net's loss
  (paper eqs. 1-2): ``BCE + (1 - 2|X ∩ Y| / (|X| + |Y|))``, with the soft (probability)
  version of ``|X ∩ Y|`` so it has a gradient.
* :func:`soft_target_cross_entropy`: cross-entropy against *soft* class targets, as made
  by Mixup and CutMix (a pixel that is 70 % "cat" and 30 % "dog").

All losses take **logits** (raw network outputs), never probabilities: ``log_softmax`` and
``binary_cross_entropy_with_logits`` are stable where ``log(sigmoid(x))`` is not. They
compute in float32 even when the network runs under bf16/fp16 autocast (sums over a
million pixels in bf16 lose several digits), and keep float64 inputs in float64 (for
``torch.autograd.gradcheck``).

Argument checks: shapes and dtypes are always checked (free); value checks (targets in
``[0, 1]``, soft targets summing to 1) read a number back from the GPU, so they run only
with ``validate=True`` (the default). A training loop that wants no host syncs passes
``validate=False``.

Example:
    >>> import torch
    >>> logits = torch.tensor([[[8.0, -8.0], [-8.0, 8.0]]])  # one 2x2 image, confident
    >>> target = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> round(float(dice_loss(logits, target)), 4)  # perfect prediction -> ~0
    0.0003
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from helpers.core.checks import check_array, check_finite, check_non_negative, check_range, check_same_shape

__all__ = ["dice_loss", "bce_dice_loss", "soft_target_cross_entropy", "DiceLoss", "BCEDiceLoss",
           "SoftTargetCrossEntropy", "segmentation_cross_entropy", "main_aux_loss", "check_class_target"]


# ----------------------------------------------------------------------------- helpers


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float32 for half/bfloat16 inputs, otherwise keep (float64 stays float64)."""
    return torch.promote_types(x.dtype, torch.float32)


def _check_logits(logits: torch.Tensor, name: str = "logits", min_ndim: int = 2) -> None:
    check_array(logits, name)
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor of raw scores, got dtype {logits.dtype}")
    if logits.ndim < min_ndim:
        raise ValueError(f"{name} must have a batch axis first, at least {min_ndim}-D, got shape {tuple(logits.shape)}")
    if logits.shape[0] == 0:
        raise ValueError(f"{name} holds an empty batch (shape {tuple(logits.shape)})")


def _check_target(target: torch.Tensor, logits: torch.Tensor, name: str = "target") -> None:
    check_array(target, name)
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(target).__name__}")
    check_same_shape(logits, target, "logits", name)
    if target.device != logits.device:
        raise ValueError(f"{name} must be on the same device as logits, got {target.device} and {logits.device}")


def _check_binary_pair(logits: torch.Tensor, target: torch.Tensor, validate: bool) -> None:
    _check_logits(logits)
    _check_target(target, logits)
    if validate:  # host read-backs, so optional
        check_finite(logits, "logits")  # a NaN logit would give a NaN loss, not an error
        check_range(target, "target", 0.0, 1.0)


# ----------------------------------------------------------------------------- binary losses


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0, validate: bool = True) -> torch.Tensor:
    """Soft Dice loss of binary masks, ``1 - (2 Σ p t + eps) / (Σ p + Σ t + eps)``.

    ``p = sigmoid(logits)``; the sums run over every axis but the first, so each image
    gets its own Dice (a small grain counts as much as a large one in another image), and
    the loss is the mean over the batch.

    Args:
        logits: raw scores, shape ``(N, ...)``, e.g. ``(N, 1, H, W)``; any float dtype.
        target: same shape, values in ``[0, 1]`` (float, bool or integer 0/1).
        eps: additive smoothing (>= 0): keeps the loss defined (= 0) for an image whose
            mask and prediction are both empty. ``eps=0`` gives the paper's exact formula.
        validate: check that target lies in ``[0, 1]`` and logits are finite (host read-backs).

    Returns:
        Scalar float32 loss (float64 for float64 logits).

    Raises:
        ValueError: shapes differ, logits not floating point, no batch axis, target
            outside ``[0, 1]``, negative ``eps``.

    Example:
        >>> import torch
        >>> t = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
        >>> round(float(dice_loss(torch.zeros(1, 4), t, eps=0.0)), 4)  # p=0.5: 1 - 2*1/(2+2)
        0.5
    """
    eps = check_non_negative(eps, "eps")
    _check_binary_pair(logits, target, validate)
    dtype = _compute_dtype(logits)
    p = torch.sigmoid(logits.to(dtype)).flatten(1)
    t = target.to(dtype).flatten(1)
    inter = (p * t).sum(1)
    denom = p.sum(1) + t.sum(1)
    return (1.0 - (2.0 * inter + eps) / (denom + eps)).mean()


def bce_dice_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    bce_weight: float = 1.0,
    dice_weight: float = 1.0,
    eps: float = 1.0,
    validate: bool = True,
) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice, the grain-boundary paper's loss (eqs. 1-2).

    ``bce_weight * BCEWithLogits(logits, target) + dice_weight * dice_loss(logits, target)``;
    the BCE is the mean over every pixel, the Dice term as in :func:`dice_loss`.

    Args:
        logits: raw scores ``(N, ...)``.
        target: same shape, values in ``[0, 1]``.
        bce_weight: weight of the BCE term (>= 0).
        dice_weight: weight of the Dice term (>= 0).
        eps: Dice smoothing, see :func:`dice_loss`.
        validate: check target values and finite logits (host read-backs).

    Returns:
        Scalar loss in float32 (float64 for float64 logits).

    Example:
        >>> import torch
        >>> t = torch.tensor([[1.0, 0.0]])
        >>> # BCE = log 2 at logits 0; Dice = 1 - (2*0.5 + 1)/(1 + 1 + 1) = 1/3
        >>> round(float(bce_dice_loss(torch.zeros(1, 2), t)), 4)
        1.0265
    """
    bce_weight = check_non_negative(bce_weight, "bce_weight")
    dice_weight = check_non_negative(dice_weight, "dice_weight")
    eps = check_non_negative(eps, "eps")
    _check_binary_pair(logits, target, validate)
    dtype = _compute_dtype(logits)
    z, t = logits.to(dtype), target.to(dtype)
    bce = F.binary_cross_entropy_with_logits(z, t)
    return bce_weight * bce + dice_weight * dice_loss(z, t, eps=eps, validate=False)


# ----------------------------------------------------------------------------- soft-target CE


def soft_target_cross_entropy(
    logits: torch.Tensor,
    soft_target: torch.Tensor,
    ignore_mask: torch.Tensor | None = None,
    valid_mask: torch.Tensor | None = None,
    validate: bool = True,
    atol: float = 1e-3,
) -> torch.Tensor:
    """Cross-entropy against soft class targets (Mixup / CutMix labels).

    Per pixel (or sample) ``-Σ_c q_c log softmax(z)_c``, averaged over the pixels that count.
    With one-hot ``q`` it equals :func:`torch.nn.functional.cross_entropy`.

    Args:
        logits: raw scores ``(N, C)`` or ``(N, C, H, W)`` (class axis second, as in PyTorch).
        soft_target: same shape; each pixel's class probabilities (>= 0, summing to 1 over
            axis 1 within ``atol``).
        ignore_mask: optional bool tensor of shape ``(N,)`` / ``(N, H, W)`` (``logits``
            without the class axis), **True where a pixel is ignored** (e.g. VOC's 255
            border). Its targets are not checked and may be all zero.
        valid_mask: the same information the other way round, **True where a pixel counts**.
            Give at most one of the two.
        validate: check the soft targets' values and finite logits (host read-backs).
        atol: tolerance on the per-pixel sum of ``soft_target`` (bf16 targets need ~1e-2).

    Returns:
        Scalar float32 loss (float64 for float64 logits); 0 when every pixel is ignored
        (so a fully ignored crop adds no gradient instead of NaN).

    Raises:
        ValueError: shapes differ, masks of the wrong shape or dtype, both masks given,
            soft targets negative or not summing to 1.

    Example:
        >>> import torch
        >>> logits = torch.zeros(1, 2)  # 50/50 prediction
        >>> round(float(soft_target_cross_entropy(logits, torch.tensor([[0.7, 0.3]]))), 4)  # log 2
        0.6931
    """
    _check_logits(logits)
    _check_target(soft_target, logits, "soft_target")
    if not soft_target.is_floating_point():
        raise ValueError(f"soft_target must be a floating-point tensor of class probabilities, got {soft_target.dtype}")
    atol = check_non_negative(atol, "atol")
    if ignore_mask is not None and valid_mask is not None:
        raise ValueError("give ignore_mask or valid_mask, not both")
    mask_name = "ignore_mask" if ignore_mask is not None else "valid_mask"
    mask = ignore_mask if ignore_mask is not None else valid_mask
    pixel_shape = (logits.shape[0], *logits.shape[2:])
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"{mask_name} must be a bool tensor, got {got}")
        if tuple(mask.shape) != tuple(pixel_shape):
            raise ValueError(
                f"{mask_name} must have shape {tuple(pixel_shape)} (logits without the class axis), "
                f"got {tuple(mask.shape)}"
            )
        if mask.device != logits.device:
            raise ValueError(f"{mask_name} must be on the same device as logits, got {mask.device}")
        valid = ~mask if ignore_mask is not None else mask
    else:
        valid = None
    dtype = _compute_dtype(logits)
    q = soft_target.to(dtype)
    if validate:
        check_finite(logits, "logits")
        qv = q.movedim(1, -1)[valid] if valid is not None else q.movedim(1, -1)
        if qv.numel():
            if float(qv.min()) < -atol:
                raise ValueError(f"soft_target must be non-negative, found {float(qv.min()):.4g}")
            err = float((qv.sum(-1) - 1).abs().max())
            if not err <= atol:  # also NaN
                raise ValueError(
                    f"soft_target must sum to 1 over the class axis (axis 1) within atol={atol}, "
                    f"found a pixel off by {err:.4g}"
                )
    per_pixel = -(q * F.log_softmax(logits.to(dtype), dim=1)).sum(1)
    if valid is None:
        return per_pixel.mean()
    w = valid.to(dtype)
    # clamp keeps a fully ignored batch at 0 without a data-dependent branch (no sync).
    return (per_pixel * w).sum() / w.sum().clamp_min(1.0)


# ----------------------------------------------------------------------------- modules


class DiceLoss(nn.Module):
    """Module form of :func:`dice_loss`.

    Example:
        >>> import torch
        >>> loss = DiceLoss()(torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4))
    """

    def __init__(self, eps: float = 1.0, validate: bool = True) -> None:
        super().__init__()
        self.eps = check_non_negative(eps, "eps")
        self.validate = validate

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return dice_loss(logits, target, eps=self.eps, validate=self.validate)

    def extra_repr(self) -> str:
        return f"eps={self.eps}, validate={self.validate}"


class BCEDiceLoss(nn.Module):
    """Module form of :func:`bce_dice_loss`.

    Example:
        >>> import torch
        >>> criterion = BCEDiceLoss(bce_weight=1.0, dice_weight=1.0)
        >>> round(float(criterion(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]))), 4)
        1.0265
    """

    def __init__(self, bce_weight: float = 1.0, dice_weight: float = 1.0, eps: float = 1.0,
                 validate: bool = True) -> None:
        super().__init__()
        self.bce_weight = check_non_negative(bce_weight, "bce_weight")
        self.dice_weight = check_non_negative(dice_weight, "dice_weight")
        self.eps = check_non_negative(eps, "eps")
        self.validate = validate

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return bce_dice_loss(logits, target, self.bce_weight, self.dice_weight, self.eps, self.validate)

    def extra_repr(self) -> str:
        return f"bce_weight={self.bce_weight}, dice_weight={self.dice_weight}, eps={self.eps}, validate={self.validate}"


class SoftTargetCrossEntropy(nn.Module):
    """Module form of :func:`soft_target_cross_entropy`.

    Example:
        >>> import torch
        >>> criterion = SoftTargetCrossEntropy()
        >>> round(float(criterion(torch.zeros(1, 2), torch.tensor([[0.5, 0.5]]))), 4)
        0.6931
    """

    def __init__(self, validate: bool = True, atol: float = 1e-3) -> None:
        super().__init__()
        self.validate = validate
        self.atol = check_non_negative(atol, "atol")

    def forward(self, logits: torch.Tensor, soft_target: torch.Tensor, ignore_mask: torch.Tensor | None = None,
                valid_mask: torch.Tensor | None = None) -> torch.Tensor:
        return soft_target_cross_entropy(logits, soft_target, ignore_mask, valid_mask, self.validate, self.atol)

    def extra_repr(self) -> str:
        return f"validate={self.validate}, atol={self.atol}"


# ----------------------------------------------------------------------------- PSPNet (main + auxiliary head)


def check_class_target(logits: torch.Tensor, target: Any, ignore_index: int | None = 255,
                       validate: bool | None = None, name: str = "target") -> None:
    """Check integer labels ``(N, H, W)`` against logits ``(N, C, H, W)`` before a cross-entropy.

    Shape and dtype are always checked (free). The label range (``[0, C)`` or ``ignore_index``)
    needs a look at the values: with ``validate=None`` it is checked for CPU tensors only, where
    that costs no device sync; ``True``/``False`` force it on/off. Without the check an
    out-of-range label gives PyTorch's bare ``IndexError: Target 7 is out of bounds`` (or, on a
    GPU, a device-side assert).
    """
    _check_logits(logits)
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor of class indices, got {type(target).__name__}")
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer class indices (N, H, W), got dtype {target.dtype}; "
                         "a float mask needs .long() (or a binary loss such as bce_dice_loss)")
    want = (logits.shape[0],) + tuple(logits.shape[2:])
    if tuple(target.shape) != want:
        raise ValueError(f"{name} must have shape {want} (logits {tuple(logits.shape)} without the class axis), "
                         f"got {tuple(target.shape)}")
    if validate is None:
        validate = target.device.type == "cpu"
    if validate and target.numel():
        c = logits.shape[1]
        bad = (target < 0) | (target >= c)
        if ignore_index is not None:
            bad &= target != ignore_index
        if bool(bad.any()):
            vals = target[bad]
            extra = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
            raise ValueError(f"{name} labels must be in [0, {c}){extra} for logits with C={c} classes, "
                             f"got min {int(vals.min())}, max {int(vals.max())}")


def segmentation_cross_entropy(logits: torch.Tensor, target: Any, ignore_index: int = 255,
                               validate: bool | None = None) -> torch.Tensor:
    """Cross entropy for hard or mixed (soft) segmentation targets.

    Args:
        logits: ``(N, C, H, W)``.
        target: integer labels ``(N, H, W)`` (``ignore_index`` not counted), or the pair
            ``(soft_target (N, C, H, W), valid (N, H, W) bool)`` produced by
            :func:`helpers.augment.mix_batch`.
        ignore_index: label of unlabelled pixels.
        validate: check the label range; ``None`` = only for CPU tensors (no device sync),
            see :func:`check_class_target`.

    Raises:
        ValueError: wrong target shape or dtype, labels outside ``[0, C)`` other than ``ignore_index``.
    """
    if isinstance(target, (tuple, list)):
        soft, valid = target
        return soft_target_cross_entropy(logits, soft, valid_mask=valid, validate=False)
    check_class_target(logits, target, ignore_index, validate)
    return F.cross_entropy(logits.float(), target, ignore_index=ignore_index)


def main_aux_loss(output: Any, target: Any, aux_weight: float = 0.4, ignore_index: int = 255) -> torch.Tensor:
    """``CE(main) + aux_weight * CE(aux)`` (PSPNet; 0.4 as in its authors' code).

    ``output`` is ``(main, aux)`` in training and ``main`` alone in evaluation, where only the
    main loss is returned.

    Example:
        >>> y = torch.zeros(1, 4, 4, dtype=torch.long)
        >>> main = aux = torch.zeros(1, 3, 4, 4)
        >>> round(float(main_aux_loss((main, aux), y)), 4)  # 1.4 * log 3
        1.5381
    """
    aux_weight = check_non_negative(aux_weight, "aux_weight")
    if isinstance(output, (tuple, list)):
        main, aux = output
        # The target is checked once, with the main output; the aux term reuses it.
        return segmentation_cross_entropy(main, target, ignore_index) + aux_weight * segmentation_cross_entropy(
            aux, target, ignore_index, validate=False)
    return segmentation_cross_entropy(output, target, ignore_index)
