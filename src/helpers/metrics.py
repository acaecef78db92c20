"""Segmentation metrics for NumPy arrays and PyTorch tensors alike.

Everything goes through one confusion matrix, so IoU, Dice and pixel accuracy always
agree with each other and with :func:`sklearn.metrics.confusion_matrix`:

* ``cm[i, j]`` counts pixels whose **true** class is ``i`` and **predicted** class is ``j``
  (rows = truth, columns = prediction, the scikit-learn convention).
* ``IoU_c = TP / (TP + FP + FN)``, ``Dice_c = 2 TP / (2 TP + FP + FN)``,
  pixel accuracy ``= trace(cm) / sum(cm)``.

**Empty-class rule** (one rule for every function here): a class that appears neither in
the target nor in the prediction has no pixels to score, so its per-class IoU/Dice is
``NaN`` and it is left out of the mean (a NaN-ignoring mean). A class that is absent from
the target but predicted somewhere scores ``0`` (every predicted pixel is a false
positive). A mean over classes that are all ``NaN`` is ``NaN``. The binary functions
follow the same rule: both masks empty gives ``NaN``, not ``1``, so an empty image
neither rewards nor punishes a model when scores are averaged with ``nanmean``.

Backends: NumPy in gives NumPy arrays / Python floats out; a torch tensor in gives torch
tensors out, on the same device. torch is imported only when a tensor is passed. With
``validate=False`` the accumulation path does no host synchronisation at all (a GPU
training loop can call it every step); with the default ``validate=True`` the value
checks (class range, binary values) read one min/max back from the device.

Example:
    >>> import numpy as np
    >>> target = np.array([[0, 0], [1, 1]])
    >>> pred = np.array([[0, 1], [1, 1]])
    >>> confusion_matrix(target, pred, num_classes=2)
    array([[1, 1],
           [0, 2]])
    >>> scores = segmentation_scores(target, pred, num_classes=2)
    >>> round(scores["mean_iou"], 4)  # (1/2 + 2/3) / 2
    0.5833
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from helpers.core.checks import _is_torch, check_integer_labels, check_ndim, check_positive_int, check_same_shape

__all__ = [
    "confusion_matrix",
    "iou_per_class",
    "mean_iou",
    "dice_per_class",
    "mean_dice",
    "pixel_accuracy",
    "segmentation_scores",
    "binary_iou",
    "binary_dice",
    "ConfusionMatrix",
]

# (H, W) one image, (N, H, W) a batch, (N, D, H, W) a batch of volumes; 1-D for flat labels.
_LABEL_NDIMS = (1, 2, 3, 4)
_LABEL_LAYOUT = "(H, W), (N, H, W) or (N, D, H, W) of class indices"


# ----------------------------------------------------------------------------- helpers


def _as_array(x: Any, name: str) -> Any:
    """Leave tensors and arrays alone; turn lists/tuples into NumPy arrays."""
    if isinstance(x, np.ndarray) or _is_torch(x):
        return x
    if isinstance(x, (list, tuple)):
        return np.asarray(x)
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")


def _same_backend(a: Any, b: Any, name_a: str, name_b: str) -> tuple[Any, Any]:
    """If either input is a tensor, make both tensors on one device (no silent device hop)."""
    ta, tb = _is_torch(a), _is_torch(b)
    if ta == tb:
        if ta and a.device != b.device:
            raise ValueError(f"{name_a} and {name_b} must be on the same device, got {a.device} and {b.device}")
        return a, b
    import torch

    if ta:
        return a, torch.as_tensor(b, device=a.device)
    return torch.as_tensor(a, device=b.device), b


def _check_ignore_index(ignore_index: Any) -> int | None:
    if ignore_index is None:
        return None
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise ValueError(f"ignore_index must be an integer or None, got {ignore_index!r}")
    return int(ignore_index)


def _check_labels(target: Any, pred: Any, num_classes: int, ignore_index: int | None, validate: bool) -> None:
    check_ndim(target, "target", _LABEL_NDIMS, _LABEL_LAYOUT)
    check_ndim(pred, "pred", _LABEL_NDIMS, _LABEL_LAYOUT)
    if pred.ndim == target.ndim + 1 and tuple(pred.shape[2:]) == tuple(target.shape[1:]):
        # The most common slip: passing (N, C, H, W) scores instead of (N, H, W) labels.
        raise ValueError(
            f"pred must be class indices with the same shape as target {tuple(target.shape)}, got "
            f"{tuple(pred.shape)}, which looks like per-class scores: take pred.argmax(1) first"
        )
    check_same_shape(target, pred, "target", "pred")
    # dtype checks are free; the range check reads min/max back, so only when validating.
    check_integer_labels(target, "target", num_classes if validate else None, ignore_index)
    check_integer_labels(pred, "pred", num_classes if validate else None)  # a prediction is never ignored


def _div(num: Any, den: Any) -> Any:
    """num / den with 0/0 -> NaN and no warnings, for arrays or tensors."""
    if _is_torch(num):
        import torch

        dtype = torch.float32 if num.device.type == "mps" else torch.float64  # MPS has no float64
        num, den = num.to(dtype), den.to(dtype)
        return torch.where(den > 0, num / den.clamp_min(1), torch.full_like(num, float("nan")))
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out if out.ndim else float(out)


def _nanmean(x: Any) -> Any:
    """Mean over the non-NaN entries; NaN (not a warning) when every entry is NaN."""
    if _is_torch(x):
        import torch

        return torch.nanmean(x)
    ok = ~np.isnan(x)
    return float(x[ok].mean()) if ok.any() else math.nan


def _check_cm(cm: Any) -> Any:
    cm = _as_array(cm, "cm")
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] < 1:
        raise ValueError(f"cm must be a square (C, C) confusion matrix with C >= 1, got shape {tuple(cm.shape)}")
    if not _is_torch(cm) or cm.device.type == "cpu":  # free on the host; a GPU matrix is trusted (no sync)
        lo = float(cm.min())
        if not lo >= 0 or not math.isfinite(float(cm.max())):
            raise ValueError(f"cm must hold non-negative finite pixel counts, found values in "
                             f"[{lo:.4g}, {float(cm.max()):.4g}]")
    return cm


def _diag_sums(cm: Any) -> tuple[Any, Any, Any]:
    """True positives, true counts per class (rows), predicted counts per class (columns)."""
    if _is_torch(cm):
        return cm.diagonal(), cm.sum(1), cm.sum(0)
    return np.diagonal(cm), cm.sum(1), cm.sum(0)


# ----------------------------------------------------------------------------- confusion matrix


def confusion_matrix(
    target: Any, pred: Any, num_classes: int, ignore_index: int | None = None, validate: bool = True
) -> Any:
    """Count (true class, predicted class) pairs over all pixels.

    Vectorised as one ``bincount`` of ``target * C + pred``; on a tensor it uses
    ``scatter_add_`` into a fixed-size buffer, which (unlike ``torch.bincount`` on CUDA)
    never reads back to the host, and ignored pixels go to a spare bin instead of being
    removed with boolean indexing (which would sync).

    Args:
        target: true class indices, integer dtype, shape (H, W), (N, H, W) or (N, D, H, W).
        pred: predicted class indices, same shape and an integer dtype (take ``argmax`` of
            the logits over the class axis first).
        num_classes: number of classes ``C`` (>= 1).
        ignore_index: label in ``target`` whose pixels are left out (e.g. 255 for VOC
            borders); ``pred`` must still hold valid classes everywhere.
        validate: check that every label lies in ``[0, C)``. With ``False`` nothing is read
            back from the device and out-of-range labels are silently dropped.

    Returns:
        ``(C, C)`` int64 counts, rows = true class, columns = predicted class: a NumPy
        array for NumPy input, a tensor on the input's device for tensor input.

    Raises:
        ValueError: wrong ndim, shapes differ, float labels, labels outside ``[0, C)``,
            ``num_classes < 1``.

    Example:
        >>> import numpy as np
        >>> confusion_matrix(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2]), num_classes=3)
        array([[1, 0, 0],
               [0, 0, 1],
               [0, 0, 2]])
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    ignore_index = _check_ignore_index(ignore_index)
    target, pred = _same_backend(_as_array(target, "target"), _as_array(pred, "pred"), "target", "pred")
    _check_labels(target, pred, num_classes, ignore_index, validate)
    c = num_classes
    if _is_torch(target):
        import torch

        t = target.reshape(-1).long()
        p = pred.reshape(-1).long()
        valid = (t >= 0) & (t < c) & (p >= 0) & (p < c)
        if ignore_index is not None:
            valid &= t != ignore_index
        idx = torch.where(valid, t * c + p, torch.full_like(t, c * c))  # bin c*c collects the rest
        counts = torch.zeros(c * c + 1, dtype=torch.int64, device=t.device)
        counts.scatter_add_(0, idx, torch.ones_like(idx))
        return counts[: c * c].reshape(c, c)
    t = target.reshape(-1).astype(np.int64)
    p = pred.reshape(-1).astype(np.int64)
    valid = (t >= 0) & (t < c) & (p >= 0) & (p < c)
    if ignore_index is not None:
        valid &= t != ignore_index
    return np.bincount(t[valid] * c + p[valid], minlength=c * c).reshape(c, c).astype(np.int64)


