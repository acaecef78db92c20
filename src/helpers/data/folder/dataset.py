"""The :class:`FolderDataset` the folder loaders return, and the summary it reports."""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
