"""Segment (or classify) a folder of new images with an exported model, and measure the masks.

.. code-block:: console

    python -m helpers.predict MODEL FOLDER --output DIR [--batch-size N] [--threshold T]
                              [--carbide-masks DIR] [--leaf-masks DIR] [--pixel-size UM] [--device cpu]

``MODEL`` is a file written by :func:`helpers.tools.export.export_torch` (``.pt2``/``.pt``) or
:func:`~helpers.tools.export.export_keras` (``.keras`` with its ``.keras.json``). Every PNG, JPEG,
TIFF or BMP file directly in ``FOLDER`` is read (scaled by its dtype's range, so 8- and 16-bit files
mean the same), converted to the model's channels (RGB to luminance for a grey model, grey repeated
for an RGB one), resized to the model's input size, and predicted; the probabilities are resized
back to the image's size. Written:

* segmentation: ``DIR/masks/<stem>.png``, 8-bit class indices (two classes: 0 and 255), one per
  image and of its size, and ``DIR/measurements.csv``: one row per image with ``fraction_<class>``
  for every class and what the paper measures (the model's ``measurement``):

  - ``boundary`` (paper 01): ``boundary_length_px``, the medial-axis length of the boundary mask
    (:func:`helpers.papers.grain_boundary_unet.measure.skeleton_length`), ``boundary_length_um`` with ``--pixel-size``;
    with ``--carbide-masks`` (a folder of carbide masks named like the images) also
    ``carbide_ratio`` (:func:`helpers.papers.grain_boundary_unet.measure.carbide_boundary_ratio`) and ``carbide_count``;
  - ``lesion_fraction`` (paper 02): lesion pixels over the image's pixels, or over the leaf's with
    ``--leaf-masks``;
  - ``class_areas`` (papers 04, 05): ``area_px_<class>`` for every class;

* classification: ``DIR/predictions.csv`` with the predicted class, its probability and
  ``p_<class>`` for every class.

The results are checked for sense: an image whose mask is one class everywhere, a folder whose
predictions do not depend on the image, or non-finite probabilities are marked in the ``degenerate``
column and warned about (:class:`DegeneratePredictionWarning`; the command prints them as ``WARNING:``
lines of its report on stdout, above a table of the CSV's first rows), as is a class never predicted
in the whole folder. Such a result says the model did not work on these images, not what they hold.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from helpers.tools.export import ExportedModel, load_exported

__all__ = ["DegeneratePredictionWarning", "list_images", "main", "predict_folder", "save_images"]


class DegeneratePredictionWarning(UserWarning):
    """A prediction that says nothing about the image: constant, input-independent, or not finite."""


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files (PNG, JPEG, TIFF, BMP) directly in ``folder``, sorted by name; hidden files skipped.

    Raises:
        FileNotFoundError: the folder does not exist. ValueError: it is a file, or holds no images.
    """
    from helpers.data.image_io import IMAGE_SUFFIXES

    d = Path(folder)
    if not d.exists():
        raise FileNotFoundError(f"image folder {d} does not exist")
    if not d.is_dir():
        raise ValueError(f"{d} is a file; expected a folder of images")
    files = sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        found = ", ".join(p.name for p in files[:5]) + (" ..." if len(files) > 5 else "") if files else "nothing"
        raise ValueError(f"no images in {d} (expected PNG, JPEG, TIFF or BMP files; found {found})")
    return images


