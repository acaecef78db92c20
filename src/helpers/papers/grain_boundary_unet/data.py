"""Notebook 01's data besides the generated SEM images: the TBM set, or a folder of your own
(``images/`` and ``masks/``, boundaries as the one foreground class)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.checks import check_positive_int
from helpers.data.folder import is_segmentation_folder, load_binary_folder

#: The sub-folders that mark a local copy of the TBM set.
TBM_LAYOUT = ("train/images", "train/masks", "test/images", "test/masks")


def boundary_data_layout(data_source: str, data_root: str | os.PathLike | None) -> str:
    """Which data notebook 01 reads: ``"synthetic"``, ``"tbm"`` (downloaded, or a local copy at
    ``data_root``) or ``"folder"`` (``data_root`` holds ``images/`` and ``masks/`` of your own).

    Raises:
        FileNotFoundError: ``data_root`` does not exist.
        ValueError: ``data_root`` is neither layout (the message shows both).

    Example:
        >>> boundary_data_layout("synthetic", None), boundary_data_layout("real", None)
        ('synthetic', 'tbm')
    """
    if data_source == "synthetic" or data_root is None:
        return "synthetic" if data_source == "synthetic" else "tbm"
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data_root: folder {root} does not exist")
    if is_segmentation_folder(root):
        return "folder"
    if (root / "train").is_dir() or (root / "test").is_dir():
        return "tbm"  # the TBM copy's own check names any file it lacks
    raise ValueError(f"data_root {root} is neither a folder of your own (images/ and masks/, pairs matched by file "
                     f"stem; optional split/train.txt, val.txt, test.txt) nor a copy of the TBM set "
                     f"({', '.join(TBM_LAYOUT)}); see the book's page 'Use your own micrographs'")


def load_boundary_folder(root: str | os.PathLike, *, size: int, mask_map: Any = None, n_train: int | None = None,
                         n_test: int | None = None, seed: int = 0, verbose: bool = True) -> dict[str, Any]:
    """A folder of your own as notebook 01's training, validation and test sets.

    Images are read as grey and resized to ``size x size`` (as the TBM crops are); masks must give
    two classes, 0 and 1 = boundary (see :func:`~helpers.data.folder.load_binary_folder`). The split
    comes from ``split/train.txt``, ``val.txt``, ``test.txt`` or is seeded (70 / 10 / 20 %); as for
    TBM, the training set is cut to ``n_train`` and the test set to ``n_test`` images.

    Returns:
        ``{"train": (x, y), "val": (x, y), "test": (x, y), "names": {split: stems}, "folder": describe()}``
        with ``x`` float32 ``(N, size, size)`` in [0, 1] and ``y`` float32 (1 = boundary).
    """
    size = check_positive_int(size, "size")
    ds = load_binary_folder(root, what="boundary", mask_map=mask_map, size=size, grayscale=True, seed=seed,
                            min_per_split={"train": 1, "val": 1, "test": 1}, verbose=verbose)
    cap = {"train": n_train, "val": None, "test": n_test}
    out: dict[str, Any] = {"names": {}}
    for split, n in cap.items():
        x, y, names = ds.arrays(split)
        out[split] = (x[:n].astype(np.float32), y[:n].astype(np.float32))
        out["names"][split] = names[:n]
    folder = ds.describe()
    folder["used"] = {k: len(v) for k, v in out["names"].items()}
    out["folder"] = folder
    return out