def iou_per_class(cm: Any) -> Any:
    """Intersection over union of each class, ``TP / (TP + FP + FN)``.

    Args:
        cm: ``(C, C)`` confusion matrix from :func:`confusion_matrix` (rows = truth).

    Returns:
        ``(C,)`` float64 IoU per class (float32 on Apple MPS). A class absent from both
        target and prediction is ``NaN``; a class predicted but absent from the target is 0.

    Example:
        >>> import numpy as np
        >>> iou_per_class(np.array([[1, 1], [0, 2]]))  # class 0: 1/(1+1), class 1: 2/(2+1)
        array([0.5       , 0.66666667])
        >>> iou_per_class(np.array([[3, 0, 0], [0, 0, 0], [0, 0, 1]]))  # class 1 never seen
        array([ 1., nan,  1.])
    """
    cm = _check_cm(cm)
    tp, true_n, pred_n = _diag_sums(cm)
    return _div(tp, true_n + pred_n - tp)


def dice_per_class(cm: Any) -> Any:
    """Dice (F1) of each class, ``2 TP / (2 TP + FP + FN)``; same empty-class rule as IoU.

    Example:
        >>> import numpy as np
        >>> dice_per_class(np.array([[1, 1], [0, 2]]))  # 2*1/(2+1+0), 2*2/(4+0+1)
        array([0.66666667, 0.8       ])
    """
    cm = _check_cm(cm)
    tp, true_n, pred_n = _diag_sums(cm)
    return _div(2 * tp, true_n + pred_n)