def save_images(images: Any, folder: str | os.PathLike, *, names: Sequence[str] | None = None,
                bits: int = 8) -> Path:
    """Write images or masks as PNG files, e.g. a few test images to try :func:`predict_folder` on.

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, 3)``: floats in [0, 1] (written as 8- or 16-bit),
            booleans or 0/1 integers (a mask: written as 0/255), or ``uint8`` / ``uint16`` (as they are).
        folder: created if needed.
        names: file stems, one per image (default ``image_000``, ``image_001``, ...), so images and
            their masks (carbides, leaves) written with the same names match.
        bits: 8 or 16 for float images (16-bit: grey only).

    Returns:
        The folder.

    Example:
        >>> import tempfile
        >>> d = save_images(np.zeros((2, 8, 8), np.float32), tempfile.mkdtemp())
        >>> sorted(p.name for p in d.iterdir())
        ['image_000.png', 'image_001.png']
    """
    from PIL import Image

    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    x = np.asarray(images)
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] != 3) or x.shape[0] == 0:
        raise ValueError(f"images must be (N, H, W) or (N, H, W, 3) with N >= 1, got shape {x.shape}")
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    names = [f"image_{i:03d}" for i in range(len(x))] if names is None else [str(n) for n in names]
    if len(names) != len(x) or len(set(names)) != len(names) or not all(names):
        raise ValueError(f"names must be {len(x)} distinct non-empty file stems, got {len(names)}")
    if x.dtype == bool:
        x = x.astype(np.uint8) * 255
    elif x.dtype.kind == "f":
        if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise ValueError("float images must lie in [0, 1] (scale them first), got values in "
                             f"[{float(np.nanmin(x)):.4g}, {float(np.nanmax(x)):.4g}]")
        if bits == 16 and x.ndim == 4:
            raise ValueError("16-bit RGB PNGs are not written here; use bits=8 for colour images")
        top = 255 if bits == 8 else 65535
        x = np.round(x * top).astype(np.uint8 if bits == 8 else np.uint16)
    elif x.dtype.kind in "ui" and x.dtype not in (np.uint8, np.uint16):
        values = np.unique(x)
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f"integer images must be uint8, uint16, or a 0/1 mask; got {x.dtype} with values "
                             f"{values[:5].tolist()}")
        x = x.astype(np.uint8) * 255
    elif x.dtype.kind not in "ui":
        raise ValueError(f"images must be floats in [0, 1], booleans or integers, got dtype {x.dtype}")
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    for name, img in zip(names, x):
        Image.fromarray(np.ascontiguousarray(img)).save(d / f"{name}.png")
    return d


