"""What the notebooks need around the folder loaders: is ``data_root`` a folder of your own, a tag
for the files it caches, and a binary (one-class) segmentation folder.

A notebook keeps its public data set's layout (TBM, ISBI 2012, VOC, ssTEM) and takes, besides it, a
folder with ``images/`` and ``masks/`` (:func:`is_segmentation_folder`), read by
:func:`~helpers.data.folder.load_segmentation_folder`. Its sweeps and weights are cached under a
tag of the folder's files and map (:func:`folder_tag`), so that another folder, or the same folder
with other files, never reuses them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from helpers.data.folder.dataset import FolderDataset
from helpers.data.folder.loaders import load_segmentation_folder
from helpers.data.folder.mask_maps import format_mask_map, parse_mask_map


def is_segmentation_folder(root: str | os.PathLike | None, image_dir: str = "images", mask_dir: str = "masks") -> bool:
    """Whether ``root`` is a folder with ``images/`` and ``masks/`` (the layout of your own data).

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> is_segmentation_folder(root), is_segmentation_folder(None)
        (False, False)
        >>> (root / "images").mkdir(); (root / "masks").mkdir()
        >>> is_segmentation_folder(root)
        True
    """
    if root is None:
        return False
    p = Path(root).expanduser()
    return (p / image_dir).is_dir() and (p / mask_dir).is_dir()


def folder_tag(root: str | os.PathLike, mask_map: Any = None, *extra: Any) -> str:
    """``"folder-<10 hex>"``: a hash of the folder's path, its files (names, sizes, times) and the map.

    A notebook puts it in the names of its cached sweeps and weights, so that results of one folder
    are never reused for another, nor for the same folder after its files or its map changed.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> a, b = folder_tag(root, {"0": 0, "255": 1}), folder_tag(root, {0: 0, 255: 1})
        >>> a == b, a.startswith("folder-"), len(a), a == folder_tag(root, None)
        (True, True, 17, False)
    """
    p = Path(root).expanduser().resolve()
    h = hashlib.sha256(str(p).encode())
    for f in sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith(".")):
        st = f.stat()
        h.update(f"{f.relative_to(p).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    h.update(json.dumps(format_mask_map(parse_mask_map(mask_map)), sort_keys=True).encode())
    h.update(json.dumps([str(e) for e in extra]).encode())
    return f"folder-{h.hexdigest()[:10]}"


def load_binary_folder(root: str | os.PathLike, *, what: str, mask_map: Any = None, size: int | None = None,
                       grayscale: bool | None = True, threshold: int | None = 127, fractions: Any = None,
                       seed: int = 0, min_per_split: Any = 1, verbose: bool = True) -> FolderDataset:
    """:func:`load_segmentation_folder` for a method that segments one class (``what``) from the rest.

    The masks must give two classes, 0 (background) and 1 (``what``): binary masks (0/255, 0/1),
    palette indices 0/1, or any values or colours with a ``mask_map`` that sends each to 0 or 1.
    Anything else is refused with the values found and a map to start from.

    Args:
        root: the folder (``images/``, ``masks/``, optional ``split/``).
        what: the foreground's name (``"boundary"``, ``"membrane"``), for the messages and class names.
        mask_map, size, grayscale, threshold, fractions, seed, min_per_split, verbose: as in
            :func:`load_segmentation_folder` (``threshold`` 127 binarises anti-aliased masks).

    Raises:
        ValueError: the masks hold more than two classes, or what :func:`load_segmentation_folder` refuses.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for d in ("images", "masks"):
        ...     (root / d).mkdir()
        >>> for i in range(3):
        ...     Image.fromarray(np.full((4, 4), 60 * i, np.uint8)).save(root / "images" / f"s{i}.png")
        ...     Image.fromarray(np.array([[0, 0, 255, 255]] * 4, np.uint8)).save(root / "masks" / f"s{i}.png")
        >>> ds = load_binary_folder(root, what="boundary", fractions={"train": 2 / 3, "test": 1 / 3}, verbose=False)
        >>> ds.class_names, ds.masks[0, 0].tolist()
        (['background', 'boundary'], [0, 0, 1, 1])
    """
    ds = load_segmentation_folder(root, mask_map=mask_map, size=size, grayscale=grayscale, threshold=threshold,
                                  fractions=fractions, seed=seed, min_per_split=min_per_split, verbose=False)
    if ds.num_classes != 2:
        values = ds.class_values
        example = {(v if isinstance(v, str) else str(v)): int(i == len(values) - 1) for i, v in enumerate(values)}
        raise ValueError(
            f"this notebook segments one class ({what}) from the background, but the masks of {root} hold "
            f"{ds.num_classes} classes ({ds.summary['masks']['encoding']}; values {values}). Send each value to 0 "
            f"(background) or 1 ({what}) with mask_map, e.g. mask_map = '{json.dumps(example)}'")
    ds.class_names = ["background", what]
    ds.summary["class_names"] = list(ds.class_names)
    ds.summary["class_shares"] = dict(zip(ds.class_names, ds.summary["class_shares"].values()))
    ds.summary["split"]["class_shares"] = {s: dict(zip(ds.class_names, v.values()))
                                           for s, v in ds.summary["split"].get("class_shares", {}).items()}
    if verbose:
        print(ds.report())
    return ds


def crop_to(ds: FolderDataset, size: int, what: str = "notebook") -> tuple[np.ndarray, np.ndarray]:
    """The top-left ``size x size`` of every image and mask (the pixel scale kept, as for ISBI 2012).

    Raises:
        ValueError: an image is smaller than ``size`` (the message names the smallest).
    """
    h, w = ds.images.shape[1:3]
    if h < size or w < size:
        raise ValueError(f"the images of {ds.summary['root']} are {h}x{w} pixels, smaller than image_size={size} that "
                         f"the {what} crops them to; pass image_size <= {min(h, w)} (a multiple of 8)")
    return ds.images[:, :size, :size], ds.masks[:, :size, :size]  # type: ignore[index]