def mean_iou(cm: Any) -> Any:
    """Mean IoU over the classes that occur in target or prediction (NaN classes skipped).

    Returns:
        A Python float for a NumPy matrix, a 0-d tensor for a tensor; ``NaN`` if no class
        occurs at all (an empty matrix).

    Example:
        >>> import numpy as np
        >>> round(mean_iou(np.array([[1, 1], [0, 2]])), 4)
        0.5833
    """
    return _nanmean(iou_per_class(cm))


def mean_dice(cm: Any) -> Any:
    """Mean Dice over the classes that occur (NaN classes skipped); see :func:`mean_iou`.

    Example:
        >>> import numpy as np
        >>> round(mean_dice(np.array([[1, 1], [0, 2]])), 4)
        0.7333
    """
    return _nanmean(dice_per_class(cm))


def pixel_accuracy(cm: Any) -> Any:
    """Fraction of counted pixels whose class is right, ``trace(cm) / sum(cm)`` (NaN if none).

    Example:
        >>> import numpy as np
        >>> pixel_accuracy(np.array([[1, 1], [0, 2]]))
        0.75
    """
    cm = _check_cm(cm)
    tp, _, _ = _diag_sums(cm)
    return _div(tp.sum(), cm.sum())


def _scores_from_cm(cm: Any) -> dict[str, Any]:
    iou, dice = iou_per_class(cm), dice_per_class(cm)
    return {
        "iou_per_class": iou,
        "mean_iou": _nanmean(iou),
        "dice_per_class": dice,
        "mean_dice": _nanmean(dice),
        "pixel_accuracy": pixel_accuracy(cm),
    }


