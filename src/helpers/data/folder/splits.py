"""Which files a folder holds and how they are split.

Listing a folder's image files by stem, pairing ``images/`` with ``masks/`` by stem, and the
train/val/test split: read from ``split/*.txt`` files or made with a seed (stratified by class when
asked), then checked against ``min_per_split``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.checks import check_dir, check_positive_int
from helpers.data.folder.mask_maps import _as_int
from helpers.data.image_io import IMAGE_SUFFIXES

#: The seeded split when a folder has no ``split/`` files: 70 / 10 / 20 %.
DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.7, "val": 0.1, "test": 0.2}


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
