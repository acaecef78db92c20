"""DeepLabv3+ (Chen et al. 2018) with Xception or MobileNetV2 backbones (Keras 3)."""

from helpers.models.deeplabv3plus.model import deeplabv3plus

__all__ = ["deeplabv3plus"]
