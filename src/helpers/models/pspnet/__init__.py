"""PSPNet with a dilated ResNet-50 backbone (PyTorch), as in the augmentation paper's experiments."""

from .model import PSPNet, PyramidPooling, pspnet

__all__ = ["PSPNet", "PyramidPooling", "pspnet"]
