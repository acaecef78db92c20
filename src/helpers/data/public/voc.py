"""PASCAL VOC 2012 segmentation through torchvision, split as in the PSPNet augmentation paper."""

from __future__ import annotations

import os

import numpy as np

from helpers.core.checks import check_positive_int
from helpers.data.public.download import data_dir

VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
               "tvmonitor")


def load_voc2012(data_root: str | os.PathLike | None, n_train: int = 1400, n_val: int = 500, size: int = 475, *,
                 seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], list[str]]:
    """Random ``n_train`` / ``n_val`` images of VOC 2012's segmentation ``train`` set, resized to ``size``.

    The paper drew 1400 training and 500 held-out images at random from VOC's segmentation set.
    torchvision downloads the archive (about 2 GB) into ``data_root`` (default: the helpers' cache)
    when it is not there yet; it checks the archive's MD5.

    Returns:
        ``(x_train, y_train), (x_val, y_val), class_names``: images float32 ``(N, size, size, 3)``
        in [0, 1] and masks uint8 with 255 on VOC's ignored borders.

    Raises:
        RuntimeError: VOC is neither in ``data_root`` nor downloadable (offline).
    """
    from PIL import Image
    from torchvision.datasets import VOCSegmentation

    n_train, n_val = check_positive_int(n_train, "n_train"), check_positive_int(n_val, "n_val")
    size = check_positive_int(size, "size", minimum=32)
    root = str(data_root) if data_root is not None else str(data_dir() / "voc2012")
    try:
        ds = VOCSegmentation(root, year="2012", image_set="train", download=not os.path.isdir(
            os.path.join(root, "VOCdevkit", "VOC2012")))
    except Exception as exc:
        raise RuntimeError(f"PASCAL VOC 2012 is not in {root} and could not be downloaded ({type(exc).__name__}: "
                           f"{exc}); use data_source='synthetic' offline, or pass data_root=a folder holding "
                           "VOCdevkit/VOC2012") from exc
    if n_train + n_val > len(ds):
        raise ValueError(f"n_train + n_val = {n_train + n_val} exceeds the {len(ds)} images of VOC's train split")
    order = np.random.default_rng(seed).permutation(len(ds))[: n_train + n_val]
    xs, ys = [], []
    for i in order:
        img, mask = ds[int(i)]
        xs.append(np.asarray(img.convert("RGB").resize((size, size), Image.BILINEAR), np.float32) / 255.0)
        ys.append(np.asarray(mask.resize((size, size), Image.NEAREST), np.uint8))
    x, y = np.stack(xs), np.stack(ys)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:]), list(VOC_CLASSES)
