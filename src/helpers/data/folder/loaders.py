"""The folder loaders: a segmentation folder (images and masks), a classification folder (one
sub-folder per class), and the earlier entry points built on them (image/mask arrays, leaf folders).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.checks import check_dir, check_positive_int, check_seed
from helpers.data.folder.dataset import FolderDataset, _shares, _size_counts
from helpers.data.folder.images import _prepare_images, _resize_labels
from helpers.data.folder.mask_maps import _interpret_masks, parse_mask_map
from helpers.data.folder.splits import _list_files, _load_pairs, _make_splits, _parse_min
from helpers.data.image_io import IMAGE_SUFFIXES, decode


def _check_size(size: Any) -> int | None:
    return None if size is None else check_positive_int(size, "size")


def _check_threshold(threshold: Any) -> int | None:
    return None if threshold is None else check_positive_int(threshold, "threshold", minimum=0)


def _check_grayscale(grayscale: Any) -> bool | None:
    if grayscale not in (None, True, False) or isinstance(grayscale, (int, float)) and not isinstance(grayscale, bool):
        raise ValueError(f"grayscale must be None (as the files are), True or False, got {grayscale!r}")
    return grayscale


def _parse_names(class_names: Any, what: str = "class_names") -> list[str] | None:
    if class_names is None:
        return None
    if isinstance(class_names, str):
        try:
            class_names = json.loads(class_names)
        except ValueError:
            class_names = [s.strip() for s in class_names.split(",")]
    if not isinstance(class_names, (list, tuple)) or not all(isinstance(c, str) and c for c in class_names):
        raise ValueError(f"{what} must be a list of non-empty strings, got {class_names!r}")
    return list(class_names)


def load_segmentation_folder(root: str | os.PathLike, *, mask_map: Any = None, size: int | None = None,
                             grayscale: bool | None = None, threshold: int | None = None,
                             class_names: Sequence[str] | None = None, image_dir: str = "images",
                             mask_dir: str = "masks", split_dir: str | None = "split",
                             fractions: Mapping[str, float] | None = None, seed: int = 0,
                             min_per_split: int | Mapping[str, int] = 1, verbose: bool = True) -> FolderDataset:
    """Read ``root/images`` and ``root/masks`` (pairs by file stem) as a segmentation dataset.

    How masks are read, decided once for the whole folder:

    * with ``mask_map`` (any form :func:`parse_mask_map` takes): grey values (a palette PNG's
      *index*) or RGB colours -> class; a value or colour outside the map is refused;
    * without: values ``0..K-1`` (all present) are class indices; two values one of which is 0
      (0/255, 0/1, 0/65535) are a binary mask; colour-coded or other multi-valued masks are refused
      with the values found and an example ``mask_map``. ``threshold`` binarises (``value >
      threshold``) only masks with more than 16 distinct values (anti-aliased or JPEG binary masks).

    Args:
        root: the folder.
        mask_map: see above; ``None`` for class-index or binary masks.
        size: resize to ``size x size`` (bilinear for images, nearest for masks); without it all
            images must have one size.
        grayscale: ``None`` keeps the files' channels (RGB when any image is in colour, grey images
            then repeated), ``True`` turns colour into luminance, ``False`` always gives RGB.
        threshold: see above.
        class_names: one per class (default: ``background``/``foreground`` or ``class c``).
        image_dir, mask_dir: the two sub-folders.
        split_dir: sub-folder of ``<split>.txt`` files listing stems; None ignores it.
        fractions: the seeded split when there are no split files (default 70/10/20 % train/val/test).
        seed: the seeded split's seed.
        min_per_split: the least number of pairs each split must have (an int, or a dict per split,
            e.g. ``{"train": 4}`` for a four-shot method).
        verbose: print :meth:`FolderDataset.report`.

    Raises:
        FileNotFoundError: ``root`` or a sub-folder does not exist.
        ValueError: unmatched stems, unreadable files, an image and its mask of different sizes,
            masks the rules above cannot read, a split too small (each message names the file).

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for d in ("images", "masks"):
        ...     (root / d).mkdir()
        >>> for i in range(4):
        ...     Image.fromarray(np.full((4, 4), 60 * i, np.uint8)).save(root / "images" / f"s{i}.png")
        ...     Image.fromarray(np.array([[0, 85, 170, 255]] * 4, np.uint8)).save(root / "masks" / f"s{i}.png")
        >>> ds = load_segmentation_folder(root, mask_map='{"0": 0, "85": 1, "170": 2, "255": 3}',
        ...                               fractions={"train": 0.5, "test": 0.5}, verbose=False)
        >>> ds.masks[0, 0].tolist(), {k: len(v) for k, v in ds.splits.items()}, ds.describe()["masks"]["mask_map"]
        ([0, 1, 2, 3], {'train': 2, 'test': 2}, {'0': 0, '85': 1, '170': 2, '255': 3})
    """
    size = _check_size(size)
    cmap = parse_mask_map(mask_map)
    threshold = _check_threshold(threshold)
    grayscale = _check_grayscale(grayscale)
    seed = check_seed(seed)
    names_given = _parse_names(class_names)
    min_per = _parse_min(min_per_split)
    root = check_dir(root, "root")
    stems, ipaths, mpaths, ignored = _load_pairs(root, image_dir, mask_dir)
    splits, split_info = _make_splits(stems, root, split_dir, fractions, seed, min_per)
    dimg, dmask, sizes = [], [], []
    for ip, mp in zip(ipaths, mpaths):
        di, dm = decode(ip), decode(mp)
        if di.values.shape[:2] != dm.values.shape[:2]:
            raise ValueError(f"{ip.name} is {di.values.shape[:2]} (height, width) but its mask {mp} is "
                             f"{dm.values.shape[:2]}; an image and its mask must have the same size")
        dimg.append(di)
        dmask.append(dm)
        sizes.append(tuple(int(s) for s in di.values.shape[:2]))
    images, img_info = _prepare_images(dimg, ipaths, grayscale, size, root / image_dir)
    del dimg
    masks_list, mask_info = _interpret_masks(dmask, mpaths, cmap, threshold, root / mask_dir)
    del dmask
    masks = np.stack([m if size is None else _resize_labels(m, size) for m in masks_list]).astype(np.int64, copy=False)
    k = mask_info["num_classes"]
    if names_given is None:
        names = ["background", "foreground"] if k == 2 else [f"class {c}" for c in range(k)]
    elif len(names_given) != k:
        raise ValueError(f"class_names must name the {k} classes the masks hold ({mask_info['encoding']}), got "
                         f"{len(names_given)}: {names_given}")
    else:
        names = names_given
    counts = np.bincount(masks.ravel(), minlength=k)
    split_info["class_shares"] = {s: dict(zip(names, _shares(np.bincount(masks[i].ravel(), minlength=k))))
                                  for s, i in splits.items()}
    summary = {
        "root": str(root.resolve()), "kind": "segmentation", "n": len(stems),
        "layout": {"images": image_dir, "masks": mask_dir, "split": split_dir},
        "image_sizes": _size_counts(sizes), "size": size, "images": img_info,
        "masks": {k2: v for k2, v in mask_info.items() if k2 not in ("num_classes", "class_values")},
        "num_classes": k, "class_names": names, "class_values": mask_info["class_values"],
        "class_shares": dict(zip(names, _shares(counts))), "split": split_info,
        "ignored_files": ignored,
    }
    ds = FolderDataset(images, stems, names, mask_info["class_values"], splits, summary, masks=masks,
                       original_sizes=sizes)
    if verbose:
        print(ds.report())
    return ds


def load_class_folder(root: str | os.PathLike, *, size: int | None = None, grayscale: bool | None = None,
                      classes: Sequence[str] | None = None, split_dir: str | None = "split",
                      fractions: Mapping[str, float] | None = None, seed: int = 0,
                      min_per_split: int | Mapping[str, int] = 1, min_per_class: int = 1,
                      verbose: bool = True) -> FolderDataset:
    """Read a classification folder: one sub-folder of images per class (``root/<class>/*.png``).

    Classes are the sub-folders in sorted order (or ``classes``, which also picks a subset); label
    ``c`` is ``class_names[c]``. Names are ``"<class>/<stem>"``; ``split/`` files may list them so
    or by bare stem when that is unique. The seeded split is stratified (each class split by
    ``fractions``).

    Args:
        root: the folder.
        size: resize to ``size x size``; without it all images must have one size.
        grayscale: as in :func:`load_segmentation_folder`.
        classes: the class folders to read, in label order (default: all, sorted).
        split_dir, fractions, seed, min_per_split: as in :func:`load_segmentation_folder`.
        min_per_class: the least number of images each class must have (an empty class is refused).
        verbose: print :meth:`FolderDataset.report`.

    Returns:
        A :class:`FolderDataset` with ``images``, ``labels`` (int64 ``(N,)``) and ``class_names``.

    Raises:
        FileNotFoundError: ``root`` or a named class folder does not exist.
        ValueError: fewer than two classes, a class with fewer than ``min_per_class`` images, images
            of different sizes without ``size``, a split too small.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for c, v in (("pores", 40), ("cracks", 200)):
        ...     (root / c).mkdir()
        ...     for i in range(3):
        ...         Image.fromarray(np.full((4, 4), v, np.uint8)).save(root / c / f"{i}.png")
        >>> ds = load_class_folder(root, fractions={"train": 2 / 3, "test": 1 / 3}, verbose=False)
        >>> ds.class_names, ds.labels.tolist(), ds.names[0], {k: len(v) for k, v in ds.splits.items()}
        (['cracks', 'pores'], [0, 0, 0, 1, 1, 1], 'cracks/0', {'train': 4, 'test': 2})
    """
    size = _check_size(size)
    grayscale = _check_grayscale(grayscale)
    seed = check_seed(seed)
    min_per = _parse_min(min_per_split)
    min_per_class = check_positive_int(min_per_class, "min_per_class", minimum=1)
    wanted = _parse_names(classes, "classes")
    root = check_dir(root, "root")
    folders = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and d.name != split_dir)
    if wanted is None:
        wanted = folders
    else:
        for c in wanted:
            check_dir(root / c, f"class folder {c!r}")
        if len(set(wanted)) != len(wanted):
            raise ValueError(f"classes names a folder twice: {wanted}")
    if len(wanted) < 2:
        loose = [p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        extra = f"; it holds {len(loose)} image(s) directly, which belong in class sub-folders" if loose else ""
        raise ValueError(f"a classification folder needs one sub-folder of images per class, at least 2; {root} has "
                         f"{len(wanted)} ({wanted}){extra}")
    names, paths, labels, ignored = [], [], [], []
    for c, cls in enumerate(wanted):
        files, ign = _list_files(root / cls, f"class folder {cls!r}")
        ignored += [f"{cls}/{n}" for n in ign]
        if len(files) < min_per_class:
            what = "holds no images" if not files else f"holds {len(files)} image(s)"
            raise ValueError(f"class folder {root / cls} {what}; each class needs at least {min_per_class} "
                             f"({', '.join(IMAGE_SUFFIXES)}); remove the folder or add images")
        for stem in sorted(files):
            names.append(f"{cls}/{stem}")
            paths.append(files[stem])
            labels.append(c)
    labels_arr = np.asarray(labels, np.int64)
    stems = Counter(n.split("/", 1)[1] for n in names)
    aliases = {n.split("/", 1)[1]: n for n in names if stems[n.split("/", 1)[1]] == 1}
    splits, split_info = _make_splits(names, root, split_dir, fractions, seed, min_per, strata=labels_arr,
                                      aliases=aliases)
    decoded = [decode(p) for p in paths]
    sizes = [tuple(int(s) for s in d.values.shape[:2]) for d in decoded]
    images, img_info = _prepare_images(decoded, paths, grayscale, size, root)
    del decoded
    k = len(wanted)
    counts = np.bincount(labels_arr, minlength=k)
    split_info["class_counts"] = {s: dict(zip(wanted, np.bincount(labels_arr[i], minlength=k).tolist()))
                                  for s, i in splits.items()}
    summary = {
        "root": str(root.resolve()), "kind": "classification", "n": len(names),
        "layout": {"classes": "one sub-folder per class", "split": split_dir},
        "image_sizes": _size_counts(sizes), "size": size, "images": img_info,
        "num_classes": k, "class_names": list(wanted), "class_values": list(wanted),
        "class_counts": dict(zip(wanted, counts.tolist())), "class_shares": dict(zip(wanted, _shares(counts))),
        "split": split_info, "ignored_files": ignored,
        "ignored_folders": sorted(set(folders) - set(wanted)),
    }
    ds = FolderDataset(images, names, list(wanted), list(wanted), splits, summary, labels=labels_arr,
                       original_sizes=sizes)
    if verbose:
        print(ds.report())
    return ds


# ------------------------------------------------------------------------- the earlier entry points

def load_image_mask_folder(root: str | os.PathLike, *, image_dir: str = "images", mask_dir: str = "masks",
                           mask_map: Any = None, threshold: int | None = 127, size: int | None = None,
                           grayscale: bool | None = True) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Image/mask pairs matched by file stem, as three arrays: :func:`load_segmentation_folder`
    without a split and without printing.

    Masks are read by the same rules (class indices, binary, palette indices, ``mask_map`` in any
    form :func:`parse_mask_map` takes); ``threshold`` (default 127) binarises only masks with more
    than 16 distinct values, such as anti-aliased line drawings.

    Returns:
        ``images`` float32 ``(N, H, W)`` (or ``(N, H, W, 3)``) in [0, 1], ``masks`` int64 ``(N, H, W)``,
        and the file stems, sorted.

    Example:
        >>> # images, masks, names = load_image_mask_folder("my_micrographs", size=256)
    """
    ds = load_segmentation_folder(root, image_dir=image_dir, mask_dir=mask_dir, mask_map=mask_map,
                                  threshold=threshold, size=size, grayscale=grayscale, split_dir=None,
                                  fractions={"all": 1.0}, min_per_split=0, verbose=False)
    return ds.images, ds.masks, ds.names  # type: ignore[return-value]


def load_leaf_folder(root: str | os.PathLike, size: int, *, image_dir: str = "images", mask_dir: str = "masks",
                     leaf_dir: str | None = None, threshold: int | None = 127, mask_map: Any = None,
                     val_fraction: float = 0.25, seed: int = 0,
                     return_summary: bool = False) -> tuple[dict[str, Any], ...]:
    """A leaf-disease folder (RGB leaves, lesion masks) split into training and held-out dicts.

    The dicts have the keys of :func:`helpers.data.synthetic.scenes.synthetic_leaves` (``images`` float32
    ``(N, size, size, 3)``, ``masks`` uint8 with 1 = lesion, ``leaf`` uint8 with 1 = leaf), so a
    notebook swaps the generated leaves for real ones without other changes.

    Args:
        root: folder with ``image_dir`` (photos) and ``mask_dir`` (lesion masks), pairs matched by
            file stem. Masks are read as in :func:`load_segmentation_folder` (binary 0/255 or 0/1,
            palette indices, ``mask_map``) and must give two classes (0 = healthy, 1 = lesion).
        size: side the images are resized to.
        leaf_dir: optional sub-folder of leaf masks (read the same way, 1 = leaf). Without it the
            whole image counts as leaf, so lesion fractions are fractions of the image.
        threshold: binarises (``value > threshold``) masks with more than 16 distinct values
            (anti-aliased or JPEG masks); None refuses them.
        mask_map: the lesion masks' map, if they need one.
        val_fraction: share of the pairs held out (at least one on each side).
        seed: the split's seed.
        return_summary: also return a JSON-ready record of the folder (as
            :meth:`FolderDataset.describe`, with the split and the leaf folder) for ``results.json``.

    Returns:
        ``(train, held_out)``, each also with ``names`` (the file stems); with ``return_summary``,
        ``(train, held_out, summary)``.

    Example:
        >>> # train, val = load_leaf_folder("leaf_disease", size=256)
    """
    size = check_positive_int(size, "size")
    if not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction!r}")
    ds = load_segmentation_folder(root, image_dir=image_dir, mask_dir=mask_dir, mask_map=mask_map, threshold=threshold,
                                  size=size, grayscale=False, split_dir=None, fractions={"all": 1.0},
                                  min_per_split=0, verbose=False)
    images, lesions, names = ds.images, ds.masks, ds.names
    if len(images) < 2:
        raise ValueError(f"{root} has {len(images)} image/mask pair(s); a training/held-out split needs at least 2")
    if ds.num_classes != 2:
        raise ValueError(f"lesion masks in {Path(root) / mask_dir} hold {ds.num_classes} classes "
                         f"({ds.summary['masks']['encoding']}); expected two (0 = healthy, 1 = lesion): pass mask_map")
    if leaf_dir is None:
        leaf = np.ones(lesions.shape, np.uint8)
    else:
        # Only the leaf masks are decoded: paired with the photos by stem, checked against their sizes.
        leaf_root = check_dir(Path(root) / leaf_dir, "leaf folder")
        files, _ = _list_files(leaf_root, "leaf folder")
        missing = [n for n in names if n not in files]
        if missing:
            raise ValueError(f"{len(missing)} image(s) have no leaf mask in {leaf_root}, e.g. {missing[:3]}")
        paths = [files[n] for n in names]
        decoded = [decode(p) for p in paths]
        for d, p, s in zip(decoded, paths, ds.original_sizes):
            if d.values.shape[:2] != s:
                raise ValueError(f"leaf mask {p} is {d.values.shape[:2]} (height, width) but its image is {s}")
        leaf_masks, info = _interpret_masks(decoded, paths, None, threshold, leaf_root)
        if info["num_classes"] > 2:
            raise ValueError(f"leaf masks in {leaf_root} hold {info['num_classes']} classes ({info['encoding']}); "
                             "expected two (0 = background, 1 = leaf)")
        leaf = np.stack([_resize_labels(m, size) for m in leaf_masks])
        leaf = np.maximum(leaf, lesions).astype(np.uint8)  # a lesion is part of its leaf
    order = np.random.default_rng(check_seed(seed)).permutation(len(images))
    n_val = min(len(images) - 1, max(1, round(len(images) * float(val_fraction))))
    split = {"val": order[:n_val], "train": order[n_val:]}
    pick = {k: {"images": images[i].astype(np.float32), "masks": lesions[i].astype(np.uint8), "leaf": leaf[i],
                "names": [names[j] for j in i]} for k, i in split.items()}
    if not return_summary:
        return pick["train"], pick["val"]
    summary = ds.describe()
    summary["layout"]["leaves"] = leaf_dir
    summary["split"] = {"source": "seeded", "seed": int(seed), "fractions": {"train": 1 - float(val_fraction),
                        "val": float(val_fraction)}, "counts": {"train": len(split["train"]), "val": len(split["val"])}}
    return pick["train"], pick["val"], summary
