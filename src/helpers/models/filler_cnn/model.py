"""C4Fk: four convolution blocks and k fully connected layers (the filler paper's Fig. 1 and Table 2).

The paper's Keras model (its Fig. 1) has four blocks of 3x3 convolution, ReLU and 2x2 max pooling
with 32, 64, 128 and 256 filters, then Dense 1024, Dropout 0.5, Dense 256, Dropout 0.5 and a
softmax over the classes. Its Table 2 varies the number of fully connected layers from 2 to 9
(C4F2 ... C4F9). We count the softmax layer among the k, so Fig. 1 is C4F3, and space the widths of
the k - 1 hidden layers geometrically from 1024 down to 256 (C4F2 has one hidden layer of 1024).
Written against ``keras`` only: it runs on the TensorFlow and the PyTorch backend.
"""

from __future__ import annotations

import keras
from keras import layers as L

from helpers.core.checks import check_positive_int


def fc_widths(fc_layers: int, first: int = 1024, last: int = 256) -> list[int]:
    """Widths of the hidden fully connected layers of C4F``fc_layers``.

    Example:
        >>> fc_widths(3), fc_widths(2), fc_widths(5)
        ([1024, 256], [1024], [1024, 645, 406, 256])
    """
    fc_layers = check_positive_int(fc_layers, "fc_layers", minimum=2)
    hidden = fc_layers - 1
    if hidden == 1:
        return [first]
    return [int(round(first * (last / first) ** (j / (hidden - 1)))) for j in range(hidden)]


def filler_cnn(input_shape: tuple[int, int, int] = (64, 64, 1), *, fc_layers: int = 3, filters: int = 32,
               dropout: float = 0.5, num_classes: int = 3, fc_scale: float = 1.0,
               input_mean: float | None = None, input_std: float | None = None) -> keras.Model:
    """Build C4F``fc_layers``.

    Args:
        input_shape: ``(H, W, C)``; H and W at least 16 (four poolings).
        fc_layers: fully connected layers including the softmax (the paper: 2..9).
        filters: filters of the first block, doubled in each of the next three (the paper: 32).
        dropout: after each hidden fully connected layer (the paper: 0.5).
        num_classes: classes (3: M-SBR, n-SBR, Rnd).
        fc_scale: multiplies the hidden widths (1024 .. 256), e.g. 0.25 for a quick CPU run.
        input_mean, input_std: when given, a first layer standardises the input with these training-set
            statistics, so the saved model takes raw slices. Low-contrast slices (filler ~0.8 on rubber
            ~0.25, most pixels rubber) barely train without it at the paper's learning rate.

    Returns:
        A ``keras.Model`` from images to class probabilities.

    Shown step by step in notebook 03, section 3: C4F3 written out layer by layer (the paper's Fig. 1),
    checked against this builder by layer shapes, parameter count and output on copied weights.

    Example:
        >>> m = filler_cnn((32, 32, 1), fc_layers=4, filters=4, fc_scale=0.05)
        >>> m.output_shape, sum(isinstance(l, keras.layers.Dense) for l in m.layers)
        ((None, 3), 4)
    """
    if len(input_shape) != 3 or min(input_shape[:2]) < 16 or not input_shape[2] >= 1:
        raise ValueError(f"input_shape must be (H, W, C) with H, W >= 16 and C >= 1, got {input_shape}")
    filters = check_positive_int(filters, "filters")
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if not fc_scale > 0:
        raise ValueError(f"fc_scale must be > 0, got {fc_scale}")
    widths = [max(2, int(round(w * fc_scale))) for w in fc_widths(fc_layers)]
    if (input_mean is None) != (input_std is None):
        raise ValueError("input_mean and input_std go together: give both or neither")
    if input_std is not None and not input_std > 0:
        raise ValueError(f"input_std must be > 0, got {input_std}")
    inputs = keras.Input(input_shape, name="slice")
    x = inputs
    if input_mean is not None:
        x = L.Normalization(mean=float(input_mean), variance=float(input_std) ** 2, name="standardise")(x)
    for i in range(4):
        x = L.Conv2D(filters * 2**i, 3, padding="same", activation="relu", name=f"conv{i + 1}")(x)
        x = L.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = L.Flatten(name="flatten")(x)
    for j, w in enumerate(widths):
        x = L.Dense(w, activation="relu", name=f"fc{j + 1}")(x)
        x = L.Dropout(dropout, name=f"dropout{j + 1}")(x)
    outputs = L.Dense(num_classes, activation="softmax", dtype="float32", name="class_probabilities")(x)
    return keras.Model(inputs, outputs, name=f"c4f{fc_layers}")
