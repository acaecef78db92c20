"""Augmentation for segmentation: the albumentations pipeline (Mixup / CutMix: :mod:`helpers.augment.mixing`).

Two kinds of augmentation, as in the PSPNet augmentation paper:

* **Geometric and photometric** (its Fig. 2), per sample on the CPU with albumentations 2.x:
  horizontal flip, shift-scale-rotate (``Affine``: scale 0.5..2, i.e. -0.5..+1.0 of the size;
  rotation +/-10 degrees), Gaussian blur, random resized crop, normalisation, and ``ToTensorV2`` with
  the mask transposed. albumentations moves the mask with the image, so they stay aligned; pixels
  that a rotation or shift brings in from outside the image get the mask value ``ignore_index``.
* **Mixing** (its eqs. 4-5), per batch on the device, vectorised over the batch: each image is
  mixed with another image of the batch, and so are their one-hot masks, giving soft per-pixel
  targets. Mixup: ``x = lam * x_i + (1 - lam) * x_j``, ``q = lam * onehot(y_i) + (1 - lam) *
  onehot(y_j)``, ``lam ~ Beta(alpha, alpha)``. CutMix: a box of area ``(1 - lam)`` of the image is
  pasted from ``x_j`` (and its mask from ``y_j``); ``lam`` is then the exact kept fraction. The
  paper loops over samples with one ``lam`` each; we draw one ``lam`` per sample too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from helpers.core.checks import check_choice, check_positive_int

AUGMENTATIONS = ("none", "affine_blur")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def segmentation_augmentation(kind: str, size: int, *, mean: Sequence[float] = IMAGENET_MEAN,
                              std: Sequence[float] = IMAGENET_STD, ignore_index: int = 255,
                              seed: int | None = None) -> Any:
    """The albumentations pipeline of the paper (``"affine_blur"``) or only normalisation (``"none"``).

    Args:
        kind: ``"none"`` or ``"affine_blur"``.
        size: output height and width (the random resized crop's size).
        mean, std: normalisation of images given in [0, 1] (ImageNet statistics by default).
        ignore_index: mask value for pixels brought in from outside the image.
        seed: seeds the pipeline's random draws (``None``: fresh draws each run). DataLoader
            workers get distinct streams from albumentations itself.

    Returns:
        An ``albumentations.Compose``; call it as ``t(image=hwc_float01, mask=hw_uint8)`` and get
        ``image`` float32 ``(C, H, W)`` and ``mask`` ``(H, W)`` tensors (the mask keeps its dtype).

    Example:
        >>> t = segmentation_augmentation("affine_blur", 32)
        >>> out = t(image=np.zeros((40, 40, 3), np.float32), mask=np.zeros((40, 40), np.uint8))
        >>> tuple(out["image"].shape), tuple(out["mask"].shape)
        ((3, 32, 32), (32, 32))
    """
    import albumentations as A
    from albumentations.pytorch import ToTensorV2

    check_choice(kind, "kind", AUGMENTATIONS)
    size = check_positive_int(size, "size")
    if not 0 <= ignore_index <= 255:
        raise ValueError(f"ignore_index must be in [0, 255] (masks are uint8), got {ignore_index}")
    steps: list[Any] = []
    if kind == "affine_blur":
        steps = [
            A.HorizontalFlip(p=0.5),
            A.Affine(scale=(0.5, 2.0), translate_percent=(-0.1, 0.1), rotate=(-10, 10), border_mode=0,
                     fill=0, fill_mask=ignore_index, p=0.5),
            A.GaussianBlur(blur_limit=(3, 5), p=0.5),
            A.RandomResizedCrop(size=(size, size), scale=(0.5, 1.0), p=1.0),
        ]
    else:
        steps = [A.Resize(size, size)]
    steps += [A.Normalize(mean=mean, std=std, max_pixel_value=1.0), ToTensorV2(transpose_mask=True)]
    return A.Compose(steps, seed=seed)


class AugmentedSegmentation(torch.utils.data.Dataset):
    """Images ``(N, H, W, C)`` in [0, 1] and masks ``(N, H, W)`` passed through an albumentations pipeline.

    Returns ``(image (C, H, W) float32, mask (H, W) int64)`` per item, ready for a DataLoader.
    """

    def __init__(self, images: np.ndarray, masks: np.ndarray, transform: Any):
        images, masks = np.asarray(images), np.asarray(masks)
        if images.ndim != 4:
            raise ValueError(f"images must be (N, H, W, C) in [0, 1], got shape {images.shape}")
        if masks.shape != images.shape[:3]:
            raise ValueError(f"masks must be (N, H, W) matching images {images.shape[:3]}, got {masks.shape}")
        if images.dtype != np.float32:
            raise ValueError(f"images must be float32 in [0, 1], got {images.dtype}")
        self.images, self.masks, self.transform = images, masks.astype(np.uint8), transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.transform(image=self.images[i], mask=self.masks[i])
        return out["image"], out["mask"].long()


def normalise_images(images: np.ndarray, mean: Sequence[float] = IMAGENET_MEAN,
                     std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """``(N, H, W, 3)`` in [0, 1] -> normalised ``(N, 3, H, W)`` float32 tensor (as the pipeline's last step).

    Example:
        >>> normalise_images(np.full((2, 4, 4, 3), 0.5, np.float32)).shape
        torch.Size([2, 3, 4, 4])
    """
    x = (np.asarray(images, np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
