"""PSPNet (Zhao et al., CVPR 2017) on a torchvision ResNet-50, with an auxiliary head.

The layout follows the paper the notebook reproduces and the PSPNet authors' code:

* **Backbone**: ResNet-50 whose ``layer3`` and ``layer4`` use dilation instead of stride, so the
  feature map keeps 1/8 of the input size (a 475 x 475 image gives 60 x 60 x 2048). The stem
  (``conv1``) is adapted to the input channels: for grey images its ImageNet filters are summed
  over RGB, which gives the same response to a grey image as to its RGB copy.
* **Pyramid pooling** at bins (1, 2, 3, 6): adaptive average pooling, 1 x 1 conv to 2048/4
  channels, BN, ReLU, bilinear upsampling back to the map, concatenated with the map itself.
* **Decoder**: 3 x 3 conv to 512, BN, ReLU, dropout, 1 x 1 conv to the classes, bilinear
  upsampling to the input size.
* **Auxiliary head** on ``layer3`` (training only): the loss is ``CE(main) + 0.4 * CE(aux)``.

``freeze_backbone`` keeps the backbone's weights *and* its batch-norm statistics fixed (the
module stays in eval mode), which is what transfer learning with a frozen extractor means.
Frozen random weights are a poor extractor, so :func:`pspnet` freezes by default only when
pretrained weights were loaded (ImageNet's, or a backbone file the course pretrained offline:
:mod:`helpers.models.pspnet.pretrain`); ``model.weights_source`` says which.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from helpers.core.checks import check_choice, check_float_images, check_positive_int


def _conv_bn_relu(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class PyramidPooling(nn.Module):
    """Pool the map at several grid sizes, project, upsample, and concatenate with the map.

    Shown step by step in notebook 02, section 4: the module in one plain loop, checked against this
    one on copied weights.

    Example:
        >>> ppm = PyramidPooling(64, bins=(1, 2, 3, 6))
        >>> ppm(torch.zeros(2, 64, 12, 12)).shape  # 64 + 4 x 16 channels
        torch.Size([2, 128, 12, 12])
    """

    def __init__(self, in_channels: int, bins: Sequence[int] = (1, 2, 3, 6), reduction: int | None = None):
        super().__init__()
        in_channels = check_positive_int(in_channels, "in_channels")
        if not bins or any(int(b) < 1 for b in bins):
            raise ValueError(f"bins must be positive grid sizes, got {bins}")
        # The paper's projection: in_channels / len(bins) per branch (2048 -> 4 x 512).
        reduction = in_channels // len(bins) if reduction is None else check_positive_int(reduction, "reduction")
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(int(b)), *_conv_bn_relu(in_channels, reduction, 1)) for b in bins)
        self.out_channels = in_channels + reduction * len(bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        return torch.cat([x, *(F.interpolate(s(x), size, mode="bilinear", align_corners=False) for s in self.stages)], 1)


def _head(cin: int, mid: int, num_classes: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(*_conv_bn_relu(cin, mid, 3), nn.Dropout2d(dropout), nn.Conv2d(mid, num_classes, 1))


class PSPNet(nn.Module):
    """PSPNet; see the module docstring. Build it with :func:`pspnet`.

    In training mode with an auxiliary head, ``forward`` returns ``(main_logits, aux_logits)``;
    in eval mode only ``main_logits``, both ``(N, num_classes, H, W)`` at the input size.
    """

    def __init__(self, backbone: nn.Module, num_classes: int, *, bins: Sequence[int] = (1, 2, 3, 6),
                 aux: bool = True, dropout: float = 0.1, freeze_backbone: bool = False, weights_source: str = "random",
                 head_channels: int = 512):
        super().__init__()
        self.stem = nn.Sequential(backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = (backbone.layer1, backbone.layer2, backbone.layer3,
                                                              backbone.layer4)
        self.ppm = PyramidPooling(2048, bins, reduction=None if head_channels == 512 else head_channels)
        self.head = _head(self.ppm.out_channels, head_channels, num_classes, dropout)
        self.aux_head = _head(1024, head_channels // 2, num_classes, dropout) if aux else None
        self.weights_source = weights_source
        self.freeze_backbone = bool(freeze_backbone)
        for p in self.backbone_parameters():
            p.requires_grad_(not self.freeze_backbone)

    def backbone_modules(self) -> list[nn.Module]:
        return [self.stem, self.layer1, self.layer2, self.layer3, self.layer4]

    def backbone_parameters(self):
        for m in self.backbone_modules():
            yield from m.parameters()

    def train(self, mode: bool = True) -> PSPNet:
        super().train(mode)
        if self.freeze_backbone:  # a frozen extractor keeps its batch-norm statistics too
            for m in self.backbone_modules():
                m.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        check_float_images(x, "PSPNet")
        if x.ndim != 4:
            raise ValueError(f"PSPNet expects images (N, C, H, W), got shape {tuple(x.shape)}")
        cin = self.stem[0].in_channels
        if x.shape[1] != cin:
            raise ValueError(f"PSPNet was built for {cin} input channel(s) (in_channels={cin}), got {x.shape[1]} "
                             f"(shape {tuple(x.shape)})")
        size = x.shape[-2:]
        f = self.layer2(self.layer1(self.stem(x)))
        f3 = self.layer3(f)
        f4 = self.layer4(f3)
        out = F.interpolate(self.head(self.ppm(f4)), size, mode="bilinear", align_corners=False)
        if self.training and self.aux_head is not None:
            return out, F.interpolate(self.aux_head(f3), size, mode="bilinear", align_corners=False)
        return out


def _resnet50(weights: str | os.PathLike | None, in_channels: int) -> tuple[nn.Module, str]:
    from torchvision.models import ResNet50_Weights, resnet50

    source = "random"
    net = resnet50(weights=None, replace_stride_with_dilation=[False, True, True])
    if weights is not None and weights != "imagenet":  # a backbone file (see helpers.models.pspnet.pretrain)
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"backbone_weights: no backbone file at {path}; give 'imagenet', None, or "
                                    "the path returned by pretrain_backbone()")
        state = torch.load(path, map_location="cpu", weights_only=True)
        missing, unexpected = net.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith("fc.") for k in missing):
            raise ValueError(f"backbone_weights: {path} is not a ResNet-50 backbone (missing "
                             f"{[k for k in missing if not k.startswith('fc.')][:3]}, unexpected {unexpected[:3]})")
        source = f"file:{path.parent.name}"
    elif weights == "imagenet":
        try:
            # torch.hub prints "Downloading: <url> to <cache path>" even without a progress bar.
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                state = ResNet50_Weights.IMAGENET1K_V2.get_state_dict(progress=False)
            net.load_state_dict(state)
            source = "imagenet"
        except Exception as exc:  # offline or blocked: say so through weights_source, keep random weights
            warnings.warn(f"ImageNet weights for ResNet-50 could not be loaded ({type(exc).__name__}); "
                          "the backbone starts from random weights", RuntimeWarning, stacklevel=3)
    if in_channels != 3:
        old = net.conv1
        conv = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        with torch.no_grad():
            if in_channels == 1:  # the grey image's response equals that of its RGB copy
                conv.weight.copy_(old.weight.sum(1, keepdim=True))
            else:
                conv.weight.copy_(old.weight.mean(1, keepdim=True).repeat(1, in_channels, 1, 1) * 3 / in_channels)
        net.conv1 = conv
    return net, source


def pspnet(num_classes: int, *, in_channels: int = 3, backbone_weights: str | None = "imagenet",
           freeze_backbone: bool | None = None, bins: Sequence[int] = (1, 2, 3, 6), aux: bool = True,
           dropout: float = 0.1, head_channels: int = 512) -> PSPNet:
    """Build PSPNet with a dilated ResNet-50 (output stride 8).

    Args:
        num_classes: output channels (21 for VOC).
        in_channels: image channels; the stem is adapted (see the module docstring).
        backbone_weights: ``"imagenet"`` (torchvision's weights, downloaded when possible; a
            ``RuntimeWarning`` and random weights otherwise), ``None`` (random), or the path of a
            backbone file in torchvision's ResNet-50 layout (``pretrain_backbone()["path"]``).
        freeze_backbone: ``None`` = freeze exactly when pretrained weights were loaded.
        bins: pyramid pooling grid sizes.
        aux: add the auxiliary head on ``layer3``.
        dropout: before each head's classifier.
        head_channels: width of the pyramid branches and of the head (the paper: 512; the aux head
            gets half). At 64 px on a CPU the 3 x 3 head convolution costs more than the backbone, so
            the course's ``lite`` profile narrows it.

    Returns:
        A :class:`PSPNet`; ``weights_source`` is ``"imagenet"``, ``"random"`` or ``"file:<folder>"``.

    Example:
        >>> m = pspnet(5, backbone_weights=None).eval()
        >>> m(torch.zeros(1, 3, 64, 64)).shape
        torch.Size([1, 5, 64, 64])
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    in_channels = check_positive_int(in_channels, "in_channels")
    is_file = isinstance(backbone_weights, os.PathLike) or (
        isinstance(backbone_weights, str) and backbone_weights.endswith((".pt", ".pth")))
    if not (backbone_weights is None or backbone_weights == "imagenet" or is_file):
        raise ValueError(f"backbone_weights must be 'imagenet', None or a backbone file's path (.pt), "
                         f"got {backbone_weights!r}")
    if freeze_backbone is not None and not isinstance(freeze_backbone, bool):
        raise ValueError(f"freeze_backbone must be True, False or None, got {freeze_backbone!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    backbone, source = _resnet50(backbone_weights, in_channels)
    freeze = (source != "random") if freeze_backbone is None else freeze_backbone
    head_channels = check_positive_int(head_channels, "head_channels", minimum=2)
    return PSPNet(backbone, num_classes, bins=bins, aux=aux, dropout=dropout, freeze_backbone=freeze,
                  weights_source=source, head_channels=head_channels)