def segmentation_scores(
    target: Any, pred: Any, num_classes: int, ignore_index: int | None = None, validate: bool = True
) -> dict[str, Any]:
    """IoU, Dice and pixel accuracy of a predicted label map in one call.

    Args:
        target, pred, num_classes, ignore_index, validate: as in :func:`confusion_matrix`.

    Returns:
        ``{"iou_per_class", "mean_iou", "dice_per_class", "mean_dice", "pixel_accuracy"}``;
        per-class entries are ``(C,)`` arrays (tensors for tensor input), the others floats
        (0-d tensors). Empty-class rule as in the module docstring.

    Example:
        >>> import numpy as np
        >>> s = segmentation_scores(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), num_classes=3)
        >>> s["iou_per_class"]  # class 2 appears nowhere -> NaN, skipped by the mean
        array([0.5       , 0.66666667,        nan])
        >>> round(s["mean_iou"], 4), s["pixel_accuracy"]
        (0.5833, 0.75)
    """
    return _scores_from_cm(confusion_matrix(target, pred, num_classes, ignore_index, validate))


# ----------------------------------------------------------------------------- binary masks


def _binary_counts(target: Any, pred: Any, threshold: float, validate: bool) -> tuple[Any, Any, Any]:
    """Foreground intersection, |target|, |pred| after checks and thresholding."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    target, pred = _same_backend(_as_array(target, "target"), _as_array(pred, "pred_prob_or_mask"),
                                 "target", "pred_prob_or_mask")
    check_ndim(target, "target", (1, 2, 3, 4, 5), "(H, W), (N, H, W) or (N, 1, H, W) mask")
    check_same_shape(target, pred, "target", "pred_prob_or_mask")
    torch_in = _is_torch(target)
    if torch_in:
        import torch

        t_float, p_float = target.is_floating_point(), pred.is_floating_point()
    else:
        t_float = np.issubdtype(target.dtype, np.floating)
        p_float = np.issubdtype(pred.dtype, np.floating)
        if not (t_float or np.issubdtype(target.dtype, np.integer) or target.dtype == bool):
            raise ValueError(f"target must be a binary mask (bool, integer or float 0/1), got dtype {target.dtype}")
    if validate:
        binary = ((target == 0) | (target == 1)).all()
        if not bool(binary):
            raise ValueError("target must be a binary mask holding only 0 and 1 (or False/True)")
        if p_float:
            empty = (pred.numel() if torch_in else pred.size) == 0
            lo, hi = (0.0, 0.0) if empty else (float(pred.min()), float(pred.max()))
            if not (0 <= lo and hi <= 1):  # also catches NaN
                raise ValueError(
                    f"pred_prob_or_mask must hold probabilities in [0, 1], found values in [{lo:.4g}, {hi:.4g}]; "
                    "apply a sigmoid to logits first"
                )
        elif not bool(((pred == 0) | (pred == 1)).all()):
            raise ValueError("pred_prob_or_mask as an integer/bool mask must hold only 0 and 1")
    # Same rule as keras.metrics.BinaryIoU: foreground where probability >= threshold.
    p = pred >= threshold if p_float else pred != 0
    t = target != 0
    if torch_in:
        return (t & p).sum(), t.sum(), p.sum()
    return np.count_nonzero(t & p), np.count_nonzero(t), np.count_nonzero(p)


def binary_iou(target: Any, pred_prob_or_mask: Any, threshold: float = 0.5, validate: bool = True) -> Any:
    """Foreground IoU of binary masks, pooled over every pixel of the batch.

    Args:
        target: binary mask (bool, integer or float holding 0/1), any shape.
        pred_prob_or_mask: probabilities in ``[0, 1]`` (float; foreground where
            ``>= threshold``, as in :class:`keras.metrics.BinaryIoU`) or a 0/1 mask, same shape.
        threshold: probability cut-off in ``[0, 1]``.
        validate: check the values (binary target, probabilities in ``[0, 1]``); costs one
            read-back per call on a GPU.

    Returns:
        ``|T ∩ P| / |T ∪ P|`` as a float (0-d tensor for tensors). Both masks empty gives
        ``NaN`` (the multi-class empty-class rule), so an empty image does not count.

    Raises:
        ValueError: shapes differ, non-binary target, probabilities outside ``[0, 1]``
            (e.g. logits), threshold outside ``[0, 1]``.

    Example:
        >>> import numpy as np
        >>> t = np.array([[1, 1, 0, 0]])
        >>> binary_iou(t, np.array([[0.9, 0.2, 0.7, 0.1]]))  # 1 shared / 3 in the union
        0.3333333333333333
        >>> binary_iou(np.zeros(4, int), np.zeros(4))
        nan
    """
    inter, nt, npred = _binary_counts(target, pred_prob_or_mask, threshold, validate)
    return _div(inter, nt + npred - inter)


def binary_dice(target: Any, pred_prob_or_mask: Any, threshold: float = 0.5, validate: bool = True) -> Any:
    """Foreground Dice ``2|T ∩ P| / (|T| + |P|)`` of binary masks; see :func:`binary_iou`.

    Example:
        >>> import numpy as np
        >>> binary_dice(np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.7, 0.1]))  # 2*1/(2+2)
        0.5
    """
    inter, nt, npred = _binary_counts(target, pred_prob_or_mask, threshold, validate)
    return _div(2 * inter, nt + npred)


# ----------------------------------------------------------------------------- accumulator


class ConfusionMatrix:
    """Accumulate a confusion matrix over batches, then report the scores once.

    The counts stay where the first batch lives (a GPU tensor stays on the GPU, and with
    ``validate=False`` an :meth:`update` never syncs); :meth:`compute` reads them back once.

    Args:
        num_classes: number of classes ``C`` (>= 1).
        ignore_index: label to leave out, as in :func:`confusion_matrix`.

    Example:
        >>> import numpy as np
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> cm.update(np.array([0, 0]), np.array([0, 1]))
        >>> cm.update(np.array([1, 1]), np.array([1, 1]))
        >>> cm.compute()["pixel_accuracy"]
        0.75
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None) -> None:
        self.num_classes = check_positive_int(num_classes, "num_classes")
        self.ignore_index = _check_ignore_index(ignore_index)
        self.reset()

    def reset(self) -> None:
        """Forget every counted pixel."""
        self._cm: Any = None

    @property
    def matrix(self) -> Any:
        """The ``(C, C)`` counts so far (NumPy or a tensor, as the first batch was)."""
        if self._cm is None:
            return np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        return self._cm

    def update(self, target: Any, pred: Any, validate: bool = True) -> None:
        """Add one batch; arguments as in :func:`confusion_matrix`."""
        cm = confusion_matrix(target, pred, self.num_classes, self.ignore_index, validate)
        if self._cm is None:
            self._cm = cm
        elif _is_torch(self._cm):
            import torch

            self._cm += torch.as_tensor(cm, device=self._cm.device)
        else:
            self._cm += cm.cpu().numpy() if _is_torch(cm) else cm

    def compute(self) -> dict[str, Any]:
        """Scores of everything counted so far, as Python floats and lists (NaN for empty classes).

        Returns:
            The dict of :func:`segmentation_scores`, with per-class lists of floats.
        """
        cm = self.matrix
        cm = cm.cpu().numpy() if _is_torch(cm) else cm  # the one host read-back
        return {k: (v.tolist() if isinstance(v, np.ndarray) else float(v)) for k, v in _scores_from_cm(cm).items()}

    def __repr__(self) -> str:
        return f"ConfusionMatrix(num_classes={self.num_classes}, ignore_index={self.ignore_index})"
