"""DeepLabv3+ (Chen et al. 2018) with Xception or MobileNetV2 backbones (Keras 3)."""

from .model import deeplabv3plus

__all__ = ["deeplabv3plus"]
