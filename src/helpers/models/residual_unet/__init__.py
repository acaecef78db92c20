"""The residual U-Net of the grain-boundary paper (Keras 3)."""

from helpers.models.residual_unet.model import residual_unet

__all__ = ["residual_unet"]
