"""Every loss of the course, in one place.

=========================  ==============================================================
module                     what
=========================  ==============================================================
``segmentation``           Dice, BCE + Dice (paper 1), soft-target cross entropy (Mixup/CutMix,
                           paper 2), ``main_aux_loss`` (PSPNet's ``CE + 0.4 CE(aux)``); PyTorch
``pixel_relation``         the few-shot pixel-relation (cosine similarity) loss of paper 4; PyTorch
``dcn``                    the Deep Contextual Network's fused + decaying auxiliary loss (paper 5)
``keras_losses``           BCE + Dice and clDice for the Keras notebooks (01, 03); Keras 3
=========================  ==============================================================

The PyTorch names are importable from ``helpers.losses`` directly (``from helpers.losses import
dice_loss``); each submodule is imported when one of its names is first used, so a Keras notebook
that imports ``helpers.losses.keras_losses`` never loads PyTorch.
"""

from importlib import import_module
from typing import Any

_HOME = {
    **dict.fromkeys(("dice_loss", "bce_dice_loss", "soft_target_cross_entropy", "DiceLoss", "BCEDiceLoss",
                     "SoftTargetCrossEntropy", "check_class_target", "segmentation_cross_entropy",
                     "main_aux_loss"), "segmentation"),
    **dict.fromkeys(("VARIANTS", "ANCHORS", "sample_anchors", "pixel_relation_loss", "PixelRelationLoss",
                     "fewshot_loss", "FewShotLoss"), "pixel_relation"),
    **dict.fromkeys(("aux_weight_schedule", "dcn_loss", "DCNLoss"), "dcn"),
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
