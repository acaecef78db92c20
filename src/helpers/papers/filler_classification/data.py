"""Notebook 03's data besides the generated slices: a folder of your own, one sub-folder of images per class.

The notebook treats such a folder as one "field of view": Table 1 becomes accuracy against the number of
training images per class, Table 2 the depth of the dense stack, and the HOG baseline and the searches run
on the folder's images. Training and evaluation sets are balanced (the same number of images per class,
as the paper's were), so accuracy is the mean of the per-class recalls.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from helpers.core.checks import check_positive_int
from helpers.data.folder import load_class_folder
from helpers.papers.filler_classification.runs import first_per_class


def load_filler_folder(root: str | os.PathLike, *, pixels: int, seed: int = 0, min_train: int = 2,
                       verbose: bool = True) -> dict[str, Any]:
    """A classification folder as notebook 03's training, validation and evaluation slices.

    Images are read as grey (colour files averaged) and resized to ``pixels x pixels``; the split comes
    from ``split/train.txt``, ``split/val.txt`` and ``split/test.txt`` or is seeded 70 / 10 / 20 % within
    each class. Each split is cut to the same number of images per class (its smallest class's).

    Args:
        root: the folder (``root/<class>/*.png``, ...).
        pixels: the side the images are resized to.
        seed: the split's seed (without ``split/`` files).
        min_train: the least number of training images per class the method needs.

    Returns:
        ``{"train": (x, y), "val": (x, y), "test": (x, y), "class_names": [...], "max_train": n,
        "n_eval": n, "folder": describe()}``: ``x`` float32 ``(N, pixels, pixels)`` scaled by the
        image dtype's range, ``y`` int64, ``max_train`` and ``n_eval`` the images per class of the
        training and evaluation sets.

    Raises:
        ValueError: what :func:`~helpers.data.folder.load_class_folder` refuses (fewer than two classes,
            an empty class, ...), or a split with too few images of some class for the method (the
            message names the class and the counts).

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> rng = np.random.default_rng(0)
        >>> for c in ("cracks", "pores"):
        ...     (root / c).mkdir()
        ...     for i in range(10):
        ...         Image.fromarray(rng.integers(0, 255, (20, 20), dtype=np.uint8)).save(root / c / f"{i}.png")
        >>> d = load_filler_folder(root, pixels=16, verbose=False)
        >>> d["class_names"], d["train"][0].shape, d["max_train"], d["n_eval"], np.bincount(d["test"][1]).tolist()
        (['cracks', 'pores'], (14, 16, 16), 7, 2, [2, 2])
    """
    pixels = check_positive_int(pixels, "pixels", 8)
    min_train = check_positive_int(min_train, "min_train", 1)
    ds = load_class_folder(root, size=pixels, grayscale=True, seed=seed,
                           min_per_split={"train": min_train, "val": 1, "test": 1}, verbose=verbose)
    labels = np.asarray(ds.labels, np.int64)
    images = np.asarray(ds.images, np.float32)  # (N, pixels, pixels): grey
    k = len(ds.class_names)
    out: dict[str, Any] = {"class_names": list(ds.class_names), "folder": ds.describe()}
    for split, least in (("train", min_train), ("val", 1), ("test", 1)):
        idx = np.asarray(ds.splits.get(split, []), np.int64)
        counts = np.bincount(labels[idx], minlength=k)
        if counts.min() < least:
            short = [f"{ds.class_names[c]} {counts[c]}" for c in range(k) if counts[c] < least]
            raise ValueError(f"the {split} split of {root} has too few images of {', '.join(short)} (each class needs "
                             f"at least {least} there); add images to these classes or list the split in "
                             f"split/{split}.txt")
        out[split] = first_per_class(images[idx], labels[idx], int(counts.min()), k)
    out["max_train"] = int(np.bincount(out["train"][1], minlength=k)[0])  # balanced: every class has as many
    out["n_eval"] = int(np.bincount(out["test"][1], minlength=k)[0])
    return out


def folder_train_sizes(max_train: int, requested: Any = None) -> list[int]:
    """Training images per class for Table 1 on a folder: a quarter and all of them (or ``requested``).

    Example:
        >>> folder_train_sizes(40), folder_train_sizes(3), folder_train_sizes(40, [10, 20])
        ([10, 40], [3], [10, 20])
    """
    max_train = check_positive_int(max_train, "max_train")
    if requested is not None:
        sizes = sorted({int(n) for n in requested})
        too_big = [n for n in sizes if n > max_train]
        if too_big or not sizes or sizes[0] < 1:
            raise ValueError(f"train_sizes must be 1..{max_train} images per class for this folder, got {requested}")
        return sizes
    return [max_train] if max_train < 8 else [max_train // 4, max_train]
