"""U-Net with element-wise *add* skips and residual conv blocks (Kurino et al., Figs. 6-7), in Keras 3.

Written against ``keras`` only, so it builds on the TensorFlow backend and on ``KERAS_BACKEND=torch``.

How the paper's ``layer`` maps to convolutions (Fig. 7): every level has ``layers`` 3x3
convolutions. For ``layers == 2`` they are two plain conv-BN-ReLU layers (Fig. 7a). For
``layers > 2`` the first convolution sets the level's width and the remaining ``layers - 1``
form the residual branch ``F(x)``; the level outputs ``ReLU(F(x) + x)`` (Fig. 7b), where ``x``
is the first convolution's output. ``residual=False`` keeps the same convolutions but drops
the ``+ x`` (the paper's "no skip connection" arm of Fig. 8).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers as L

from helpers.core.checks import check_choice, check_positive_int


# Batch-norm moving averages follow the batch statistics with a time constant of 1 / (1 - momentum)
# steps. Keras' default 0.99 (100 steps) suits long runs; a sweep of 12 epochs of 100 images at batch 32
# is only 48 steps, after which 0.99 still leaves 60 % of the initial statistics in the averages and the
# model predicts badly at inference. 0.9 (10 steps) follows the weights in any of the course's runs.
BN_MOMENTUM = 0.9


def _conv_bn_relu(x, filters: int, name: str, relu: bool = True):
    x = L.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return L.Activation("relu", name=f"{name}_relu")(x) if relu else x


def residual_conv_block(x, filters: int, layers: int, residual: bool, name: str):
    """One level: ``layers`` convolutions, with an identity skip around the last ``layers - 1``."""
    x = _conv_bn_relu(x, filters, f"{name}_c1")
    if layers == 1:
        return x
    if layers == 2:  # Fig. 7a: plain convolutions
        return _conv_bn_relu(x, filters, f"{name}_c2")
    shortcut = x
    for j in range(2, layers + 1):
        x = _conv_bn_relu(x, filters, f"{name}_c{j}", relu=j < layers)
    if residual:
        x = L.Add(name=f"{name}_residual_add")([x, shortcut])
    return L.Activation("relu", name=f"{name}_out")(x)


def residual_unet(input_shape: tuple[int, int, int] = (256, 256, 1), *, depth: int = 4, layers: int = 2,
                  filters: int = 16, skip: str = "add", residual: bool = True, num_classes: int = 1,
                  activation: str | None = None, name: str | None = None) -> keras.Model:
    """Build the paper's U-Net: ``depth`` levels of ``layers`` convolutions, add (or concat) skips.

    Args:
        input_shape: ``(H, W, C)``; H and W must be divisible by ``2**(depth - 1)``.
        depth: number of resolution levels (the paper: 2..5; depth 4 is Fig. 6).
        layers: convolutions per level (the paper's ``layer``, 2..7), see the module docstring.
        filters: filters of the first level, doubled at each level down (the paper: 16).
        skip: ``"add"`` merges decoder and encoder features element-wise (the paper),
            ``"concat"`` concatenates them (the original U-Net).
        residual: keep the identity skip inside blocks of ``layers > 2`` (Fig. 8 compares both).
        num_classes: output channels; 1 for the boundary mask.
        activation: output activation; defaults to sigmoid for one class, softmax otherwise.
        name: model name; defaults to ``residual_unet_d{depth}_l{layers}``.

    Returns:
        A ``keras.Model`` mapping ``(N, H, W, C)`` images to ``(N, H, W, num_classes)`` probabilities.

    Shown step by step in notebook 01, section 2: one residual block and one add skip in plain Keras
    layers, checked against this builder on the same weights.

    Example:
        >>> m = residual_unet((64, 64, 1), depth=3, layers=3, filters=4)
        >>> m.output_shape
        (None, 64, 64, 1)
    """
    if len(input_shape) != 3 or not all(
            d is None and i < 2 or isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1
            for i, d in enumerate(input_shape)):
        raise ValueError(f"input_shape must be (H, W, C) of positive integers (H, W may be None), got {input_shape}")
    depth = check_positive_int(depth, "depth")
    if depth > 6:
        raise ValueError(f"depth must be in [1, 6], got {depth}")
    layers = check_positive_int(layers, "layers")
    filters = check_positive_int(filters, "filters")
    num_classes = check_positive_int(num_classes, "num_classes")
    check_choice(skip, "skip", ("add", "concat"))
    h, w = input_shape[:2]
    m = 2 ** (depth - 1)
    if h is not None and (h % m or w % m):
        raise ValueError(f"depth {depth} needs H and W divisible by {m}, got {h}x{w}")
    activation = activation or ("sigmoid" if num_classes == 1 else "softmax")

    inputs = keras.Input(input_shape, name="image")
    x, skips = inputs, []
    for i in range(depth):
        if i > 0:
            x = L.MaxPooling2D(2, name=f"enc{i}_pool")(x)
        x = residual_conv_block(x, filters * 2**i, layers, residual, name=f"enc{i}")
        skips.append(x)
    x = skips.pop()
    for i in reversed(range(depth - 1)):
        width = filters * 2**i
        # Up-sample and bring the decoder to the encoder's width, so the two can be added.
        x = L.Conv2DTranspose(width, 2, strides=2, padding="same", name=f"dec{i}_up")(x)
        if skip == "add":
            x = L.Add(name=f"dec{i}_skip_add")([x, skips.pop()])
        else:
            x = L.Concatenate(name=f"dec{i}_skip_concat")([x, skips.pop()])
        x = residual_conv_block(x, width, layers, residual, name=f"dec{i}")
    outputs = L.Conv2D(num_classes, 1, name="head")(x)
    # The last activation in float32: keeps a mixed-precision model's probabilities exact.
    outputs = L.Activation(activation, dtype="float32", name="probabilities")(outputs)
    return keras.Model(inputs, outputs, name=name or f"residual_unet_d{depth}_l{layers}")
