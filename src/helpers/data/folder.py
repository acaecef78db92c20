"""Reading a folder of your own images: the way to point any notebook at your micrographs.

Two layouts:

* **segmentation** (:func:`load_segmentation_folder`): ``root/images/`` and ``root/masks/``, pairs
  matched by file stem (PNG, JPEG, TIFF, BMP; 8- or 16-bit; greyscale or RGB). A mask holds class
  indices (0, 1, 2, ...), a binary mask (0/255 or 0/1), a palette PNG (its palette *index* is the
  class), grey values with a ``mask_map`` (``{"0": 0, "85": 1, ...}``) or RGB colours with a colour
  map (``{"#000000": 0, "#ff0000": 1}``).
* **classification** (:func:`load_class_folder`): one sub-folder of images per class.

Both take an optional ``split/`` folder of text files (``split/train.txt``, ``val.txt``,
``test.txt``, one stem a line) or make a seeded split, refuse with a message naming the file
anything they would otherwise read wrongly (unmatched stems, mask values or colours outside the map,
empty classes, splits smaller than ``min_per_split``), and return a :class:`FolderDataset` whose
:meth:`~FolderDataset.describe` is a JSON-ready record of the folder, its map and its split for
``results.json``.

Pixel values keep their meaning: images are scaled by their dtype's range (8-bit / 255, 16-bit /
65535) whatever the file format; 16-bit masks are never clipped.

Maps come in any form papermill can carry (``-p mask_map '{"0": 0, "255": 1}'``): see
:func:`parse_mask_map`.
"""

from __future__ import annotations

import ast
import copy
import json
import math
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..checks import check_dir, check_positive_int, check_seed
from .image_io import IMAGE_SUFFIXES, Decoded, decode, read_image, read_mask, scale_image, to_grey

__all__ = [
    "DEFAULT_FRACTIONS", "IMAGE_SUFFIXES", "FolderDataset", "format_mask_map", "load_class_folder",
    "load_image_mask_folder", "load_leaf_folder", "load_segmentation_folder", "parse_mask_map", "read_image",
    "read_mask", "scale_image",
]

#: The seeded split when a folder has no ``split/`` files: 70 / 10 / 20 %.
DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.7, "val": 0.1, "test": 0.2}
#: Masks with more distinct values than this and no map may be binarised with ``threshold``
#: (anti-aliased or JPEG binary masks); fewer distinct values are class levels and need a map.
MAX_LEVELS = 16

Key = Union[int, tuple[int, int, int]]
MaskMap = dict[Key, int]


# --------------------------------------------------------------------------------------------- maps

_COLOUR = re.compile(r"^[\(\[]?\s*(\d+)\s*[,;\s]\s*(\d+)\s*[,;\s]\s*(\d+)\s*[\)\]]?$")


