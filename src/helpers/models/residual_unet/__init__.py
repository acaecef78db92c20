"""The residual U-Net of the grain-boundary paper (Keras 3)."""

from .model import residual_unet

__all__ = ["residual_unet"]
