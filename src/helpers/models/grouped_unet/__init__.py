"""The class-grouped U-Net of the few-shot pixel-relation paper (PyTorch)."""

from helpers.models.grouped_unet.model import GroupedUNet, grouped_unet

__all__ = ["GroupedUNet", "grouped_unet"]
