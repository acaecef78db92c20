"""Reading a folder of image/mask pairs: the way to run a notebook on your own micrographs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import check_dir, check_positive_int, check_seed

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def read_image(path: str | os.PathLike, grayscale: bool = True) -> np.ndarray:
    """Read one image file as a NumPy array (TIFF with tifffile, the rest with Pillow).

    Raises:
        ValueError: the file cannot be decoded as an image (the message names it).
    """
    p = Path(path)
    try:
        if p.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            arr = np.asarray(tifffile.imread(p))
            if grayscale and arr.ndim == 3:
                arr = arr[..., :3].mean(-1)
        else:
            from PIL import Image

            with Image.open(p) as im:
                arr = np.asarray(im.convert("L") if grayscale else im.convert("RGB") if im.mode not in ("L", "I;16", "I") else im)
    except Exception as exc:  # PIL and tifffile raise many kinds of errors for corrupt files
        raise ValueError(f"cannot read {p} as an image ({type(exc).__name__}: {exc}); expected a PNG, JPEG, TIFF or BMP file") from exc
    return arr


def _scale01(arr: np.ndarray) -> np.ndarray:
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
    arr = arr.astype(np.float32)
    hi = float(arr.max()) if arr.size else 1.0
    return arr / hi if hi > 1 else arr


def _resize(arr: np.ndarray, size: int, nearest: bool) -> np.ndarray:
    from PIL import Image

    mode = Image.NEAREST if nearest else Image.BILINEAR
    if arr.ndim == 2:
        return np.asarray(Image.fromarray(arr).resize((size, size), mode))
    return np.stack([np.asarray(Image.fromarray(arr[..., c]).resize((size, size), mode)) for c in range(arr.shape[-1])], -1)


def load_image_mask_folder(root: str | os.PathLike, *, image_dir: str = "images", mask_dir: str = "masks",
                           mask_map: dict[int, int] | None = None, threshold: int = 127, size: int | None = None,
                           grayscale: bool = True) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load image/mask pairs matched by file stem from ``root/image_dir`` and ``root/mask_dir``.

    Args:
        root: folder holding the two sub-folders.
        image_dir, mask_dir: their names.
        mask_map: mask value -> class index; without it a mask is binarised as ``value > threshold``.
        threshold: see ``mask_map``.
        size: resize both to ``size x size`` (bilinear for images, nearest for masks).
        grayscale: read images as one channel.

    Returns:
        ``images`` float32 ``(N, H, W)`` (or ``(N, H, W, 3)``) in [0, 1], ``masks`` int64 ``(N, H, W)``,
        and the file stems, sorted.

    Example:
        >>> # images, masks, names = load_image_mask_folder("my_micrographs", size=256)
    """
    if size is not None:
        size = check_positive_int(size, "size")
    if mask_map is not None:
        bad = {k: v for k, v in mask_map.items()
               if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) and a >= 0 for a in (k, v))}
        if bad:
            raise ValueError(f"mask_map must map mask values to class indices, both integers >= 0, got {bad}")
    root = check_dir(root, "root")
    img_root, mask_root = check_dir(root / image_dir, "image folder"), check_dir(root / mask_dir, "mask folder")
    images = {p.stem: p for p in sorted(img_root.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    masks = {p.stem: p for p in sorted(mask_root.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    if not images:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {img_root}")
    missing = sorted(set(images) - set(masks))
    if missing:
        raise ValueError(f"{len(missing)} image(s) in {img_root} have no mask in {mask_root}, e.g. {missing[:3]}")
    xs, ys = [], []
    for stem, ipath in images.items():
        img, mask = read_image(ipath, grayscale), read_image(masks[stem], grayscale=True)
        if img.shape[:2] != mask.shape[:2]:
            raise ValueError(f"{ipath.name} is {img.shape[:2]} but its mask {masks[stem].name} is {mask.shape[:2]}")
        if mask_map is not None:
            values = np.unique(mask)
            unknown = sorted(set(values.tolist()) - set(mask_map))
            if unknown:
                raise ValueError(f"mask {masks[stem].name} has values {unknown[:8]} that mask_map does not map")
            lut = np.zeros(int(values.max()) + 1, np.int64)
            for v, c in mask_map.items():
                if v < lut.size:
                    lut[v] = c
            mask = lut[mask]
        else:
            mask = (mask > threshold).astype(np.int64)
        if size is not None:
            img, mask = _resize(img, size, nearest=False), _resize(mask.astype(np.int32), size, nearest=True)
        xs.append(_scale01(img))
        ys.append(mask.astype(np.int64))
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise ValueError(f"images in {img_root} have different sizes {sorted(shapes)[:3]}; pass size= to resize them")
    return np.stack(xs), np.stack(ys), list(images)


def load_leaf_folder(root: str | os.PathLike, size: int, *, image_dir: str = "images", mask_dir: str = "masks",
                     leaf_dir: str | None = None, threshold: int = 127, val_fraction: float = 0.25,
                     seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """A leaf-disease folder (RGB leaves, lesion masks) split into training and held-out dicts.

    The dicts have the keys of :func:`helpers.data.scenes.synthetic_leaves` (``images`` float32
    ``(N, size, size, 3)``, ``masks`` uint8 with 1 = lesion, ``leaf`` uint8 with 1 = leaf), so a
    notebook swaps the generated leaves for real ones without other changes.

    Args:
        root: folder with ``image_dir`` (photos) and ``mask_dir`` (lesion masks, ``value > threshold``
            = lesion), pairs matched by file stem.
        size: side the images are resized to.
        leaf_dir: optional sub-folder of leaf masks (``value > threshold`` = leaf). Without it the
            whole image counts as leaf, so lesion fractions are fractions of the image.
        threshold: see above.
        val_fraction: share of the pairs held out (at least one on each side).
        seed: the split's seed.

    Returns:
        ``(train, held_out)``, each also with ``names`` (the file stems).

    Example:
        >>> # train, val = load_leaf_folder("leaf_disease", size=256)
    """
    size = check_positive_int(size, "size")
    if not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction!r}")
    images, lesions, names = load_image_mask_folder(root, image_dir=image_dir, mask_dir=mask_dir, threshold=threshold,
                                                    size=size, grayscale=False)
    if images.ndim == 3:  # greyscale files: repeat to the three channels the RGB pipeline expects
        images = np.repeat(images[..., None], 3, -1)
    if len(images) < 2:
        raise ValueError(f"{root} has {len(images)} image/mask pair(s); a training/held-out split needs at least 2")
    if leaf_dir is None:
        leaf = np.ones(lesions.shape, np.uint8)
    else:
        # Paired with the lesion masks, not the photos: the same stems and sizes, without decoding the photos again.
        _, leaf, leaf_names = load_image_mask_folder(root, image_dir=mask_dir, mask_dir=leaf_dir, threshold=threshold,
                                                     size=size)
        at = {name: i for i, name in enumerate(leaf_names)}
        leaf = leaf[[at[name] for name in names]]
        leaf = np.maximum(leaf, lesions).astype(np.uint8)  # a lesion is part of its leaf
    order = np.random.default_rng(check_seed(seed)).permutation(len(images))
    n_val = min(len(images) - 1, max(1, round(len(images) * float(val_fraction))))
    split = {"val": order[:n_val], "train": order[n_val:]}
    pick = {k: {"images": images[i].astype(np.float32), "masks": lesions[i].astype(np.uint8), "leaf": leaf[i],
                "names": [names[j] for j in i]} for k, i in split.items()}
    return pick["train"], pick["val"]
