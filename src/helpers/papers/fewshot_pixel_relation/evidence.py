"""What notebook 04 needs to turn its runs into measured claims, and to read a reader's folder.

* :func:`per_image_iou`, :func:`per_image_miou`: the IoU of each test image (the unit of a per-image
  bootstrap);
* :func:`prediction_problems`: a run's final test predictions checked for sense with
  :mod:`helpers.core.claims`' degenerate helpers (a constant map, a class of the test labels never
  predicted), so a collapsed run makes its claims "not tested" instead of a number;
* :func:`per_seed` and :func:`per_image`: the values of one method lined up by seed (or by test image,
  averaged over seeds), ready for :meth:`helpers.core.results.Results.measured_claim`;
* :func:`runs_problems`: the problems of all the runs a claim rests on, in one sentence;
* :func:`load_fewshot_folder`: a folder of images and masks through
  :func:`helpers.data.folder.load_segmentation_folder` (``split/`` files or a seeded 70/10/20 split),
  checked to leave enough images for the few-shot protocol.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from helpers.core.checks import check_positive_int
from helpers.core.claims import constant_prediction, degenerate, missing_classes

__all__ = ["per_image_iou", "per_image_miou", "prediction_problems", "per_seed", "per_image", "runs_problems",
           "load_fewshot_folder"]


def per_image_iou(pred: Any, truth: Any, num_classes: int, *, ignore_index: int = 255) -> np.ndarray:
    """IoU (in %) of each image and class, NaN where the class is in neither the labels nor the prediction.

    Pixels labelled ``ignore_index`` count in neither.

    Args:
        pred, truth: integer class maps ``(N, H, W)``.
        num_classes: the number of classes.
        ignore_index: the label of unlabelled pixels.

    Returns:
        float64 ``(N, num_classes)``, in percent.

    Example:
        >>> t = np.array([[[0, 0], [1, 1]], [[0, 0], [0, 0]]])
        >>> per_image_iou(np.zeros_like(t), t, 2).tolist()
        [[50.0, 0.0], [100.0, nan]]
    """
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape or pred.ndim != 3:
        raise ValueError(f"pred and truth must be (N, H, W) of one shape, got {pred.shape} and {truth.shape}")
    out = np.full((len(pred), num_classes), np.nan)
    for i, (p, t) in enumerate(zip(pred, truth)):
        keep = t != ignore_index
        p, t = p[keep].astype(np.int64), t[keep].astype(np.int64)
        inter = np.bincount(t[p == t], minlength=num_classes)[:num_classes]
        union = (np.bincount(p, minlength=num_classes)[:num_classes] + np.bincount(t, minlength=num_classes)[:num_classes]
                 - inter)
        present = union > 0
        out[i, present] = 100.0 * inter[present] / union[present]
    return out


def per_image_miou(pred: Any, truth: Any, num_classes: int, *, ignore_index: int = 255) -> np.ndarray:
    """mIoU (in %) of each image: the mean of :func:`per_image_iou` over the classes present in its
    labels or its prediction (a class absent from both is undefined there, not 0 or 1).

    Example:
        >>> t = np.array([[[0, 0], [1, 1]], [[0, 0], [0, 0]]])
        >>> per_image_miou(t, t, 2).tolist(), per_image_miou(np.zeros_like(t), t, 2).tolist()
        ([100.0, 100.0], [25.0, 100.0])
    """
    iou = per_image_iou(pred, truth, num_classes, ignore_index=ignore_index)
    return np.array([np.nan if np.isnan(r).all() else float(np.nanmean(r)) for r in iou])


def prediction_problems(pred: Any, truth: Any, num_classes: int, *, name: str = "prediction",
                        ignore_index: int = 255) -> str | None:
    """Why the final predictions cannot test a claim, or None: a constant map, or a class that the
    test labels hold and the prediction never gives (a class absent from the labels is not asked for).

    Example:
        >>> t = np.array([[[0, 1], [2, 2]]])
        >>> prediction_problems(np.array([[[0, 0], [2, 2]]]), t, 3)
        'prediction never predicts class 1 of 0..2'
        >>> prediction_problems(t, t, 3) is None
        True
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    wanted = np.unique(truth[truth != ignore_index]).astype(np.int64)
    missing = missing_classes(pred, num_classes, name=name)
    if missing is not None:
        seen = np.bincount(pred.ravel().astype(np.int64), minlength=num_classes)
        if not any(seen[c] == 0 for c in wanted):  # only classes the labels never hold are missing
            missing = None
    return degenerate(constant_prediction(pred, name=name), missing)


def _rows(rows: Sequence[Mapping[str, Any]], method: str, anchor: str | None) -> list[Mapping[str, Any]]:
    got = [r for r in rows if r["config"]["method"] == method
           and (anchor is None or r["config"].get("anchor", "balanced") == anchor)]
    if not got:
        raise ValueError(f"no runs of method {method!r}" + (f" with anchor {anchor!r}" if anchor else ""))
    runs = [r["config"]["run"] for r in got]
    if len(set(runs)) != len(runs):
        raise ValueError(f"method {method!r} has two runs with one seed: {sorted(runs)}")
    return sorted(got, key=lambda r: r["config"]["run"])


