"""Notebook 02 (PSPNet, augmentation, Mixup/CutMix): the runs of the augmentation x optimiser grid."""
