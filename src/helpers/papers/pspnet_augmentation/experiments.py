"""Training runs of the augmentation study (PSPNet notebook): loaders, optimisers, mixing, per-image losses.

One run = one augmentation setting x one optimiser, trained with :func:`helpers.training.fit`:

* ``augmentation``: ``"none"`` (normalisation only), ``"affine_blur"`` (flip, shift-scale-rotate,
  blur, random resized crop: :func:`helpers.augment.segmentation_augmentation`), or
  ``"affine_blur_mix"`` (the same, then Mixup or CutMix per batch on the device).
* ``optimizer``: ``"sgd_poly"`` (the paper: SGD lr 0.01, weight decay 1e-4, no momentum, poly decay
  with power 0.9 per step) or ``"adam"`` (the paper: Adam lr 0.01, betas 0.9/0.999, weight decay 1e-4).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from helpers.augment.mixing import mix_batch
from helpers.augment.segmentation import AugmentedSegmentation, segmentation_augmentation
from helpers.core.checks import check_choice, check_positive_int
from helpers.training import poly_lr_lambda, use_bf16

AUGMENTATION_SETTINGS = ("none", "affine_blur", "affine_blur_mix")
OPTIMIZERS = ("sgd_poly", "adam")


def augmented_loader(images: np.ndarray, masks: np.ndarray, *, augmentation: str, size: int, batch_size: int,
                     num_workers: int = 0, seed: int = 0) -> torch.utils.data.DataLoader:
    """A shuffled DataLoader of ``(image, mask)`` with the albumentations pipeline of ``augmentation``.

    Batches are full (``drop_last``): PSPNet's 1 x 1 pooled branch has batch norm, which needs
    more than one sample.
    """
    check_choice(augmentation, "augmentation", AUGMENTATION_SETTINGS)
    kind = "none" if augmentation == "none" else "affine_blur"
    ds = AugmentedSegmentation(images, masks, segmentation_augmentation(kind, size, seed=seed))
    g = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(ds, batch_size=check_positive_int(batch_size, "batch_size"), shuffle=True,
                                       drop_last=True, num_workers=num_workers, generator=g,
                                       pin_memory=torch.cuda.is_available(), persistent_workers=num_workers > 0)


def mixing(num_classes: int, seed: int = 0, ignore_index: int = 255) -> Callable[[torch.Tensor, torch.Tensor], tuple[Any, Any]]:
    """``augment(x, y)`` for :func:`helpers.training.fit`: Mixup or CutMix at random per batch.

    Returns ``(x_mixed, (soft_target, valid))``, which :func:`helpers.losses.main_aux_loss` accepts.
    """
    gen = torch.Generator().manual_seed(seed)

    def augment(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        xm, q, valid, _ = mix_batch(x, y, num_classes, mode="random", ignore_index=ignore_index, generator=gen,
                                    validate=False)  # no host sync in the training step
        return xm, (q, valid)

    return augment


def make_optimizer(name: str, model: nn.Module, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """The paper's two optimisers over the trainable parameters; returns ``(optimizer, scheduler or None)``."""
    check_choice(name, "optimizer", OPTIMIZERS)
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "sgd_poly":
        opt = torch.optim.SGD(params, lr=0.01, weight_decay=1e-4)
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, poly_lr_lambda(total_steps, 0.9))
    return torch.optim.Adam(params, lr=0.01, betas=(0.9, 0.999), weight_decay=1e-4), None


@torch.inference_mode()  # scoring only: no autograd graph
def per_image_loss(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, *, batch_size: int = 16,
                   ignore_index: int = 255, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross entropy of every image (mean over its labelled pixels) and the predicted classes.

    Returns:
        ``(losses (N,), predictions (N, H, W) int64)``, on the CPU.
    """
    if images.ndim != 4 or masks.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(f"images (N, C, H, W) and masks (N, H, W) must match; got {tuple(images.shape)}, {tuple(masks.shape)}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    losses, preds = [], []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device).contiguous(memory_format=torch.channels_last)
        y = masks[i:i + batch_size].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(device)):
            logits = model(x)
        # cross_entropy gives 0 at ignored pixels; the mean is over the labelled ones.
        ce = nn.functional.cross_entropy(logits.float(), y, ignore_index=ignore_index, reduction="none")
        losses.append(ce.sum((1, 2)) / (y != ignore_index).sum((1, 2)).clamp_min(1))
        preds.append(logits.argmax(1))
    model.train(was_training)
    return torch.cat(losses).cpu(), torch.cat(preds).cpu()  # one copy to the host at the end


def default_workers() -> int:
    """DataLoader workers: none on a small CPU machine (processes cost more than they give), else up to 8."""
    n = os.cpu_count() or 1
    return 0 if n <= 4 else min(8, n - 2)