def per_seed(rows: Sequence[Mapping[str, Any]], method: str, *, key: str = "test_miou",
             class_index: int | None = None, anchor: str | None = None, percent: bool = True) -> np.ndarray:
    """One value per seed (ordered by ``run``) of ``key`` for ``method``; ``class_index`` picks one
    class of a per-class list. Values in percent unless ``percent=False``.

    Example:
        >>> rows = [{"config": {"method": "unet", "run": r}, "test_miou": 0.5 + r / 10} for r in (1, 0)]
        >>> per_seed(rows, "unet").tolist()
        [50.0, 60.0]
    """
    vals = [r[key] if class_index is None else r[key][class_index] for r in _rows(rows, method, anchor)]
    return np.asarray(vals, dtype=np.float64) * (100.0 if percent else 1.0)


def per_image(rows: Sequence[Mapping[str, Any]], method: str, *, class_index: int | None = None,
              anchor: str | None = None) -> np.ndarray:
    """Per-test-image mIoU (or the IoU of ``class_index``), in %, of ``method``, averaged over its seeds
    (from ``test_iou_per_image``); NaN where the class is in neither an image's labels nor its predictions.

    Example:
        >>> rows = [{"config": {"method": "unet", "run": r}, "test_iou_per_image": [[r, 4.0], [2.0, None]]}
        ...         for r in (0, 2)]
        >>> per_image(rows, "unet").tolist(), per_image(rows, "unet", class_index=1).tolist()
        ([2.5, 2.0], [4.0, nan])
    """
    runs = []
    for r in _rows(rows, method, anchor):
        iou = np.array([[np.nan if v is None else v for v in img] for img in r["test_iou_per_image"]], dtype=np.float64)
        if class_index is not None:
            runs.append(iou[:, class_index])
        else:
            runs.append(np.array([np.nan if np.isnan(v).all() else np.nanmean(v) for v in iou]))
    stacked = np.stack(runs)
    return np.array([np.nan if np.isnan(c).all() else float(np.nanmean(c)) for c in stacked.T])


def runs_problems(rows: Sequence[Mapping[str, Any]], methods: Mapping[str, str]) -> str | None:
    """The degenerate reasons (``test_problems``) of every run of ``methods`` (key: method, value: the
    name to print), one sentence, or None when all runs are sound.

    Example:
        >>> rows = [{"config": {"method": "unet", "run": 0}, "test_problems": "prediction is constant"},
        ...         {"config": {"method": "unet", "run": 1}, "test_problems": None}]
        >>> runs_problems(rows, {"unet": "U-Net"})
        'U-Net seed 0: prediction is constant'
    """
    reasons = [f"{name} seed {r['config']['run']}: {r['test_problems']}" for m, name in methods.items()
               for r in _rows(rows, m, None) if r.get("test_problems")]
    return degenerate(*reasons)


def load_fewshot_folder(root: str | os.PathLike, *, mask_map: Any = None, class_names: Sequence[str] | None = None,
                        size: int | None = None, seed: int = 0, n_train: int = 4, verbose: bool = True) -> Any:
    """A reader's folder (``images/``, ``masks/``, optional ``split/``) read for the few-shot protocol.

    Reads with :func:`helpers.data.folder.load_segmentation_folder` in grey (the networks take one
    channel), the split from ``split/train.txt`` ... when present, else a seeded 70/10/20 % split (the
    paper's COVID-19 split). The split must leave ``n_train`` training images (the 4 labelled ones are
    chosen among them), and at least one validation and one test image; a larger train split gives the
    unlabelled pool of the pseudo-labels.

    Returns:
        the :class:`helpers.data.folder.FolderDataset` (its ``describe()`` goes into ``results.json``).

    Raises:
        ValueError: a split too small, with the counts (and everything the folder loader refuses).
    """
    from helpers.data.folder import load_segmentation_folder

    n_train = check_positive_int(n_train, "n_train")
    ds = load_segmentation_folder(root, mask_map=mask_map, class_names=class_names, size=size, grayscale=True,
                                  seed=seed, min_per_split={"train": n_train, "val": 1, "test": 1},
                                  verbose=verbose)
    missing = [s for s in ("train", "val", "test") if s not in ds.splits]
    if missing:
        raise ValueError(f"{root}: the split has no {', '.join(missing)} set (found {sorted(ds.splits)}); the few-shot "
                         "protocol needs train (the labelled images), val (the weights' selection) and test")
    if ds.images.ndim != 3:
        raise ValueError(f"{root}: expected grey images (N, H, W), got {ds.images.shape}")
    return ds
