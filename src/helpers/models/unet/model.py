"""The plain U-Net of Ronneberger et al. (2015): an encoder-decoder with concatenated skips.

It is the baseline several papers of the course start from, and the small model the
getting-started notebook trains in seconds.
"""

from __future__ import annotations

import torch
from torch import nn

from helpers.core.checks import check_float_images, check_positive_int


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 conv-BN-ReLU layers; padding keeps the size (unlike the 2015 paper's valid convs)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """U-Net with ``depth`` pooling levels and ``base`` filters at the first level.

    Args:
        in_channels: channels of the input image (1 for grey EM/SEM images).
        num_classes: output channels (logits); 1 for a binary mask with a sigmoid loss.
        base: filters of the first level; each level down doubles them.
        depth: number of 2x2 poolings; the input's height and width must be divisible by ``2**depth``.

    Example:
        >>> net = UNet(1, 3, base=8, depth=2)
        >>> net(torch.zeros(2, 1, 32, 32)).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, base: int = 16, depth: int = 4):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.num_classes = check_positive_int(num_classes, "num_classes")
        check_positive_int(base, "base")
        self.depth = check_positive_int(depth, "depth")
        widths = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([conv_block(in_channels, widths[0])] +
                                  [conv_block(widths[i], widths[i + 1]) for i in range(depth)])
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth))])
        self.merge = nn.ModuleList([conv_block(2 * widths[i], widths[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_float_images(x, "UNet")
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNet expects input (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        m = 2**self.depth
        if x.shape[-2] % m or x.shape[-1] % m:
            raise ValueError(f"UNet of depth {self.depth} needs H and W divisible by {m}, got {tuple(x.shape[-2:])}")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat([up(x), skips.pop()], dim=1))
        return self.head(x)


def unet(in_channels: int = 1, num_classes: int = 2, base: int = 16, depth: int = 4) -> UNet:
    """Build a :class:`UNet` (see there for the arguments)."""
    return UNet(in_channels, num_classes, base=base, depth=depth)
