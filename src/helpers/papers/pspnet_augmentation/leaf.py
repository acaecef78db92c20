"""Notebook 02's one-class "analog" output (section 7, Figs. 11-13): lesions on leaves.

Lesions cover a few percent of an image, so a network trained with plain cross entropy for a few
epochs learns "no lesion anywhere" (held-out mIoU near 0.5, every P(lesion) map near 0). Three things
make the rare class count:

* :func:`lesion_loss`: cross entropy with the lesion class weighted by the inverse of its pixel
  share (:func:`lesion_weight`) plus a soft Dice term on P(lesion), for both heads;
* :func:`train_lesions`: training by steps, scored on the held-out leaves every ``eval_every``
  steps, keeping the weights of the best held-out lesion IoU and stopping after ``patience``
  evaluations without improvement;
* :func:`lesion_map_check`: the maps are checked for sense (non-constant, lesion predicted
  somewhere) before a lesion-fraction correlation is reported.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.core.checks import check_positive_int
from helpers.core.claims import constant_prediction, degenerate, missing_classes


def lesion_weight(masks: np.ndarray, *, ignore_index: int = 255, cap: float = 20.0) -> float:
    """The lesion class's cross-entropy weight: background pixels per lesion pixel, capped at ``cap``.

    Example:
        >>> lesion_weight(np.array([[0, 0, 0, 1]]))
        3.0
    """
    m = np.asarray(masks)
    lesion, background = int((m == 1).sum()), int((m == 0).sum())
    if lesion == 0:
        raise ValueError("the training masks hold no lesion pixel (class 1): nothing to learn")
    return float(min(cap, max(1.0, background / lesion)))


def _soft_target(target: Any, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(q (N, 2, H, W), valid (N, H, W))`` from class indices or from Mixup/CutMix's ``(q, valid)``."""
    if isinstance(target, (tuple, list)):
        q, valid = target
        return q.float(), valid.bool()
    valid = target != ignore_index
    q = F.one_hot(torch.where(valid, target, torch.zeros_like(target)).long(), 2).permute(0, 3, 1, 2).float()
    return q, valid


def _one_head(logits: torch.Tensor, q: torch.Tensor, valid: torch.Tensor, weight: float, dice: float) -> torch.Tensor:
    logp = F.log_softmax(logits.float(), 1)
    w = torch.tensor([1.0, weight], device=logits.device).view(1, 2, 1, 1)
    ce = -(w * q * logp).sum(1)                                   # weighted soft cross entropy per pixel
    pix_w = (w * q).sum(1)
    v = valid.float()
    ce = (ce * v).sum() / (pix_w * v).sum().clamp_min(1e-6)
    p = logp[:, 1].exp() * v
    t = q[:, 1] * v
    soft_dice = 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
    return ce + dice * soft_dice


def lesion_loss(output: Any, target: Any, *, weight: float = 10.0, dice: float = 1.0, aux_weight: float = 0.4,
                ignore_index: int = 255) -> torch.Tensor:
    """Weighted cross entropy plus ``dice`` x soft Dice on P(lesion), for the main and auxiliary heads.

    ``output`` is ``(main, aux)`` in training or ``main`` alone, each ``(N, 2, H, W)`` logits;
    ``target`` is class indices ``(N, H, W)`` (0 healthy, 1 lesion, ``ignore_index`` ignored) or
    the ``(soft_target, valid)`` pair of Mixup/CutMix.

    Example:
        >>> y = torch.zeros(1, 4, 4, dtype=torch.long); y[0, 0, 0] = 1
        >>> good = torch.stack([(y == 0).float(), (y == 1).float()], 1) * 20 - 10
        >>> bool(lesion_loss(good, y) < lesion_loss(-good, y))
        True
    """
    if weight <= 0 or dice < 0:
        raise ValueError(f"weight must be > 0 and dice >= 0, got {weight}, {dice}")
    q, valid = _soft_target(target, ignore_index)
    if isinstance(output, (tuple, list)):
        main, aux = output
        return _one_head(main, q, valid, weight, dice) + aux_weight * _one_head(aux, q, valid, weight, dice)
    return _one_head(output, q, valid, weight, dice)


