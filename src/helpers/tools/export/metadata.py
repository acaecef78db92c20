"""The metadata of an exported model: its format, where it lies, and how it is written and read back.

The metadata is a JSON dict (``"format": "helpers-export"``) saved next to the model as
``<model file>.json`` (:func:`sidecar_path`) and, for a ``.pt2``/``.pt`` file, also inside it
(``helpers_export.json``). Reading it imports only the standard library (and torch for the copy inside
a PyTorch file), never the course's models or training code.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FORMAT = "helpers-export"
FORMAT_VERSION = 1
EMBEDDED_NAME = "helpers_export.json"
TASKS = ("segmentation", "classification")
MEASUREMENTS = ("boundary", "lesion_fraction", "class_areas")
ACTIVATIONS = ("auto", "sigmoid", "softmax", "none")
TORCH_FORMATS = {"export": ".pt2", "torchscript": ".pt"}
_FRAMEWORKS = {"export": "torch.export", "torchscript": "torchscript", "keras": "keras"}
_SUFFIX_FRAMEWORK = {".pt2": "torch.export", ".pt": "torchscript", ".keras": "keras"}


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """The JSON file next to an exported model: ``model.pt2`` -> ``model.pt2.json``."""
    p = Path(model_path)
    return p.with_name(p.name + ".json")


def _course_version() -> str:
    try:
        from helpers import __version__
    except ImportError:  # the module copied out of the course
        return "unknown"
    return __version__


def _base_metadata(*, framework: str, path: Path, task: str, names: list[str], num_outputs: int, activation: str,
                   measurement: str | None, foreground: int | None, layout: str, channels: int,
                   size: tuple[int | None, int | None], normalisation: dict | None, applied: str,
                   how_to_load: str, versions: dict[str, str], model_name: str, extra: dict) -> dict[str, Any]:
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "framework": framework, "file": path.name,
        "task": task, "class_names": names, "num_outputs": num_outputs,
        "output": ("probabilities (N, K, H, W)" if layout == "NCHW" else "probabilities (N, H, W, K)")
        if task == "segmentation" else "probabilities (N, K)",
        "activation": activation, "threshold": 0.5 if num_outputs == 1 else None,
        "foreground_class": foreground, "measurement": measurement,
        "input": {"layout": layout, "channels": channels, "height": size[0], "width": size[1], "dtype": "float32",
                  "range": [0.0, 1.0], "colour": "grey" if channels == 1 else "rgb" if channels == 3 else "other",
                  "scaling": "pixel values / their dtype's range (8-bit / 255, 16-bit / 65535), never by the "
                             "image's own maximum"},
        "normalisation": None if normalisation is None else {**normalisation, "applied": applied},
        "how_to_load": how_to_load, "model": model_name, "course_version": _course_version(), **versions,
        "extra": extra,
    }


def _write_sidecar(path: Path, meta: Mapping[str, Any]) -> None:
    sidecar_path(path).write_text(json.dumps(meta, indent=2) + "\n")


def read_metadata(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """The model file and its metadata, from the model file or from its ``.json`` side file.

    The side file wins over the copy inside a ``.pt2``/``.pt`` file (so class names can be edited).

    Raises:
        FileNotFoundError: the model file (or the side file given) does not exist.
        ValueError: no metadata (a ``.keras`` file without its side file, or a file not written by
            :func:`export_torch` / :func:`export_keras`), or metadata that does not fit the file.
    """
    p = Path(path)
    if p.suffix == ".json":
        if not p.is_file():
            raise FileNotFoundError(f"metadata file {p} does not exist")
        meta = _parse_metadata(p.read_text(), p)
        model_path = p.with_name(str(meta.get("file") or p.name[:-len(".json")]))
    else:
        model_path, meta = p, None
    if not model_path.is_file():
        hint = "" if model_path.suffix in _SUFFIX_FRAMEWORK else \
            f" (exported models end in {', '.join(_SUFFIX_FRAMEWORK)})"
        raise FileNotFoundError(f"model file {model_path} does not exist{hint}")
    framework = _SUFFIX_FRAMEWORK.get(model_path.suffix)
    if framework is None:
        raise ValueError(f"{model_path} is not an exported model: expected a file ending in "
                         f"{', '.join(_SUFFIX_FRAMEWORK)} written by helpers.tools.export")
    if meta is None:
        side = sidecar_path(model_path)
        if side.is_file():
            meta = _parse_metadata(side.read_text(), side)
        elif framework != "keras":
            meta = _embedded_metadata(model_path, framework)
        if meta is None:
            raise ValueError(f"{model_path} has no metadata: expected {side.name} next to it (written with the "
                             "model by helpers.tools.export's export_keras / export_torch)")
    if meta.get("framework") != framework:
        raise ValueError(f"{model_path}: the metadata describes a {meta.get('framework')!r} model, "
                         f"but the file is a {framework!r} one")
    return model_path, meta


def _parse_metadata(text: str, where: Path) -> dict[str, Any]:
    try:
        meta = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{where} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{where} is not the metadata of an exported model (no \"format\": \"{FORMAT}\")")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{where} has format_version {meta.get('format_version')}; this code reads up to "
                         f"{FORMAT_VERSION} (update the course package)")
    for key in ("task", "class_names", "num_outputs", "input"):
        if key not in meta:
            raise ValueError(f"{where} lacks the metadata entry {key!r}")
    if meta["task"] not in TASKS:
        raise ValueError(f"{where}: task must be one of {TASKS}, got {meta['task']!r}")
    return meta


def _embedded_metadata(model_path: Path, framework: str) -> dict[str, Any] | None:
    import torch

    files = {EMBEDDED_NAME: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            if framework == "torch.export":
                torch.export.load(str(model_path), extra_files=files)
            else:
                torch.jit.load(str(model_path), map_location="cpu", _extra_files=files)
        except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file
            raise ValueError(f"cannot load {model_path} as a {framework} model ({type(exc).__name__}: "
                             f"{str(exc)[:300]})") from None
    blob = files.get(EMBEDDED_NAME)
    if isinstance(blob, bytes):
        blob = blob.decode()
    return _parse_metadata(blob, model_path) if blob else None
