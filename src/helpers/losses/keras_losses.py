"""The segmentation losses of the Keras notebooks, written against ``keras`` and ``keras.ops`` only.

They run unchanged on the TensorFlow backend (the default) and on the PyTorch backend
(``KERAS_BACKEND=torch``, set before the first ``import keras``).

* :func:`bce_dice_loss` / :class:`BCEDiceLoss`: the grain-boundary paper's loss on
  **probabilities** (the model ends in a sigmoid, as Keras U-Nets usually do). It gives the
  same numbers as :func:`helpers.losses.bce_dice_loss` on ``sigmoid(logits)``.
* :func:`cldice_loss`, :func:`bce_dice_cldice_loss`: clDice (beyond the paper), which rewards
  predicted boundaries that keep the true network's topology.

Example:
    >>> import numpy as np
    >>> y_true = np.array([[1.0, 0.0]], dtype="float32")
    >>> y_pred = np.array([[0.5, 0.5]], dtype="float32")
    >>> # BCE = log 2; Dice = 1 - (2*0.5 + 1)/(1 + 1 + 1) = 1/3
    >>> round(float(bce_dice_loss(y_true, y_pred)[0]), 4)
    1.0265
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from helpers.core.checks import check_non_negative

__all__ = ["BCEDiceLoss", "bce_dice_cldice_loss", "bce_dice_loss", "cldice_loss", "soft_skeleton"]


def _check_shapes(y_true: Any, y_pred: Any) -> None:
    """Static checks only (a traced graph has no values to look at); None dims match anything."""
    st, sp = tuple(y_true.shape), tuple(y_pred.shape)
    if len(sp) < 2:
        raise ValueError(f"y_pred must have a batch axis first, at least 2-D, got shape {sp}")
    same = len(st) == len(sp) and all(a is None or b is None or a == b for a, b in zip(st, sp))
    if not same:
        hint = " (add the channel axis: y_true[..., None])" if len(st) == len(sp) - 1 and sp[-1] == 1 else ""
        raise ValueError(f"y_true and y_pred must have the same shape, got {st} and {sp}{hint}")
    dtype = keras.backend.standardize_dtype(y_pred.dtype)
    if "float" not in dtype:
        raise ValueError(f"y_pred must hold float probabilities (after a sigmoid), got dtype {dtype}")


@keras.saving.register_keras_serializable(package="helpers")
def bce_dice_loss(
    y_true: Any, y_pred: Any, bce_weight: float = 1.0, dice_weight: float = 1.0, smooth: float = 1.0
) -> Any:
    """Binary cross-entropy plus soft Dice per sample, on probabilities.

    ``bce_weight * mean(BCE) + dice_weight * (1 - (2 Σ y p + smooth) / (Σ y + Σ p + smooth))``,
    each sum and mean over every axis but the batch axis. Computed in float32 even when the
    model runs under the ``mixed_bfloat16`` policy. The BCE clips ``p`` to
    ``[epsilon, 1 - epsilon]`` as Keras' own BCE does; ``y_pred`` must therefore be
    probabilities, not logits (a value check cannot run inside a traced graph).

    Args:
        y_true: binary masks ``(N, H, W, 1)`` (or any ``(N, ...)``), values in ``[0, 1]``.
        y_pred: probabilities, same shape, float dtype.
        bce_weight: weight of the BCE term (>= 0).
        dice_weight: weight of the Dice term (>= 0).
        smooth: Dice smoothing (>= 0), as ``eps`` in :func:`helpers.losses.dice_loss`.

    Returns:
        ``(N,)`` float32 loss per sample (Keras averages it over the batch).

    Raises:
        ValueError: shapes differ, ``y_pred`` not float, no batch axis, negative weights.

    Example:
        >>> import numpy as np
        >>> y = np.ones((2, 4, 4, 1), "float32")
        >>> [round(float(v), 3) for v in bce_dice_loss(y, y)]  # perfect: BCE ~1e-7, Dice 0
        [0.0, 0.0]
    """
    bce_weight = check_non_negative(bce_weight, "bce_weight", minimum=0)
    dice_weight = check_non_negative(dice_weight, "dice_weight", minimum=0)
    smooth = check_non_negative(smooth, "smooth", minimum=0)
    y_true = ops.convert_to_tensor(y_true)
    y_pred = ops.convert_to_tensor(y_pred)
    _check_shapes(y_true, y_pred)
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    axes = tuple(range(1, len(y_pred.shape)))
    eps = keras.config.epsilon()
    p = ops.clip(y_pred, eps, 1.0 - eps)
    bce = -ops.mean(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p), axis=axes)
    inter = ops.sum(y_true * y_pred, axis=axes)
    denom = ops.sum(y_true, axis=axes) + ops.sum(y_pred, axis=axes)
    dice = 1.0 - (2.0 * inter + smooth) / (denom + smooth)
    return bce_weight * bce + dice_weight * dice


@keras.saving.register_keras_serializable(package="helpers")
class BCEDiceLoss(keras.losses.Loss):
    """Class form of :func:`bce_dice_loss`, serialisable with the model.

    Example:
        >>> import numpy as np
        >>> loss = BCEDiceLoss(bce_weight=1.0, dice_weight=1.0)
        >>> y_true = np.array([[1.0, 0.0]], "float32")
        >>> round(float(loss(y_true, np.array([[0.5, 0.5]], "float32"))), 4)
        1.0265
    """

    def __init__(self, bce_weight: float = 1.0, dice_weight: float = 1.0, smooth: float = 1.0,
                 name: str = "bce_dice_loss", reduction: str = "sum_over_batch_size", dtype: Any = None) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.bce_weight = check_non_negative(bce_weight, "bce_weight", minimum=0)
        self.dice_weight = check_non_negative(dice_weight, "dice_weight", minimum=0)
        self.smooth = check_non_negative(smooth, "smooth", minimum=0)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return bce_dice_loss(y_true, y_pred, self.bce_weight, self.dice_weight, self.smooth)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "bce_weight": self.bce_weight, "dice_weight": self.dice_weight,
                "smooth": self.smooth}


# ----------------------------------------------------------------------------- clDice (beyond the paper)


def _soft_erode(x: Any) -> Any:
    # Min-pooling as -max(-x), along each axis separately (a plus-shaped structuring element).
    a = -ops.max_pool(-x, pool_size=(3, 1), strides=1, padding="same")
    b = -ops.max_pool(-x, pool_size=(1, 3), strides=1, padding="same")
    return ops.minimum(a, b)


def _soft_dilate(x: Any) -> Any:
    return ops.max_pool(x, pool_size=(3, 3), strides=1, padding="same")


def soft_skeleton(x: Any, iterations: int = 10) -> Any:
    """Differentiable skeleton of soft masks ``(N, H, W, 1)`` in [0, 1] (Shit et al., CVPR 2021).

    Repeatedly erodes the mask and keeps what an opening (erosion then dilation) would remove:
    the thin centre of each structure. ``iterations`` should exceed half the widest structure.
    """
    x = ops.cast(ops.convert_to_tensor(x), "float32")
    if len(x.shape) != 4:
        raise ValueError(f"soft_skeleton expects (N, H, W, C) tensors, got shape {tuple(x.shape)}")
    skel = ops.relu(x - _soft_dilate(_soft_erode(x)))
    for _ in range(int(iterations)):
        x = _soft_erode(x)
        delta = ops.relu(x - _soft_dilate(_soft_erode(x)))
        skel = skel + ops.relu(delta - skel * delta)
    return skel


@keras.saving.register_keras_serializable(package="helpers")
def cldice_loss(y_true: Any, y_pred: Any, iterations: int = 10, smooth: float = 1.0) -> Any:
    """clDice loss per sample: 1 - harmonic mean of topology precision and sensitivity.

    Topology precision is the fraction of the predicted skeleton inside the true mask;
    sensitivity the fraction of the true skeleton inside the prediction. A gap in a thin line
    removes part of the true skeleton from the prediction, which this loss punishes much more
    than a line drawn slightly too thick.
    """
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    _check_shapes(y_true, y_pred)
    if len(y_pred.shape) != 4:
        raise ValueError(f"cldice_loss expects (N, H, W, 1) masks, got shape {tuple(y_pred.shape)}")
    axes = (1, 2, 3)
    skel_p, skel_t = soft_skeleton(y_pred, iterations), soft_skeleton(y_true, iterations)
    tprec = (ops.sum(skel_p * y_true, axis=axes) + smooth) / (ops.sum(skel_p, axis=axes) + smooth)
    tsens = (ops.sum(skel_t * y_pred, axis=axes) + smooth) / (ops.sum(skel_t, axis=axes) + smooth)
    return 1.0 - 2.0 * tprec * tsens / (tprec + tsens)


@keras.saving.register_keras_serializable(package="helpers")
def bce_dice_cldice_loss(y_true: Any, y_pred: Any, alpha: float = 0.5, iterations: int = 10) -> Any:
    """``(1 - alpha) * (BCE + Dice) + alpha * clDice``: the paper's loss plus a topology term."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return (1.0 - alpha) * bce_dice_loss(y_true, y_pred) + alpha * cldice_loss(y_true, y_pred, iterations)
