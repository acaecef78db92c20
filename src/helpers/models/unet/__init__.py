from helpers.models.unet.model import UNet, unet

__all__ = ["UNet", "unet"]
