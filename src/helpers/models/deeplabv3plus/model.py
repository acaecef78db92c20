"""DeepLabv3+ in Keras 3, the comparison network of the grain-boundary paper.

Encoder: a ``keras.applications`` backbone (Xception or MobileNetV2) read at output stride 16
for the high-level features and stride 4 for the low-level ones. Atrous spatial pyramid pooling
(ASPP: a 1x1 convolution, three 3x3 atrous convolutions with rates 6, 12, 18 and image-level
pooling), then the decoder: the ASPP output upsampled x4, concatenated with a 48-channel
projection of the low-level features, two 3x3 convolutions, and bilinear upsampling to the input.

Grey images are repeated to three channels and scaled to [-1, 1], the input both backbones
were trained on. ImageNet weights are used when they can be downloaded; without a network the
backbone starts from random weights, and ``model.weights_source`` says which one was used
(check it: a backbone trained from scratch on a hundred images is a different experiment).
"""

from __future__ import annotations

import warnings

import keras
from keras import layers as L

from helpers.core.checks import check_choice, check_positive_int

# (low-level feature layer at stride 4, high-level feature layer at stride 16) for each backbone.
FEATURE_LAYERS = {
    "mobilenetv2": ("block_3_depthwise_relu", "block_13_expand_relu"),
    "xception": ("block3_sepconv2_bn", "block13_sepconv2_bn"),
}


def _backbone(name: str, shape: tuple[int, int, int], weights: str | None) -> tuple[keras.Model, str]:
    factory = {"mobilenetv2": keras.applications.MobileNetV2, "xception": keras.applications.Xception}[name]
    with warnings.catch_warnings():
        # keras.applications warns that ImageNet weights of other input sizes are used: expected here.
        warnings.simplefilter("ignore", UserWarning)
        if weights is not None:
            try:
                return factory(input_shape=shape, include_top=False, weights=weights), weights
            except Exception:  # offline, or a blocked download: train from scratch; weights_source says so
                pass
        return factory(input_shape=shape, include_top=False, weights=None), "random"


def _conv_bn_relu(x, filters: int, kernel: int, name: str, dilation: int = 1, momentum: float = 0.9):
    x = L.Conv2D(filters, kernel, padding="same", dilation_rate=dilation, use_bias=False, name=f"{name}_conv")(x)
    x = L.BatchNormalization(momentum=momentum, name=f"{name}_bn")(x)
    return L.Activation("relu", name=f"{name}_relu")(x)


