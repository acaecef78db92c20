"""Notebook 05's data besides the generated membranes and ISBI 2012: a folder of your own
(``images/`` and ``masks/``, membranes or any thin structure as the one foreground class)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from helpers.core.checks import check_positive_int
from helpers.data.folder import crop_to, load_binary_folder

#: The seeded split of a folder without ``split/`` files: ISBI 2012's 27 / 3 slices.
MEMBRANE_FRACTIONS = {"train": 0.9, "val": 0.1}


def load_membrane_folder(root: str | os.PathLike, *, image_size: int, mask_map: Any = None,
                         n_train: int | None = None, n_val: int | None = None, seed: int = 0,
                         verbose: bool = True) -> dict[str, Any]:
    """A folder of your own as notebook 05's training and validation images.

    As the ISBI slices are, images are read as grey and cropped (not resized: thin membranes keep
    their width in pixels) to their top-left ``image_size x image_size``; they must have one size, at
    least ``image_size``. Masks must give two classes, 0 and 1 = membrane (see
    :func:`~helpers.data.folder.load_binary_folder`). The split comes from ``split/train.txt`` and
    ``split/val.txt`` (a ``test.txt`` is not used: the notebook scores on the validation images, as
    the paper does) or is seeded 90 / 10 %; the sets are cut to ``n_train`` and ``n_val`` images.

    Returns:
        ``{"train": (x, y), "val": (x, y), "names": {split: stems}, "folder": describe()}`` with ``x``
        float32 ``(N, image_size, image_size)`` in [0, 1] and ``y`` uint8 (1 = membrane).
    """
    image_size = check_positive_int(image_size, "image_size")
    ds = load_binary_folder(root, what="membrane", mask_map=mask_map, grayscale=True, fractions=MEMBRANE_FRACTIONS,
                            seed=seed, min_per_split={"train": 1, "val": 1}, verbose=verbose)
    x_all, y_all = crop_to(ds, image_size, "notebook 05")
    out: dict[str, Any] = {"names": {}}
    for split, n in (("train", n_train), ("val", n_val)):
        i = ds.splits[split][:n]
        out[split] = (x_all[i].astype(np.float32), y_all[i].astype(np.uint8))
        out["names"][split] = [ds.names[j] for j in i]
    folder = ds.describe()
    folder["crop"] = image_size
    folder["used"] = {k: len(v) for k, v in out["names"].items()}
    out["folder"] = folder
    return out