def _column(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_") or "class"


def _mask_names(paths: list[Path]) -> list[str]:
    """``<stem>.png``; files sharing a stem (a.png, a.tif) get ``<stem>_<suffix>.png``."""
    stems = Counter(p.stem for p in paths)
    return [f"{p.stem}_{p.suffix.lstrip('.').lower()}.png" if stems[p.stem] > 1 else f"{p.stem}.png" for p in paths]


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of ``(H, W)`` or ``(H, W, C)`` float32 to ``size`` ``(h, w)``."""
    from PIL import Image

    if img.shape[:2] == tuple(size):
        return img
    if img.ndim == 3:
        return np.stack([_resize(np.ascontiguousarray(img[..., c]), size) for c in range(img.shape[-1])], -1)
    return np.asarray(Image.fromarray(img.astype(np.float32), mode="F").resize((size[1], size[0]), Image.BILINEAR))


def _read(path: Path, channels: int) -> np.ndarray:
    """One image as float32 ``(H, W, channels)`` in [0, 1]."""
    from helpers.data.image_io import read_image, scale_image

    arr = read_image(path, grayscale=channels == 1)
    if channels == 3 and arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, -1)
    x = scale_image(arr, f"image {path}")
    return x[..., None] if x.ndim == 2 else x


def _read_binary(folder: Path, image: Path, shape: tuple[int, int], what: str) -> np.ndarray:
    """The mask in ``folder`` named like ``image`` (any image suffix), as a bool array of ``shape``."""
    from helpers.data.image_io import IMAGE_SUFFIXES, read_mask

    found = [p for p in sorted(folder.iterdir()) if p.stem == image.stem and p.suffix.lower() in IMAGE_SUFFIXES]
    if not found:
        raise FileNotFoundError(f"no {what} mask for {image.name} in {folder} (expected {image.stem}.png or "
                                "another image file of that name)")
    m = read_mask(found[0])
    if m.ndim == 3:
        m = m.any(-1)
    if m.shape != shape:
        raise ValueError(f"{what} mask {found[0]} is {m.shape[0]}x{m.shape[1]}, its image {image.name} is "
                         f"{shape[0]}x{shape[1]}")
    return m > 0


def _check_folder_arg(folder: Any, what: str) -> Path | None:
    if folder is None:
        return None
    d = Path(folder)
    if not d.is_dir():
        raise FileNotFoundError(f"{what} folder {d} does not exist")
    return d


def predict_folder(model_path: str | os.PathLike | ExportedModel, folder: str | os.PathLike,
                   output_dir: str | os.PathLike, *, batch_size: int = 8, threshold: float | None = None,
                   carbide_masks: str | os.PathLike | None = None, leaf_masks: str | os.PathLike | None = None,
                   pixel_size: float | None = None, device: str = "cpu") -> Path:
    """Predict every image in ``folder``, write masks and a CSV into ``output_dir`` (see the module doc).

    Args:
        model_path: an exported model file (or its ``.json``), or a loaded :class:`ExportedModel`.
        folder: a folder of PNG/JPEG/TIFF/BMP images (its subfolders are not read).
        output_dir: where ``masks/`` and ``measurements.csv`` (or ``predictions.csv``) go; created.
        batch_size: images per forward pass.
        threshold: probability above which a one-output model says "class 1" (default: the model's, 0.5).
        carbide_masks: ``boundary`` models: a folder of carbide masks named like the images; adds the
            carbide ratio.
        leaf_masks: ``lesion_fraction`` models: a folder of leaf masks named like the images; the
            lesion fraction is then over the leaf's pixels.
        pixel_size: micrometres per pixel; adds ``boundary_length_um``.
        device: for PyTorch models, ``"cpu"`` or ``"cuda"``.

    Returns:
        The path of the CSV written.

    Raises:
        FileNotFoundError: the model, the folder, or a mask folder / mask missing.
        ValueError: no images, a file that is not an image, a wrong argument, masks that do not fit.
    """
    model = model_path if isinstance(model_path, ExportedModel) else load_exported(model_path, device=device)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if threshold is not None and not (isinstance(threshold, (int, float)) and 0 < threshold < 1):
        raise ValueError(f"threshold must be a number in (0, 1), got {threshold!r}")
    if pixel_size is not None and not (isinstance(pixel_size, (int, float)) and pixel_size > 0
                                       and math.isfinite(pixel_size)):
        raise ValueError(f"pixel_size must be > 0 micrometres per pixel, got {pixel_size!r}")
    carbide_dir = _check_folder_arg(carbide_masks, "carbide mask")
    leaf_dir = _check_folder_arg(leaf_masks, "leaf mask")
    if carbide_dir is not None and model.measurement != "boundary":
        raise ValueError(f"carbide_masks go with a boundary model; this one measures {model.measurement!r}")
    if leaf_dir is not None and model.measurement != "lesion_fraction":
        raise ValueError(f"leaf_masks go with a lesion_fraction model; this one measures {model.measurement!r}")
    if model.channels not in (1, 3):
        raise ValueError(f"the model takes {model.channels}-channel images; this tool reads grey (1) or RGB (3) files")
    images = list_images(folder)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if model.task == "classification":
        return _classify(model, images, out, batch_size, threshold)
    return _segment(model, images, out, batch_size, threshold, carbide_dir, leaf_dir, pixel_size)


def _load_batch(model: ExportedModel, paths: list[Path]) -> tuple[list[np.ndarray], list[str]]:
    raw = [_read(p, model.channels) for p in paths]
    digests = [hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest() for x in raw]
    return raw, digests


def _forward(model: ExportedModel, raw: list[np.ndarray]) -> list[np.ndarray]:
    """Probabilities at the model's resolution, one array per image."""
    if model.input_size is None:  # a model of any size: one image at a time at its own size
        return [model.predict(x[None])[0] for x in raw]
    x = np.stack([_resize(r, model.input_size) for r in raw])
    return list(model.predict(np.clip(x, 0.0, 1.0), batch_size=len(x)))


def _warn(message: str) -> None:
    warnings.warn(message, DegeneratePredictionWarning, stacklevel=3)


def _predictions(model: ExportedModel, images: list[Path], batch_size: int
                 ) -> Iterator[tuple[int, Path, np.ndarray, np.ndarray, str]]:
    """``(index, path, image as read, probabilities, image digest)`` for every image, a batch at a time."""
    for start in range(0, len(images), batch_size):
        idx = range(start, min(len(images), start + batch_size))
        raw, digests = _load_batch(model, [images[i] for i in idx])
        yield from zip(idx, (images[i] for i in idx), raw, _forward(model, raw), digests)


def _segment(model: ExportedModel, images: list[Path], out: Path, batch_size: int, threshold: float | None,
             carbide_dir: Path | None, leaf_dir: Path | None, pixel_size: float | None) -> Path:
    from PIL import Image

    from helpers.papers.grain_boundary_unet.measure import carbide_boundary_ratio, skeleton_length

    mask_dir = out / "masks"
    mask_dir.mkdir(exist_ok=True)
    names = model.class_names
    cols = [_column(c) for c in names]
    binary = len(names) == 2
    fg = model.foreground_class if model.foreground_class is not None else len(names) - 1
    mask_names = _mask_names(images)
    rows: list[dict[str, Any]] = []
    seen = np.zeros(len(names), bool)
    image_digests, label_digests = [], []
    for i, p, x, prob, digest in _predictions(model, images, batch_size):
        mask_name = mask_names[i]
        h, w = x.shape[:2]
        finite = bool(np.isfinite(prob).all())
        label_digests.append(hashlib.sha1(model.labels(prob, threshold).tobytes()).hexdigest())
        image_digests.append(digest)
        labels = model.labels(_resize(np.nan_to_num(prob.astype(np.float32)), (h, w)), threshold)
        counts = np.bincount(labels.ravel(), minlength=len(names))[:len(names)]
        seen |= counts > 0
        Image.fromarray((labels * 255).astype(np.uint8) if binary else labels.astype(np.uint8)).save(
            mask_dir / mask_name)
        row: dict[str, Any] = {"image": p.name, "mask": f"masks/{mask_name}", "height": h, "width": w}
        row.update({f"fraction_{c}": float(n) / labels.size for c, n in zip(cols, counts)})
        if model.measurement == "class_areas":
            row.update({f"area_px_{c}": int(n) for c, n in zip(cols, counts)})
        elif model.measurement == "boundary":
            boundary = labels == fg
            row["boundary_length_px"] = skeleton_length(boundary, from_mask=True)
            if pixel_size is not None:
                row["boundary_length_um"] = row["boundary_length_px"] * pixel_size
            if carbide_dir is not None:
                r = carbide_boundary_ratio(boundary, _read_binary(carbide_dir, p, (h, w), "carbide"))
                row["carbide_ratio"] = r["ratio"]
                row["carbide_count"] = r["carbide_count"]
        elif model.measurement == "lesion_fraction":
            lesion = labels == fg
            if leaf_dir is None:
                ref = labels.size
            else:
                leaf = _read_binary(leaf_dir, p, (h, w), "leaf")
                ref, lesion = int(leaf.sum()), lesion & leaf
            row["lesion_fraction"] = float(lesion.sum()) / ref if ref else float("nan")
            row["lesion_fraction_of"] = "image" if leaf_dir is None else "leaf"
        constant = int((counts > 0).sum()) <= 1
        row["degenerate"] = (not finite) or constant
        row["why"] = "; ".join(filter(None, ["non-finite probabilities" if not finite else "",
                                             f"one class everywhere ({names[int(counts.argmax())]})"
                                             if constant else ""]))
        rows.append(row)
    _check_folder(rows, names, seen, image_digests, label_digests, "mask")
    path = out / "measurements.csv"
    _write_csv(path, rows)
    return path


def _classify(model: ExportedModel, images: list[Path], out: Path, batch_size: int, threshold: float | None) -> Path:
    names = model.class_names
    cols = [_column(c) for c in names]
    rows: list[dict[str, Any]] = []
    seen = np.zeros(len(names), bool)
    image_digests, label_digests = [], []
    for _, p, x, prob, digest in _predictions(model, images, batch_size):
        finite = bool(np.isfinite(prob).all())
        full = np.array([1.0 - prob[0], prob[0]]) if prob.shape[-1] == 1 else prob
        k = int(model.labels(prob[None], threshold)[0])
        seen[k] = True
        image_digests.append(digest)
        label_digests.append(hashlib.sha1(np.round(full.astype(np.float64), 6).tobytes()).hexdigest())
        row: dict[str, Any] = {"image": p.name, "height": x.shape[0], "width": x.shape[1], "class": names[k],
                               "class_index": k, "probability": float(full[k])}
        row.update({f"p_{c}": float(v) for c, v in zip(cols, full)})
        row["degenerate"] = not finite
        row["why"] = "" if finite else "non-finite probabilities"
        rows.append(row)
    _check_folder(rows, names, seen, image_digests, label_digests, "class probabilities")
    path = out / "predictions.csv"
    _write_csv(path, rows)
    return path


def _check_folder(rows: list[dict[str, Any]], names: Sequence[str], seen: np.ndarray, image_digests: list[str],
                  label_digests: list[str], what: str) -> None:
    """Mark and warn: predictions that do not depend on the image, constant masks, classes never predicted."""
    n = len(rows)
    if n >= 2 and len(set(label_digests)) == 1 and len(set(image_digests)) > 1:
        for r in rows:
            r["degenerate"] = True
            r["why"] = "; ".join(filter(None, [r["why"], f"same {what} for every image"]))
        _warn(f"DEGENERATE PREDICTION: the model gives the same {what} for all {n} (different) images; it does "
              "not look at them. These results measure the model's failure, not the images.")
    else:
        bad = [r for r in rows if r["degenerate"]]
        if bad:
            listed = ", ".join(r["image"] for r in bad[:5]) + (" ..." if len(bad) > 5 else "")
            _warn(f"DEGENERATE PREDICTION for {len(bad)} of {n} image(s) ({listed}): {bad[0]['why']}; "
                  "see the 'degenerate' column.")
    never = [c for c, s in zip(names, seen) if not s]
    if never:
        _warn(f"class(es) {never} never predicted in any of the {n} image(s): the model may not have learnt "
              "them, or these images may not hold them.")


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.predict MODEL FOLDER --output DIR``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.predict",
        description="Segment or classify a folder of images with an exported model (helpers.tools.export); "
                    "writes masks and a CSV of measurements.")
    parser.add_argument("model", help="exported model: .pt2 / .pt (PyTorch) or .keras (with its .keras.json)")
    parser.add_argument("folder", help="folder of PNG, JPEG, TIFF or BMP images")
    parser.add_argument("--output", "-o", required=True, help="output folder (masks/ and the CSV)")
    parser.add_argument("--batch-size", type=int, default=8, help="images per forward pass (default 8)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="probability threshold of a one-output model (default: the model's, 0.5)")
    parser.add_argument("--carbide-masks", default=None, help="boundary models: folder of carbide masks named "
                                                              "like the images (adds the carbide ratio)")
    parser.add_argument("--leaf-masks", default=None, help="lesion models: folder of leaf masks named like the "
                                                           "images (lesion fraction of the leaf)")
    parser.add_argument("--pixel-size", type=float, default=None, help="micrometres per pixel (lengths in um)")
    parser.add_argument("--device", default="cpu", help="PyTorch models: cpu (default) or cuda")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notes would bury the warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DegeneratePredictionWarning)
        try:
            path = predict_folder(args.model, args.folder, args.output, batch_size=args.batch_size,
                                  threshold=args.threshold, carbide_masks=args.carbide_masks,
                                  leaf_masks=args.leaf_masks, pixel_size=args.pixel_size, device=args.device)
        except (FileNotFoundError, ValueError) as exc:
            parser.exit(2, f"{parser.prog}: error: {exc}\n")
    degenerate = False
    for w in caught:
        if issubclass(w.category, DegeneratePredictionWarning):
            degenerate = degenerate or "DEGENERATE" in str(w.message)
            print(f"WARNING: {w.message}")  # part of the report (stderr holds the frameworks' start-up notes)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    print(_table(rows))
    what = "masks in " + str(Path(args.output) / "masks") + " and " if path.name == "measurements.csv" else ""
    print(f"{len(rows)} image(s): wrote {what}{path}" + (" (see the 'degenerate' column)" if degenerate else ""))
    return 0


def _table(rows: list[dict[str, str]], max_rows: int = 10) -> str:
    """The CSV's first rows as aligned text (file paths and image sizes left out)."""
    if not rows:
        return ""
    cols = [c for c in rows[0] if c not in ("mask", "height", "width", "why", "class_index")]

    def cell(v: str) -> str:
        try:
            f = float(v)
        except ValueError:
            return v
        return v if f.is_integer() and "." not in v else f"{f:.4g}"

    body = [[cell(r[c]) for c in cols] for r in rows[:max_rows]]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(b, widths)) for b in body]
    if len(rows) > max_rows:
        lines.append(f"... {len(rows) - max_rows} more row(s)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
