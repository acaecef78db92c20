"""The course's models as the benchmark trains them: :class:`ModelSpec` and :func:`model_specs`, each
notebook's model with its full training sizes, and the random batches of the right shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ModelSpec", "model_specs"]


# ----------------------------------------------------------------------------- models


@dataclass
class ModelSpec:
    """One model of the course as the benchmark trains it.

    ``build(quick, size)`` returns ``(model, loss_fn, optimizer_factory)`` for ``size`` px inputs: for torch
    models ``loss_fn(output, target)`` and ``optimizer_factory(params)``; for Keras models the ``loss`` and
    ``optimizer_factory()`` that ``model.compile`` takes. ``make_batch(quick, n, size, device)`` returns
    ``(x, y)`` on ``device`` (NCHW for torch models, NHWC for Keras models). Both get the sizes from
    :meth:`size`, so a spec states them once.
    """

    name: str
    framework: str  # "torch" or "keras"
    notebook: str
    batch: int
    image_size: int
    quick_batch: int
    quick_image_size: int
    build: Callable[[bool, int], tuple[Any, Any, Callable[[Any], Any]]]
    make_batch: Callable[[bool, int, int, Any], tuple[Any, Any]]
    description: str = ""

    def size(self, quick: bool) -> tuple[int, int]:
        return (self.quick_batch, self.quick_image_size) if quick else (self.batch, self.image_size)


def _gen(seed: int = 0):
    import torch

    return torch.Generator().manual_seed(seed)


def _images(n: int, c: int, s: int, device: Any, nhwc: bool = False):
    import torch

    x = torch.rand(n, c, s, s, generator=_gen(0))
    return (x.permute(0, 2, 3, 1).contiguous() if nhwc else x).to(device)


def _labels(n: int, s: int, classes: int, device: Any, dtype=None):
    import torch

    y = torch.randint(0, classes, (n, s, s), generator=_gen(1))
    return (y if dtype is None else y.to(dtype)).to(device)


def model_specs() -> list[ModelSpec]:
    """The models of the course with the notebooks' full training sizes (and toy sizes for ``--quick``).

    * ``residual_unet``: notebook 01's final model (depth 5, layer 7, 16 filters), 256 px, batch 32,
      momentum SGD with BCE + Dice (``train_segmenter``).
    * ``deeplabv3plus_xception``, ``deeplabv3plus_mobilenetv2``: notebook 01's comparison, 256 px,
      batch 32, random backbone weights (the committed run had no download either; speed is the same).
    * ``pspnet``: notebook 02, dilated ResNet-50, 8 classes, 256 px, batch 32, SGD, main + aux loss;
      the whole network trains (random weights: the backbone is not frozen, the slower case).
    * ``grouped_unet``: draft notebook 04, base 16, depth 4, 3 classes x 8 maps, 256 px, batch 4, Adam,
      CE + the two-image pixel-relation loss.
    * ``dcn``: notebook 05, width 32, kernels (4, 8, 16), 512 px, batch 8, Adam, the auxiliary-loss schedule.
    * ``filler_cnn``: notebook 03's C4F3 (32 filters, Dense 1024-256), 64 px, batch 128, Adam,
      sparse categorical cross-entropy.
    """
    import torch

    def adam(lr: float = 1e-3):
        return lambda params: torch.optim.Adam(params, lr=lr)

    def b_residual_unet(quick: bool, s: int):
        from helpers.papers.grain_boundary_unet.training import sgd
        from helpers.losses.keras_losses import bce_dice_loss
        from helpers.models.residual_unet import residual_unet

        kw = dict(depth=3, layers=3, filters=4) if quick else dict(depth=5, layers=7, filters=16)
        return residual_unet((s, s, 1), **kw), bce_dice_loss, lambda: sgd(0.05, 0.9, 1e-4)

    def b_deeplab(backbone: str):
        def build(quick: bool, s: int):
            from helpers.papers.grain_boundary_unet.training import sgd
            from helpers.losses.keras_losses import bce_dice_loss
            from helpers.models.deeplabv3plus import deeplabv3plus

            model = deeplabv3plus((s, s, 1), backbone=backbone, weights=None, aspp_filters=16 if quick else 256)
            return model, bce_dice_loss, lambda: sgd(0.05, 0.9, 1e-4)
        return build

    def binary_nhwc(quick: bool, n: int, s: int, device: Any):
        return _images(n, 1, s, device, nhwc=True), _labels(n, s, 2, device, torch.float32)[..., None]

    def b_filler(quick: bool, s: int):
        import keras

        from helpers.models.filler_cnn import filler_cnn

        kw = dict(filters=4, fc_scale=0.05) if quick else dict(filters=32, fc_scale=1.0)
        model = filler_cnn((s, s, 1), fc_layers=3, dropout=0.5, num_classes=3, input_mean=0.5, input_std=0.25, **kw)
        return model, "sparse_categorical_crossentropy", lambda: keras.optimizers.Adam(1e-3)

    def filler_batch(quick: bool, n: int, s: int, device: Any):
        return _images(n, 1, s, device, nhwc=True), torch.randint(0, 3, (n,), generator=_gen(1)).to(device)

    def b_pspnet(quick: bool, s: int):
        from helpers.losses import main_aux_loss
        from helpers.models.pspnet import pspnet

        model = pspnet(3 if quick else 8, backbone_weights=None, freeze_backbone=False)
        return model, main_aux_loss, lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)

    def pspnet_batch(quick: bool, n: int, s: int, device: Any):
        return _images(n, 3, s, device), _labels(n, s, 3 if quick else 8, device)

    def b_grouped(quick: bool, s: int):
        from helpers.models.grouped_unet import GroupedUNet
        from helpers.losses.pixel_relation import FewShotLoss

        kw = dict(base=4, depth=2, group_channels=2) if quick else dict(base=16, depth=4, group_channels=8)
        model = GroupedUNet(1, 3, return_features=True, **kw)
        return model, FewShotLoss(1.0, variant="two_image"), adam(1e-4)

    def grouped_batch(quick: bool, n: int, s: int, device: Any):
        return _images(n, 1, s, device), _labels(n, s, 3, device)

    def b_dcn(quick: bool, s: int):
        from helpers.losses.dcn import DCNLoss
        from helpers.models.dcn import dcn

        model = dcn(kernels=(4, 8, 16), width=4 if quick else 32)
        return model, DCNLoss(total_steps=1000), adam(1e-3)

    def dcn_batch(quick: bool, n: int, s: int, device: Any):
        return _images(n, 1, s, device), _labels(n, s, 2, device, torch.float32)

    lst = [
        ModelSpec("residual_unet", "keras", "01_grain_boundary_unet", 32, 256, 2, 32, b_residual_unet, binary_nhwc,
                  "residual U-Net, depth 5, layer 7, 16 filters; SGD, BCE + Dice"),
        ModelSpec("deeplabv3plus_xception", "keras", "01_grain_boundary_unet", 32, 256, 1, 80,
                  b_deeplab("xception"), binary_nhwc,
                  "DeepLabv3+ with Xception; SGD, BCE + Dice"),
        ModelSpec("deeplabv3plus_mobilenetv2", "keras", "01_grain_boundary_unet", 32, 256, 2, 32,
                  b_deeplab("mobilenetv2"), binary_nhwc,
                  "DeepLabv3+ with MobileNetV2; SGD, BCE + Dice"),
        ModelSpec("pspnet", "torch", "02_pspnet_augmentation", 32, 256, 2, 32, b_pspnet, pspnet_batch,
                  "PSPNet, dilated ResNet-50, 8 classes; SGD, main + 0.4 aux CE"),
        ModelSpec("filler_cnn", "keras", "03_filler_classification_hpo", 128, 64, 4, 32, b_filler, filler_batch,
                  "C4F3 (32 filters, Dense 1024-256); Adam, sparse CE"),
        ModelSpec("grouped_unet", "torch", "04_fewshot_pixel_relation", 4, 256, 2, 32, b_grouped, grouped_batch,
                  "grouped U-Net (base 16, depth 4, 3 x 8 maps); Adam, CE + two-image pixel relation"),
        ModelSpec("dcn", "torch", "05_dcn_kernel_tuning", 8, 512, 2, 32, b_dcn, dcn_batch,
                  "DCN width 32, kernels (4, 8, 16); Adam, fused + decaying auxiliary BCE"),
    ]
    return lst
