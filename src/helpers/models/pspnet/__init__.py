"""PSPNet with a dilated ResNet-50 backbone (PyTorch), as in the augmentation paper's experiments."""

from helpers.models.pspnet.model import PSPNet, PyramidPooling, pspnet
from helpers.models.pspnet.pretrain import SOURCE_CLASSES, TARGET_CLASSES, backbone_state_dict, pretrain_backbone, verified_backbone

__all__ = ["PSPNet", "PyramidPooling", "pspnet", "SOURCE_CLASSES", "TARGET_CLASSES", "backbone_state_dict",
           "pretrain_backbone", "verified_backbone"]
