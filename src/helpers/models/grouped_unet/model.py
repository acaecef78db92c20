"""The class-grouped U-Net of the few-shot pixel-relation paper (Hotta, Fig. 1).

The paper's network is the plain U-Net up to its last decoder level; the layer before the
last then holds **one group of feature maps per class**. The pixel-relation loss
(:mod:`helpers.losses.pixel_relation`) compares pixels within class ``c``'s group when it trains
class ``c``; the groups are concatenated and one 1x1 convolution turns them into the class
logits, exactly like the plain U-Net's head.

The encoder and decoder are those of :class:`helpers.models.unet.UNet` (this class is a
subclass whose ``head`` is the identity, so the parent's forward returns the decoder
features and keeps its input checks). Each group is a small branch: a 3x3 conv-BN-ReLU from
the decoder's ``base`` channels to ``group_channels``, then a **linear** 3x3 conv (no ReLU,
so a feature vector can point anywhere and the cosine similarity of two pixels can reach
-1, which the loss asks for pixels of different classes). Both convolutions of all groups
run as one (grouped) convolution each, so the branches cost a single kernel launch.

The grouping only changes training: at test time the network is used like any U-Net.
"""

from __future__ import annotations

import torch
from torch import nn

from helpers.core.checks import check_positive_int
from helpers.models.unet.model import UNet


class GroupedUNet(UNet):
    """U-Net whose layer before the last is ``num_classes`` groups of ``group_channels`` maps.

    Args:
        in_channels: channels of the input image (1 for EM).
        num_classes: classes, and so the number of feature groups.
        base: filters of the first U-Net level; each level down doubles them.
        depth: number of 2x2 poolings; H and W must be divisible by ``2**depth``.
        group_channels: feature maps per class group (the paper does not give the number).
        return_features: default of :meth:`forward`'s argument of the same name; set it to
            ``True`` to train with :func:`helpers.losses.pixel_relation.fewshot_loss` inside
            :func:`helpers.training.fit` (which calls ``model(x)``).

    Attributes:
        group_channels: as above; the features have ``num_classes * group_channels``
            channels, class ``c`` owning channels ``[c * group_channels, (c + 1) * group_channels)``.

    Example:
        >>> net = GroupedUNet(1, 3, base=8, depth=2, group_channels=4)
        >>> logits, feats = net(torch.zeros(2, 1, 32, 32), return_features=True)
        >>> tuple(logits.shape), tuple(feats.shape)
        ((2, 3, 32, 32), (2, 12, 32, 32))
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 3, base: int = 16, depth: int = 4,
                 group_channels: int = 8, return_features: bool = False):
        super().__init__(in_channels, num_classes, base=base, depth=depth)
        self.group_channels = check_positive_int(group_channels, "group_channels")
        self.return_features = bool(return_features)
        width = num_classes * group_channels
        self.head = nn.Identity()  # UNet.forward now ends at the decoder's last level
        self.groups = nn.Sequential(
            nn.Conv2d(base, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1, groups=num_classes),  # keeps the groups apart, linear output
        )
        self.classifier = nn.Conv2d(width, num_classes, 1)  # "concatenate the groups, then convolve"

    def forward(self, x: torch.Tensor, return_features: bool | None = None):
        """Logits ``(N, C, H, W)``, or ``(logits, features)`` with ``features`` ``(N, C * g, H, W)``.

        The tuple keeps the logits first, so :func:`helpers.training.evaluate` scores them.
        """
        feats = self.groups(super().forward(x))
        logits = self.classifier(feats)
        want = self.return_features if return_features is None else return_features
        return (logits, feats) if want else logits

    def group_features(self, features: torch.Tensor) -> torch.Tensor:
        """View ``features`` ``(N, C * g, H, W)`` as ``(N, C, g, H, W)``: one group per class."""
        n, _, h, w = features.shape
        return features.reshape(n, self.num_classes, self.group_channels, h, w)

    def extra_repr(self) -> str:
        return (f"num_classes={self.num_classes}, group_channels={self.group_channels}, "
                f"return_features={self.return_features}")


def grouped_unet(in_channels: int = 1, num_classes: int = 3, base: int = 16, depth: int = 4,
                 group_channels: int = 8, return_features: bool = False) -> GroupedUNet:
    """Build a :class:`GroupedUNet` (see there for the arguments)."""
    return GroupedUNet(in_channels, num_classes, base=base, depth=depth, group_channels=group_channels,
                       return_features=return_features)
