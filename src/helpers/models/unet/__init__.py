from .model import UNet, unet

__all__ = ["UNet", "unet"]
