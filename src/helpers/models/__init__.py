"""Models of the course, one folder per architecture (the segmentation_models.pytorch layout).

Each architecture is built by a function named after it; the paper notebooks add
theirs here (residual U-Net, PSPNet, DCN, ...).
"""

from helpers.models.dcn import DCN, dcn
from helpers.models.grouped_unet import GroupedUNet, grouped_unet
from helpers.models.unet import UNet, unet

__all__ = ["DCN", "GroupedUNet", "UNet", "dcn", "grouped_unet", "unet"]
