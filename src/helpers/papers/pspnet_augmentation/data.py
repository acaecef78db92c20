"""Notebook 02's data besides the generated scenes and VOC 2012: a folder of your own (``images/`` and
``masks/``; a two-class folder, such as lesions on leaves, also feeds the one-class leaf section)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.checks import check_positive_int
from helpers.data.folder import is_segmentation_folder, load_segmentation_folder

#: The seeded split of a folder without ``split/`` files: training and held-out images.
SCENE_FRACTIONS = {"train": 0.75, "val": 0.25}


def pspnet_folder_root(data_source: str, data_root: str | os.PathLike | None,
                       leaf_root: str | os.PathLike | None = None) -> Path | None:
    """The folder of your own notebook 02 reads, or None (generated scenes, or VOC at ``data_root``).

    ``data_source="real"`` with a ``data_root`` holding ``images/`` and ``masks/`` is your folder;
    ``leaf_root``, the earlier name of that parameter, means the same whatever ``data_source`` says.

    Raises:
        ValueError: ``leaf_root`` and a different ``data_root`` both given.

    Example:
        >>> pspnet_folder_root("synthetic", None) is None, pspnet_folder_root("real", None) is None
        (True, True)
    """
    if leaf_root is not None:
        if data_root is not None and Path(data_root).expanduser().resolve() != Path(leaf_root).expanduser().resolve():
            raise ValueError(f"leaf_root={str(leaf_root)!r} is the earlier name of data_root, but data_root="
                             f"{str(data_root)!r} names another folder; give data_source='real' and data_root only")
        return Path(leaf_root).expanduser()
    if data_source == "real" and is_segmentation_folder(data_root):
        return Path(data_root).expanduser()  # type: ignore[arg-type]
    return None


def load_scene_folder(root: str | os.PathLike, *, image_size: int, mask_map: Any = None, class_names: Any = None,
                      n_train: int | None = None, n_val: int | None = None, seed: int = 0,
                      verbose: bool = True) -> dict[str, Any]:
    """A folder of your own as notebook 02's training and held-out images.

    Images are read as RGB (grey files repeated) and resized to ``image_size x image_size``, as VOC's
    are; masks are class indices (directly, binary, palette, or through ``mask_map``). The split
    comes from ``split/train.txt`` and ``split/val.txt`` or is seeded 75 / 25 %; the sets are cut to
    ``n_train`` and ``n_val`` images.

    Returns:
        ``{"train": (x, y), "val": (x, y), "class_names": [...], "names": {split: stems},
        "folder": describe()}`` with ``x`` float32 ``(N, size, size, 3)`` in [0, 1] and ``y`` uint8.

    Raises:
        ValueError: a class index above 254 (255 is the ignored label), or what
            :func:`~helpers.data.folder.load_segmentation_folder` refuses.
    """
    image_size = check_positive_int(image_size, "image_size")
    ds = load_segmentation_folder(root, mask_map=mask_map, size=image_size, grayscale=False, class_names=class_names,
                                  fractions=SCENE_FRACTIONS, seed=seed, min_per_split={"train": 1, "val": 1},
                                  verbose=verbose)
    if ds.num_classes > 255:
        raise ValueError(f"the masks of {root} hold {ds.num_classes} classes; notebook 02 takes at most 255 "
                         "(255 marks ignored pixels)")
    out: dict[str, Any] = {"names": {}, "class_names": list(ds.class_names)}
    for split, n in (("train", n_train), ("val", n_val)):
        i = ds.splits[split][:n]
        out[split] = (ds.images[i].astype(np.float32), ds.masks[i].astype(np.uint8))  # type: ignore[index]
        out["names"][split] = [ds.names[j] for j in i]
    folder = ds.describe()
    folder["used"] = {k: len(v) for k, v in out["names"].items()}
    out["folder"] = folder
    return out