def deeplabv3plus(input_shape: tuple[int, int, int] = (256, 256, 1), *, backbone: str = "mobilenetv2",
                  weights: str | None = "imagenet", num_classes: int = 1, activation: str | None = None,
                  aspp_filters: int = 256, bn_momentum: float = 0.9) -> keras.Model:
    """Build DeepLabv3+ for ``input_shape`` images.

    Args:
        input_shape: ``(H, W, C)`` with ``C`` 1 or 3; H and W divisible by 16 and at least 32
            (Xception needs at least 71).
        backbone: ``"mobilenetv2"`` or ``"xception"``.
        weights: ``"imagenet"`` (downloaded when possible) or ``None`` (random initialisation).
        num_classes: output channels; 1 for a binary mask.
        activation: defaults to sigmoid for one class, softmax otherwise.
        aspp_filters: width of the ASPP and decoder (256 in the paper of Chen et al.).
        bn_momentum: momentum of every batch-norm layer, the backbone's included. Keras'
            MobileNetV2 uses 0.999, a time constant of 1000 steps made for ImageNet-length runs:
            after the few hundred steps of training on a hundred images, the moving statistics are
            still mostly their initial values and the model predicts nothing at inference (its
            batch-statistics output is fine). 0.9 follows the weights within ten steps.

    Returns:
        A ``keras.Model`` with ``(N, H, W, num_classes)`` probabilities and an attribute
        ``weights_source`` (``"imagenet"`` or ``"random"``).

    Example:
        >>> m = deeplabv3plus((64, 64, 1), backbone="mobilenetv2", weights=None)
        >>> m.output_shape, m.weights_source
        ((None, 64, 64, 1), 'random')
    """
    check_choice(backbone, "backbone", tuple(FEATURE_LAYERS))
    check_choice(weights, "weights", ("imagenet", None))
    if isinstance(bn_momentum, bool) or not isinstance(bn_momentum, (int, float)) or not 0 <= bn_momentum < 1:
        raise ValueError(f"bn_momentum must be a number in [0, 1), got {bn_momentum!r}")
    num_classes = check_positive_int(num_classes, "num_classes")
    if len(input_shape) != 3 or input_shape[2] not in (1, 3):
        raise ValueError(f"input_shape must be (H, W, 1) or (H, W, 3), got {input_shape}")
    h, w = int(input_shape[0]), int(input_shape[1])
    minimum = 71 if backbone == "xception" else 32
    if h % 16 or w % 16 or min(h, w) < minimum:
        raise ValueError(f"DeepLabv3+ with {backbone} needs H and W divisible by 16 and >= {minimum}, got {h}x{w}")
    activation = activation or ("sigmoid" if num_classes == 1 else "softmax")

    inputs = keras.Input(input_shape, name="image")
    x = inputs if input_shape[2] == 3 else L.Concatenate(name="grey_to_rgb")([inputs, inputs, inputs])
    x = L.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(x)
    base, source = _backbone(backbone, (h, w, 3), weights)
    for layer in base.layers:
        if isinstance(layer, L.BatchNormalization):
            layer.momentum = float(bn_momentum)
    low_name, high_name = FEATURE_LAYERS[backbone]
    encoder = keras.Model(base.input, [base.get_layer(low_name).output, base.get_layer(high_name).output],
                          name=f"{backbone}_encoder")
    low, high = encoder(x)
    # Xception's valid convolutions leave odd sizes: resize both maps to exact strides 4 and 16.
    low = L.Resizing(h // 4, w // 4, interpolation="bilinear", name="low_to_stride4")(low)
    high = L.Resizing(h // 16, w // 16, interpolation="bilinear", name="high_to_stride16")(high)

    pooled = L.GlobalAveragePooling2D(keepdims=True, name="aspp_pool")(high)
    pooled = _conv_bn_relu(pooled, aspp_filters, 1, "aspp_pool_proj", momentum=bn_momentum)
    pooled = L.UpSampling2D((h // 16, w // 16), interpolation="bilinear", name="aspp_pool_up")(pooled)
    branches = [_conv_bn_relu(high, aspp_filters, 1, "aspp_1x1", momentum=bn_momentum)]
    branches += [_conv_bn_relu(high, aspp_filters, 3, f"aspp_rate{r}", dilation=r, momentum=bn_momentum)
                 for r in (6, 12, 18)]
    y = L.Concatenate(name="aspp_concat")([pooled, *branches])
    y = _conv_bn_relu(y, aspp_filters, 1, "aspp_out", momentum=bn_momentum)
    y = L.UpSampling2D(4, interpolation="bilinear", name="aspp_up4")(y)
    low = _conv_bn_relu(low, 48, 1, "low_proj", momentum=bn_momentum)
    y = L.Concatenate(name="decoder_concat")([y, low])
    y = _conv_bn_relu(y, aspp_filters, 3, "decoder_1", momentum=bn_momentum)
    y = _conv_bn_relu(y, aspp_filters, 3, "decoder_2", momentum=bn_momentum)
    y = L.UpSampling2D(4, interpolation="bilinear", name="decoder_up4")(y)
    y = L.Conv2D(num_classes, 1, name="head")(y)
    outputs = L.Activation(activation, dtype="float32", name="probabilities")(y)
    model = keras.Model(inputs, outputs, name=f"deeplabv3plus_{backbone}")
    model.weights_source = source
    return model
