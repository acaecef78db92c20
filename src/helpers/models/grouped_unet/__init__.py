"""The class-grouped U-Net of the few-shot pixel-relation paper (PyTorch)."""

from .model import GroupedUNet, grouped_unet

__all__ = ["GroupedUNet", "grouped_unet"]