def _as_int(v: Any) -> int | None:
    """A non-negative integer from an int, an integral float or a digit string, else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, np.integer)):
        return int(v) if v >= 0 else None
    if isinstance(v, (float, np.floating)):
        return int(v) if math.isfinite(v) and v >= 0 and float(v).is_integer() else None
    if isinstance(v, str) and v.strip().isdigit():
        return int(v.strip())
    return None


def _parse_key(k: Any) -> Key | None:
    if isinstance(k, str):
        s = k.strip()
        if s.isdigit():
            return int(s)
        if re.fullmatch(r"#[0-9a-fA-F]{6}", s):
            return tuple(int(s[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        m = _COLOUR.match(s)
        return tuple(int(g) for g in m.groups()) if m else None  # type: ignore[return-value]
    if isinstance(k, (list, tuple, np.ndarray)):
        parts = [_as_int(c) for c in k]
        return tuple(parts) if len(parts) == 3 and None not in parts else None  # type: ignore[return-value]
    return _as_int(k)


def _hashable(k: Any) -> Any:
    return tuple(k) if isinstance(k, (list, np.ndarray)) else k


def _key_text(key: Key) -> str:
    if isinstance(key, tuple):
        return "#" + "".join(f"{c:02x}" for c in key) if max(key) <= 255 else ",".join(map(str, key))
    return str(key)


def parse_mask_map(mask_map: Any) -> MaskMap | None:
    """Normalise a mask map, in any form papermill or a user may give it, to ``{key: class}``.

    Keys are grey values (``0``, ``"85"``) or RGB colours (``"#ff0000"``, ``"255,0,0"``,
    ``[255, 0, 0]``, ``(255, 0, 0)``); classes are integers ``0..K-1`` without gaps (several keys
    may share a class). Accepted containers: a dict, a list of ``[key, class]`` pairs, or the JSON
    (or Python literal) text of either. ``None`` (or ``"None"``) means no map.

    Returns:
        ``{int: int}`` for grey values or ``{(r, g, b): int}`` for colours, sorted by key; or None.

    Raises:
        ValueError: a key or class that is not a non-negative integer / colour, grey values mixed
            with colours, one key given two classes, or classes with gaps.

    Example:
        >>> parse_mask_map({"0": 0, "85": 1, "170": 2, "255": 3})
        {0: 0, 85: 1, 170: 2, 255: 3}
        >>> parse_mask_map([["#ff0000", 1], ["0,0,0", 0], [[0, 0, 255], 2]])
        {(0, 0, 0): 0, (0, 0, 255): 2, (255, 0, 0): 1}
        >>> parse_mask_map('{"0": 0, "255": 1}')
        {0: 0, 255: 1}
    """
    if mask_map is None:
        return None
    if isinstance(mask_map, bytes):
        mask_map = mask_map.decode()
    if isinstance(mask_map, str):
        text = mask_map.strip()
        if text.lower() in ("", "none", "null"):
            return None
        parsed: Any = None
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(text)
                break
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
        if not isinstance(parsed, (Mapping, list, tuple)):
            raise ValueError(f"mask_map: cannot read {mask_map!r} as a map; write it as JSON, e.g. "
                             "'{\"0\": 0, \"255\": 1}' or '[[0, 0], [255, 1]]' (colours: '{\"#ff0000\": 1}')")
        mask_map = parsed
    if isinstance(mask_map, Mapping):
        items = list(mask_map.items())
    elif isinstance(mask_map, (list, tuple)):
        items = []
        for entry in mask_map:
            if not (isinstance(entry, (list, tuple)) and len(entry) == 2):
                raise ValueError(f"mask_map as a list must hold pairs [value, class], got the entry {entry!r}")
            items.append((entry[0], entry[1]))
    else:
        raise ValueError(f"mask_map must be a dict, a list of [value, class] pairs or their JSON text, "
                         f"got {type(mask_map).__name__}")
    if not items:
        raise ValueError("mask_map is empty; give each mask value (or colour) its class, e.g. {\"0\": 0, \"255\": 1}")
    parsed_items = [(k, v, _parse_key(k), _as_int(v)) for k, v in items]
    bad = {_hashable(k): v for k, v, key, cls in parsed_items if key is None or cls is None}
    if bad:
        raise ValueError(f"mask_map must map mask values to class indices, both integers >= 0, got {bad} "
                         "(a key may also be a colour: '#ff0000', '255,0,0' or [255, 0, 0])")
    kinds = {isinstance(key, tuple) for _, _, key, _ in parsed_items}
    if len(kinds) > 1:
        raise ValueError("mask_map mixes grey values and RGB colours as keys; use one kind: grey values for "
                         "greyscale or palette masks, colours for colour-coded masks")
    out: dict[Any, int] = {}
    for _, _, key, cls in parsed_items:
        if key in out and out[key] != cls:
            raise ValueError(f"mask_map gives the mask value {_key_text(key)} two classes, {out[key]} and {cls}")
        out[key] = cls  # type: ignore[assignment]
    classes = sorted(set(out.values()))
    missing = sorted(set(range(classes[-1] + 1)) - set(classes))
    if missing:
        raise ValueError(f"mask_map must use the classes 0..K-1 without gaps; it maps to {classes}, so no value "
                         f"gives class(es) {missing}")
    return dict(sorted(out.items()))


def format_mask_map(mask_map: MaskMap | None) -> dict[str, int] | None:
    """A parsed map in its JSON form (string keys; colours as ``"#rrggbb"``), which
    :func:`parse_mask_map` reads back: what ``results.json`` and papermill carry.

    Example:
        >>> format_mask_map({0: 0, 255: 1}), format_mask_map({(255, 0, 0): 1, (0, 0, 0): 0})
        ({'0': 0, '255': 1}, {'#ff0000': 1, '#000000': 0})
    """
    return None if mask_map is None else {_key_text(k): int(v) for k, v in mask_map.items()}


# ------------------------------------------------------------------------------------------- dataset

@dataclass
class FolderDataset:
    """Images (and masks or labels) read from a folder, with its split and a record of what was read.

    Attributes:
        images: float32 in [0, 1], ``(N, H, W)`` (grey) or ``(N, H, W, 3)`` (RGB).
        names: file stems (classification: ``"class/stem"``), in the order of the arrays.
        class_names: one name per class; class ``c`` is ``class_names[c]``.
        class_values: what marks each class in the files: a mask value, a colour ``"#rrggbb"``, a
            list of them when several share a class, or (classification) the folder name.
        splits: split name -> sorted indices into the arrays (``train``/``val``/``test``, or the
            ``split/`` files' names).
        summary: what :meth:`describe` returns.
        masks: int64 class indices ``(N, H, W)`` (segmentation), else None.
        labels: int64 class indices ``(N,)`` (classification), else None.
        original_sizes: ``(H, W)`` of each file before resizing.
    """

    images: np.ndarray
    names: list[str]
    class_names: list[str]
    class_values: list[Any]
    splits: dict[str, np.ndarray]
    summary: dict[str, Any]
    masks: np.ndarray | None = None
    labels: np.ndarray | None = None
    original_sizes: list[tuple[int, int]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """``"segmentation"`` or ``"classification"``."""
        return "segmentation" if self.masks is not None else "classification"

    @property
    def targets(self) -> np.ndarray:
        """The masks (segmentation) or the labels (classification)."""
        return self.masks if self.masks is not None else self.labels  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.images)

    def _indices(self, split: str) -> np.ndarray:
        if split not in self.splits:
            raise ValueError(f"split must be one of {list(self.splits)}, got {split!r}")
        return self.splits[split]

    def arrays(self, split: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(images, masks or labels, names)`` of one split (all of them with ``split=None``)."""
        if split is None:
            return self.images, self.targets, list(self.names)
        i = self._indices(split)
        return self.images[i], self.targets[i], [self.names[j] for j in i]

    def subset(self, split: str) -> FolderDataset:
        """The items of one split as a dataset of their own (its ``splits`` hold that one split)."""
        i = self._indices(split)
        summary = copy.deepcopy(self.summary)
        summary["subset"] = split
        return FolderDataset(self.images[i], [self.names[j] for j in i], list(self.class_names),
                             list(self.class_values), {split: np.arange(len(i))}, summary,
                             None if self.masks is None else self.masks[i], None if self.labels is None else self.labels[i],
                             [self.original_sizes[j] for j in i] if self.original_sizes else [])

    def describe(self) -> dict[str, Any]:
        """A JSON-ready record of the folder, its map, its classes and its split (for ``results.json``)."""
        return copy.deepcopy(self.summary)

    def report(self) -> str:
        """What was found, in a few lines (what the loaders print)."""
        return _report(self.summary)


# ------------------------------------------------------------------------------------------- helpers

def _list_files(folder: Path, what: str) -> tuple[dict[str, Path], list[str]]:
    """stem -> path of the image files in ``folder``; the names of other entries (not hidden)."""
    found: dict[str, Path] = {}
    ignored = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if not (p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
            ignored.append(p.name)
            continue
        if p.stem in found:
            raise ValueError(f"{what} {folder} has two files with the stem {p.stem!r} ({found[p.stem].name} and "
                             f"{p.name}); pairs are matched by stem, so keep one")
        found[p.stem] = p
    return found, ignored


def _parse_fractions(fractions: Any) -> dict[str, float]:
    if fractions is None:
        return dict(DEFAULT_FRACTIONS)
    if isinstance(fractions, str):
        try:
            fractions = json.loads(fractions)
        except ValueError:
            raise ValueError(f"fractions: cannot read {fractions!r}; write e.g. '{{\"train\": 0.8, \"test\": 0.2}}'") from None
    if isinstance(fractions, (list, tuple)) and len(fractions) == 3 and not isinstance(fractions[0], (list, tuple)):
        fractions = dict(zip(("train", "val", "test"), fractions))
    if not isinstance(fractions, Mapping) or not fractions:
        raise ValueError(f"fractions must map split names to shares, e.g. {DEFAULT_FRACTIONS}, got {fractions!r}")
    out = {}
    for k, v in fractions.items():
        ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and 0 <= v <= 1
        if not (isinstance(k, str) and k and ok):
            raise ValueError(f"fractions must map split names to shares in [0, 1], got {dict(fractions)!r}")
        out[k] = float(v)
    if abs(sum(out.values()) - 1.0) > 1e-6:
        raise ValueError(f"fractions must add up to 1, got {out} (sum {sum(out.values()):.4g})")
    return out


def _parse_min(min_per_split: Any) -> int | dict[str, int]:
    if isinstance(min_per_split, str):
        try:
            min_per_split = json.loads(min_per_split)
        except ValueError:
            raise ValueError(f"min_per_split must be an integer or a dict split -> integer, got {min_per_split!r}") from None
    if isinstance(min_per_split, Mapping):
        out = {}
        for k, v in min_per_split.items():
            if not isinstance(k, str) or _as_int(v) is None or isinstance(v, str):
                raise ValueError(f"min_per_split must map split names to integers >= 0, got {dict(min_per_split)!r}")
            out[k] = int(v)
        return out
    return check_positive_int(min_per_split, "min_per_split", minimum=0)


def _split_counts(n: int, shares: Sequence[float]) -> list[int]:
    """Largest-remainder rounding of ``n * shares``; ties go to the smaller split."""
    total = sum(shares)
    raw = [n * s / total for s in shares]
    counts = [min(math.floor(r + 1e-9), n) for r in raw]
    while sum(counts) > n:  # only from rounding up by 1e-9
        counts[max(range(len(counts)), key=lambda i: (counts[i] - raw[i], counts[i]))] -= 1
    order = sorted(range(len(shares)), key=lambda i: (-(raw[i] - counts[i]), counts[i], i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _read_split_files(split_root: Path, names: list[str], aliases: Mapping[str, str]) -> tuple[dict[str, list[int]], dict[str, str]]:
    files = sorted(p for p in split_root.iterdir() if p.is_file() and p.suffix.lower() == ".txt")
    if not files:
        raise ValueError(f"split folder {split_root} holds no .txt files; expected e.g. train.txt, val.txt, test.txt "
                         "listing one file stem a line (or remove the folder for a seeded split)")
    at = {name: i for i, name in enumerate(names)}
    splits: dict[str, list[int]] = {}
    where: dict[int, str] = {}
    for f in files:
        chosen, unknown = [], []
        for line in f.read_text().splitlines():
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            name = entry if entry in at else aliases.get(entry)
            if name is None:  # a file name or path: drop folders and an image suffix
                p = Path(entry.replace("\\", "/"))
                stem = p.stem if p.suffix.lower() in IMAGE_SUFFIXES else p.name
                parent = p.parent.name
                name = next((n for n in (f"{parent}/{stem}" if parent else None, stem) if n and n in at), None)
                name = name or aliases.get(stem)
            if name is None:
                unknown.append(entry)
                continue
            i = at[name]
            if i in where and where[i] != f.stem:
                raise ValueError(f"{names[i]!r} is listed in both {split_root / (where[i] + '.txt')} and {f}; "
                                 "a file belongs to one split")
            if i not in where:
                where[i] = f.stem
                chosen.append(i)
        if unknown:
            raise ValueError(f"{f} lists {len(unknown)} name(s) with no image in the folder, e.g. {unknown[:3]}; "
                             "each line must be the stem (or file name) of an image")
        splits[f.stem] = sorted(chosen)
    return splits, {f.stem: f"{split_root.name}/{f.name}" for f in files}


def _make_splits(names: list[str], root: Path, split_dir: str | None, fractions: Any, seed: int,
                 min_per_split: int | dict[str, int], strata: np.ndarray | None = None,
                 aliases: Mapping[str, str] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Split indices from ``root/split_dir/*.txt`` when that folder exists, else a seeded split
    (within each stratum when ``strata`` is given); then check ``min_per_split``."""
    n = len(names)
    split_root = root / split_dir if split_dir else None
    if split_root is not None and split_dir != "split":  # a folder named on purpose must exist
        check_dir(split_root, "split folder")
    if split_root is not None and split_root.is_dir():
        lists, files = _read_split_files(split_root, names, aliases or {})
        splits = {k: np.asarray(v, np.int64) for k, v in lists.items()}
        assigned = sum(len(v) for v in splits.values())
        info: dict[str, Any] = {"source": "files", "files": files, "unassigned": n - assigned}
        if n - assigned:
            left = [names[i] for i in sorted(set(range(n)) - {int(j) for v in splits.values() for j in v})]
            info["unassigned_examples"] = left[:5]
    else:
        shares = _parse_fractions(fractions)
        rng = np.random.default_rng(seed)
        groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
        parts: dict[str, list[int]] = {k: [] for k in shares}
        for g in groups:
            order = g[rng.permutation(len(g))]
            start = 0
            for k, c in zip(shares, _split_counts(len(g), list(shares.values()))):
                parts[k].extend(order[start:start + c].tolist())
                start += c
        splits = {k: np.asarray(sorted(v), np.int64) for k, v in parts.items()}
        info = {"source": "seeded", "seed": seed, "fractions": shares, "stratified": strata is not None}
    info["counts"] = {k: int(len(v)) for k, v in splits.items()}
    need = min_per_split if isinstance(min_per_split, dict) else {k: min_per_split for k in splits}
    unknown = sorted(set(need) - set(splits))
    if unknown:
        raise ValueError(f"min_per_split names split(s) {unknown} but the folder's splits are {list(splits)}"
                         + (f" (from {split_root})" if info["source"] == "files" else ""))
    short = {k: (info["counts"][k], m) for k, m in need.items() if info["counts"][k] < m}
    if short:
        how = (f"split files in {split_root}" if info["source"] == "files"
               else f"a seeded split of {n} item(s) with fractions {info['fractions']}")
        detail = ", ".join(f"{k!r} has {have} but needs at least {m}" for k, (have, m) in short.items())
        raise ValueError(f"split too small: {detail} ({how}); add images, change fractions, or list more in split/ files")
    return splits, info


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


def _colour_codes(c: np.ndarray) -> np.ndarray:
    c = c.astype(np.int64)
    return (c[..., 0] << 32) | (c[..., 1] << 16) | c[..., 2]


def _code_text(code: int) -> str:
    return _key_text(((code >> 32) & 0xFFFF, (code >> 16) & 0xFFFF, code & 0xFFFF))


def _interpret_masks(decoded: list[Decoded], paths: list[Path], cmap: MaskMap | None, threshold: int | None,
                     folder: Path) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Class-index masks from decoded mask files, decided once for the whole folder.

    Returns the int64 masks and ``info`` with ``encoding``, ``mask_map`` (the map applied, JSON form),
    ``num_classes`` and ``class_values``.
    """
    kinds = Counter(d.kind for d in decoded)
    # RGB files whose three channels agree are grey masks saved as RGB.
    values = [d.values[..., 0] if d.kind == "rgb" and not _is_colour(d.values) else d.values for d in decoded]
    values = [v.astype(np.uint8) if v.dtype == bool else v for v in values]
    for v, p in zip(values, paths):
        if v.dtype.kind == "f":
            if not (np.isfinite(v).all() and (v == np.round(v)).all() and (v >= 0).all()):
                raise ValueError(f"mask {p} holds non-integer values (floating point); expected class indices, "
                                 "grey values or colours")
    values = [v.astype(np.int64) if v.dtype.kind == "f" else v for v in values]
    colour = [v.ndim == 3 for v in values]
    source = "palette indices" if kinds.get("palette", 0) == len(decoded) else "grey values"
    info: dict[str, Any] = {"mask_formats": dict(Counter(d.fmt for d in decoded)),
                            "mask_dtypes": dict(Counter(str(d.values.dtype) for d in decoded)),
                            "threshold": None}

    def colours_found(idx: Sequence[int], limit: int = 12) -> list[tuple[int, int]]:
        counts: Counter[int] = Counter()
        for i in idx:
            u, c = np.unique(_colour_codes(decoded[i].colours()), return_counts=True)
            counts.update(dict(zip(u.tolist(), c.tolist())))
        return counts.most_common(limit)

    if cmap is not None and isinstance(next(iter(cmap)), tuple):  # colour map
        codes = {(k[0] << 32) | (k[1] << 16) | k[2]: c for k, c in cmap.items()}
        masks = []
        for d, p in zip(decoded, paths):
            if d.kind == "palette" and len(d.palette) == 0:
                raise ValueError(f"mask {p} is a palette file without a palette; give grey values (palette indices) as keys")
            try:
                u, inv = np.unique(_colour_codes(d.colours()), return_inverse=True)
            except ValueError as exc:
                raise ValueError(f"mask {p}: {exc}") from None
            unknown = [(c, n) for c, n in zip(u.tolist(), np.bincount(inv.ravel()).tolist()) if c not in codes]
            if unknown:
                shown = ", ".join(f"{_code_text(c)} ({n} px)" for c, n in unknown[:8])
                raise ValueError(f"mask {p} has colours that mask_map does not map: {shown}; mapped colours: "
                                 f"{', '.join(_key_text(k) for k in cmap)}. Add them to mask_map")
            masks.append(np.asarray([codes[c] for c in u.tolist()], np.int64)[inv.reshape(d.values.shape[:2])])
        info["encoding"] = "RGB colours -> classes (mask_map)"
        info["mask_map"] = format_mask_map(cmap)
    elif cmap is not None:  # grey-value (or palette-index) map
        masks = []
        for i, (v, p) in enumerate(zip(values, paths)):
            if colour[i]:
                shown = ", ".join(_code_text(c) for c, _ in colours_found([i], 6))
                raise ValueError(f"mask {p} is colour-coded (RGB; colours {shown}) but mask_map maps grey values; "
                                 "give colours as keys instead, e.g. {\"#000000\": 0, \"#ff0000\": 1}")
            u, inv = np.unique(v, return_inverse=True)
            unknown = [x for x in u.tolist() if x not in cmap]
            if unknown:
                raise ValueError(f"mask {p} has values {unknown[:8]} that mask_map does not map (it maps "
                                 f"{list(cmap)[:12]}); add them to mask_map")
            masks.append(np.asarray([cmap[x] for x in u.tolist()], np.int64)[inv.reshape(v.shape)])
        info["encoding"] = f"{source} -> classes (mask_map)"
        info["mask_map"] = format_mask_map(cmap)
    else:
        if any(colour):
            idx = [i for i, c in enumerate(colour) if c]
            found = colours_found(idx)
            example = {_code_text(c): i for i, (c, _) in enumerate(sorted(found))}
            shown = ", ".join(f"{_code_text(c)} ({n} px)" for c, n in found)
            raise ValueError(f"{len(idx)} mask(s) in {folder} are colour-coded (RGB), e.g. {paths[idx[0]].name}, with "
                             f"colours {shown}; pass a colour map saying which class each colour is, e.g. "
                             f"mask_map={json.dumps(example)}")
        union: set[int] = set()
        for v in values:
            union.update(np.unique(v).tolist())
        top = max(int(np.iinfo(v.dtype).max) if v.dtype.kind in "ui" else 1 for v in values)
        pos = sorted(union - {0})
        lossy = any(d.fmt.startswith(("JPEG", "MPO")) for d in decoded)  # JPEG changes values near edges
        if not pos or (len(pos) == 1 and pos[0] in (1, 255, top)):  # 0/1, 0/255, 0/65535 (0/2 may be classes)
            x = pos[0] if pos else None  # every mask empty: class 1 is simply absent
            masks = [(v == x).astype(np.int64) if x is not None else np.zeros(v.shape, np.int64) for v in values]
            info["encoding"] = f"binary {source}: 0 -> 0, {x} -> 1" if x is not None else f"binary {source}: all 0"
            info["mask_map"] = format_mask_map({0: 0} if x is None else {0: 0, x: 1})
            info["num_classes"], info["class_values"] = 2, [0, x]
        elif union == set(range(max(union) + 1)) and not lossy and (len(union) <= MAX_LEVELS or max(union) < top):
            # a ramp reaching the dtype's maximum (0..255 in 8 bits) is an anti-aliased drawing, not 256 classes
            masks = [v.astype(np.int64) for v in values]
            info["encoding"] = f"class indices ({source} 0..{max(union)})"
            info["mask_map"] = None
        elif threshold is not None and len(union) > MAX_LEVELS:
            masks = [(v > threshold).astype(np.int64) for v in values]
            info["encoding"] = f"binary by threshold: {source} > {threshold} -> 1"
            info["mask_map"] = None
            info["threshold"] = threshold
        else:
            vals = sorted(union)
            shown = f"{vals}" if len(vals) <= 12 else f"[{', '.join(map(str, vals[:6]))}, ..., {vals[-1]}]"
            notes = " (palette PNGs: the values are palette indices)" if kinds.get("palette") else ""
            notes += " (JPEG masks are lossy: save masks as PNG)" if lossy else ""
            if len(vals) > MAX_LEVELS:
                raise ValueError(f"masks in {folder} hold {len(vals)} values {shown}{notes}: too many for class levels "
                                 "and not class indices 0..K-1; if they are anti-aliased or JPEG-compressed binary "
                                 "masks, pass threshold=127 to binarise them (value > 127 -> 1), else a mask_map "
                                 "giving every value its class")
            example = json.dumps({str(v): i for i, v in enumerate(vals)})
            raise ValueError(f"masks in {folder} hold {len(vals)} values {shown}{notes}: neither class indices "
                             f"0..K-1 nor a binary 0/255 mask, so their classes are unknown. Pass mask_map saying which "
                             f"class each value is, e.g. mask_map={example} (papermill: -p mask_map '{example}')")
    if "num_classes" not in info:
        if info["mask_map"] is not None:
            keys: dict[int, list[Any]] = {}
            for k, c in info["mask_map"].items():
                keys.setdefault(c, []).append(int(k) if k.isdigit() else k)
            info["class_values"] = [keys[c][0] if len(keys[c]) == 1 else keys[c] for c in range(max(keys) + 1)]
        elif info["threshold"] is not None:
            info["class_values"] = [f"<= {threshold}", f"> {threshold}"]
        else:
            info["class_values"] = list(range(max(union) + 1))
        info["num_classes"] = len(info["class_values"])
    return masks, info


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [round(float(c) / total, 6) if total else 0.0 for c in counts]


def _report(s: dict[str, Any]) -> str:
    size = f"; resized to {s['size']}x{s['size']}" if s.get("size") else ""
    sizes = ", ".join(f"{k} ({v})" for k, v in s["image_sizes"].items())
    what = "image/mask pairs" if s["kind"] == "segmentation" else f"images in {s['num_classes']} class folders"
    files = ", ".join(f"{n} {k}" for k, n in s["images"]["formats"].items())
    lines = [f"folder {s['root']}: {s['n']} {what}",
             f"  images: {files}; {sizes}{size}; read as {s['images']['channels']}, scaled {s['images']['scaling']}"]
    if s["kind"] == "segmentation":
        m = s["masks"]
        lines.append(f"  masks: {m['encoding']}" + (f", map {json.dumps(m['mask_map'])}" if m["mask_map"] else ""))
    shares = ", ".join(f"{n} {100 * v:.1f} %" for n, v in s["class_shares"].items())
    unit = "pixels" if s["kind"] == "segmentation" else "images"
    lines.append(f"  classes ({unit}): {shares}")
    empty = [n for n, v in s["class_shares"].items() if v == 0]
    if empty:
        lines.append(f"  note: no {unit} of class(es) {empty}")
    sp = s["split"]
    counts = ", ".join(f"{k} {v}" for k, v in sp["counts"].items())
    how = f"from {', '.join(sp['files'].values())}" if sp["source"] == "files" else f"seeded (seed {sp['seed']})"
    lines.append(f"  split {how}: {counts}" + (f"; {sp['unassigned']} in no split" if sp.get("unassigned") else ""))
    if s.get("ignored_files"):
        lines.append(f"  ignored (not images): {s['ignored_files'][:5]}")
    return "\n".join(lines)


def _size_counts(sizes: list[tuple[int, int]]) -> dict[str, int]:
    return {f"{h}x{w}": k for (h, w), k in Counter(sizes).most_common()}


# ------------------------------------------------------------------------------------------- loaders

def _load_pairs(root: Path, image_dir: str, mask_dir: str) -> tuple[list[str], list[Path], list[Path], list[str]]:
    img_root = check_dir(root / image_dir, "image folder")
    mask_root = check_dir(root / mask_dir, "mask folder")
    images, ign_i = _list_files(img_root, "image folder")
    masks, ign_m = _list_files(mask_root, "mask folder")
    if not images:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {img_root}")
    no_mask, no_image = sorted(set(images) - set(masks)), sorted(set(masks) - set(images))
    if no_mask or no_image:
        parts = []
        if no_mask:
            parts.append(f"{len(no_mask)} image(s) in {img_root} have no mask in {mask_root}, e.g. {no_mask[:3]}")
        if no_image:
            parts.append(f"{len(no_image)} mask(s) in {mask_root} have no image, e.g. {no_image[:3]}")
        raise ValueError("; ".join(parts) + ". Pairs are matched by file stem (images/a.jpg with masks/a.png)")
    stems = sorted(images)
    ignored = [f"{image_dir}/{n}" for n in ign_i] + [f"{mask_dir}/{n}" for n in ign_m]
    return stems, [images[s] for s in stems], [masks[s] for s in stems], ignored


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

    The dicts have the keys of :func:`helpers.data.scenes.synthetic_leaves` (``images`` float32
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
