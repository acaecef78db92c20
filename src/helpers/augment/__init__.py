"""Augmentation: the albumentations pipeline (:mod:`~helpers.augment.segmentation`), Mixup and CutMix for
masks (:mod:`~helpers.augment.mixing`), and the six-op augmentation on the GPU (:mod:`~helpers.augment.gpu`).

The names below are importable from ``helpers.augment`` directly; each submodule is imported only
when one of its names is first used (albumentations is slow to import).
"""

from importlib import import_module
from typing import Any

_HOME = {
    "AUGMENTATIONS": "segmentation", "IMAGENET_MEAN": "segmentation", "IMAGENET_STD": "segmentation",
    "segmentation_augmentation": "segmentation", "AugmentedSegmentation": "segmentation",
    "normalise_images": "segmentation",
    "MIX_MODES": "mixing", "one_hot_with_ignore": "mixing", "cutmix_boxes": "mixing", "mix_batch": "mixing",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