@torch.inference_mode()
def lesion_probability(model: nn.Module, images: torch.Tensor, *, batch_size: int = 16,
                       device: torch.device | str | None = None) -> np.ndarray:
    """P(lesion) of every pixel, ``(N, H, W)`` float32 on the host (the analog output of Fig. 13)."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was = model.training
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        out.append(torch.softmax(model(images[i:i + batch_size].to(device)).float(), 1)[:, 1].cpu())
    model.train(was)
    return torch.cat(out).numpy()


def lesion_iou(prob: np.ndarray, masks: np.ndarray, *, threshold: float = 0.5, ignore_index: int = 255) -> float:
    """IoU of the lesion class (``prob >= threshold``) over the labelled pixels; NaN without lesions anywhere.

    Example:
        >>> lesion_iou(np.array([[0.9, 0.1]]), np.array([[1, 1]]))
        0.5
    """
    valid = masks != ignore_index
    p, t = (prob >= threshold) & valid, (masks == 1) & valid
    union = int((p | t).sum())
    return float((p & t).sum() / union) if union else float("nan")


def train_lesions(model: nn.Module, loader: Any, val: tuple[torch.Tensor, np.ndarray], *, optimizer: torch.optim.Optimizer,
                  loss_fn: Any, max_steps: int, eval_every: int = 10, patience: int = 5, augment: Any = None,
                  device: torch.device | str | None = None, scheduler: Any = None) -> dict[str, Any]:
    """Train by steps until the held-out lesion IoU stops improving; the model ends with its best weights.

    Args:
        model: a two-class network (healthy, lesion).
        loader: an iterable of ``(image, mask)`` batches, cycled as long as needed.
        val: held-out ``(images (N, 3, H, W) normalised, masks (N, H, W))``.
        optimizer, loss_fn, scheduler: the training settings (the scheduler is stepped per step).
        max_steps: at most this many steps; eval_every: steps between evaluations;
        patience: evaluations without a better held-out lesion IoU before stopping.
        augment: ``augment(x, y) -> (x, target)`` on each batch (Mixup/CutMix), optional.

    Returns:
        ``{"step": [...], "train_loss": [...], "val_lesion_iou": [...], "best_step", "best_iou", "steps"}``.
    """
    max_steps = check_positive_int(max_steps, "max_steps")
    eval_every = check_positive_int(eval_every, "eval_every")
    patience = check_positive_int(patience, "patience")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    xv, yv = val
    log: dict[str, Any] = {"step": [], "train_loss": [], "val_lesion_iou": []}
    best, best_state, best_step, since, step, running = -1.0, None, 0, 0, 0, []
    model.train()
    while step < max_steps and since < patience:
        for x, y in loader:
            x, y = x.to(device), y.to(device).long()
            target: Any = y
            if augment is not None:
                x, target = augment(x, y)
            loss = loss_fn(model(x), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            running.append(float(loss.detach()))
            step += 1
            if step % eval_every == 0 or step == max_steps:
                iou = lesion_iou(lesion_probability(model, xv, device=device), yv)
                iou = 0.0 if math.isnan(iou) else iou
                log["step"].append(step); log["val_lesion_iou"].append(iou)
                log["train_loss"].append(float(np.mean(running))); running = []
                if iou > best:
                    best, best_step, since = iou, step, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    since += 1
            if step >= max_steps or since >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return {**log, "best_step": best_step, "best_iou": best, "steps": step}


def lesion_map_check(prob: np.ndarray, *, threshold: float = 0.5) -> str | None:
    """A reason when the lesion maps test nothing (constant P(lesion), or no pixel called lesion), else None.

    Example:
        >>> lesion_map_check(np.zeros((2, 4, 4)))
        'P(lesion) is constant (every value is 0); lesion mask never predicts class 1 of 0..1'
        >>> lesion_map_check(np.linspace(0, 1, 32).reshape(2, 4, 4)) is None
        True
    """
    p = np.asarray(prob, dtype=np.float32)
    hard = (p >= threshold).astype(np.int64)
    return degenerate(constant_prediction(np.round(p, 3), name="P(lesion)"),
                      missing_classes(hard, 2, name="lesion mask"))


def fraction_correlation(true_frac: np.ndarray, pred_frac: np.ndarray) -> float:
    """Pearson correlation of true and predicted lesion fractions; NaN when either is constant.

    Example:
        >>> import math; math.isnan(fraction_correlation(np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.1, 0.1])))
        True
    """
    t, p = np.asarray(true_frac, float), np.asarray(pred_frac, float)
    if np.ptp(t) == 0 or np.ptp(p) == 0:  # exactly constant (std of equal floats need not be 0)
        return float("nan")
    return float(np.corrcoef(t, p)[0, 1])
