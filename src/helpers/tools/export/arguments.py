"""Checks of the arguments both exporters share: task, measurement, class names, foreground class,
normalisation, activation, extra values and the model's file path.

Each check returns the value to record in the metadata or raises ``ValueError`` saying what is wrong.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from helpers.tools.export.metadata import ACTIVATIONS, MEASUREMENTS, TASKS


def _check_task(task: Any) -> str:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return task


def _check_measurement(measurement: Any, task: str) -> str | None:
    if measurement is None:
        return None
    if measurement not in MEASUREMENTS:
        raise ValueError(f"measurement must be one of {MEASUREMENTS} or None, got {measurement!r}")
    if task != "segmentation":
        raise ValueError(f"measurement {measurement!r} measures masks; a {task} model takes measurement=None")
    return measurement


def _output_classes(num_outputs: int, class_names: Any, task: str) -> list[str]:
    """Class names: one per output channel, two for a single-output (sigmoid) model."""
    n = 2 if num_outputs == 1 else num_outputs
    if class_names is None:
        if num_outputs == 1:
            return ["background", "foreground"] if task == "segmentation" else ["negative", "positive"]
        return [f"class {i}" for i in range(n)]
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise ValueError(f"class_names must be a list of strings, got {class_names!r}")
    names = list(class_names)
    if not all(isinstance(c, str) and c.strip() for c in names) or len(set(names)) != len(names):
        raise ValueError(f"class_names must be distinct non-empty strings, got {names!r}")
    if len(names) != n:
        why = " (a one-output model separates two classes: name the background too)" if num_outputs == 1 else ""
        raise ValueError(f"the model has {num_outputs} output channel(s), so class_names needs {n} names{why}; "
                         f"got {len(names)}: {names}")
    return names


def _foreground(foreground_class: Any, names: list[str], measurement: str | None) -> int | None:
    if foreground_class is None:
        if measurement in ("boundary", "lesion_fraction"):
            if len(names) != 2:
                raise ValueError(f"measurement {measurement!r} on a {len(names)}-class model: say which class "
                                 f"it measures with foreground_class= (an index into {names})")
            return 1
        return 1 if len(names) == 2 else None
    if isinstance(foreground_class, str):
        if foreground_class not in names:
            raise ValueError(f"foreground_class {foreground_class!r} is not among the class names {names}")
        return names.index(foreground_class)
    if isinstance(foreground_class, bool) or not isinstance(foreground_class, (int, np.integer)) \
            or not 0 <= int(foreground_class) < len(names):
        raise ValueError(f"foreground_class must be a class index in [0, {len(names) - 1}] or a name, "
                         f"got {foreground_class!r}")
    return int(foreground_class)


def _check_normalisation(normalisation: Any, channels: int) -> dict[str, list[float]] | None:
    if normalisation is None:
        return None
    if not isinstance(normalisation, Mapping) or set(normalisation) != {"mean", "std"}:
        raise ValueError(f"normalisation must be None or a dict with keys 'mean' and 'std', got {normalisation!r}")
    out = {}
    for key in ("mean", "std"):
        try:
            v = np.asarray(normalisation[key], np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"normalisation[{key!r}] must be a number or one number per channel, "
                             f"got {normalisation[key]!r}") from None
        if v.size == 1:
            v = np.repeat(v, channels)
        if v.size != channels:
            raise ValueError(f"normalisation[{key!r}] has {v.size} values for a {channels}-channel input; "
                             "give one value, or one per channel")
        if not np.isfinite(v).all() or (key == "std" and not (v > 0).all()):
            raise ValueError(f"normalisation[{key!r}] must be finite{' and > 0' if key == 'std' else ''}, "
                             f"got {v.tolist()}")
        out[key] = [float(a) for a in v]
    return out


def _check_activation(activation: Any) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return activation


def _check_extra(extra: Any) -> dict[str, Any]:
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise ValueError(f"extra must be a dict of JSON values, got {type(extra).__name__}")
    try:
        return json.loads(json.dumps(dict(extra)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"extra must hold JSON values only (numbers, strings, lists, dicts): {exc}") from None


def _model_path(path: Any, suffix: str, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValueError(f"path must be a file path, got {path!r}")
    p = Path(path)
    if p.suffix == "":
        p = p.with_name(p.name + suffix)
    elif p.suffix != suffix:
        raise ValueError(f"{what} is saved as a {suffix} file; got a path ending in {p.suffix!r} ({p})")
    if p.is_dir():
        raise ValueError(f"{p} is a folder; give a file name")
    return p
