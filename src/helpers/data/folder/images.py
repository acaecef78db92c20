"""A folder's images as one array: channels chosen once for the folder, each image scaled by its
dtype's range, resized (bilinear for images, nearest for class masks).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from helpers.data.image_io import Decoded, scale_image, to_grey


def _resize_float(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    if img.shape[:2] == (size, size):
        return img
    if img.ndim == 2:
        return np.asarray(Image.fromarray(img, mode="F").resize((size, size), Image.BILINEAR))
    return np.stack([_resize_float(np.ascontiguousarray(img[..., c]), size) for c in range(img.shape[-1])], -1)


def _resize_labels(mask: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    if mask.shape == (size, size):
        return mask
    return np.asarray(Image.fromarray(mask.astype(np.int32), mode="I").resize((size, size), Image.NEAREST)).astype(np.int64)


def _is_colour(arr: np.ndarray) -> bool:
    return arr.ndim == 3 and not bool((arr == arr[..., :1]).all())


def _prepare_images(decoded: list[Decoded], paths: list[Path], grayscale: bool | None,
                    size: int | None, folder: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Channels chosen once for the whole folder, each image scaled by its dtype's range, resized."""
    raw = []
    for d, p in zip(decoded, paths):
        arr = d.values
        if d.palette is not None:
            try:
                arr = d.colours()
            except ValueError as exc:
                raise ValueError(f"image {p}: {exc}") from None
        if arr.ndim == 3 and not _is_colour(arr):
            arr = arr[..., 0]
        raw.append(arr)
    any_colour = any(a.ndim == 3 for a in raw)
    rgb = (not grayscale) and (grayscale is False or any_colour)
    out = []
    for arr, p in zip(raw, paths):
        if rgb and arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, -1)
        elif not rgb and arr.ndim == 3:
            arr = to_grey(arr)
        x = scale_image(arr, f"image {p}")
        out.append(x if size is None else _resize_float(x, size))
    shapes = Counter(x.shape[:2] for x in out)
    if len(shapes) > 1:
        listed = ", ".join(f"{h}x{w} ({k})" for (h, w), k in shapes.most_common(4))
        raise ValueError(f"images in {folder} have different sizes: {listed}; pass size= to resize them all")
    info = {"channels": "rgb" if rgb else "grey",
            "colour_files": int(sum(a.ndim == 3 for a in raw)),
            "dtypes": dict(Counter(str(a.dtype) for a in raw)),
            "formats": dict(Counter(d.fmt for d in decoded)),
            "scaling": _scaling(Counter(str(a.dtype) for a in raw))}
    return np.stack(out).astype(np.float32, copy=False), info


def _scaling(dtypes: Mapping[str, int]) -> str:
    """How images of these dtypes were scaled to [0, 1], e.g. ``"uint8 / 255"``."""
    parts = []
    for name in sorted(dtypes):
        dt = np.dtype(name)
        if dt.kind in "ui":
            info = np.iinfo(dt)
            parts.append(f"{name} / {info.max}" if info.min == 0 else f"{name} from [{info.min}, {info.max}]")
        else:
            parts.append(f"{name} as is" if dt.kind == "f" else f"{name} as 0/1")
    return ", ".join(parts)
