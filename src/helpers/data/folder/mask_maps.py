"""Mask maps: which class each mask value or colour is.

:func:`parse_mask_map` reads a map in any form papermill or a user gives it (grey values or RGB
colours as keys), :func:`format_mask_map` writes it back as JSON, and ``_interpret_masks`` turns a
folder's decoded mask files into class-index masks, with a map or by the rules for class indices,
binary masks and palette PNGs.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np

from helpers.data.folder.images import _is_colour
from helpers.data.image_io import Decoded

#: Masks with more distinct values than this and no map may be binarised with ``threshold``
#: (anti-aliased or JPEG binary masks); fewer distinct values are class levels and need a map.
MAX_LEVELS = 16

Key = Union[int, tuple[int, int, int]]
MaskMap = dict[Key, int]

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
