"""Argument checks shared by every public function.

Each check raises :class:`ValueError` (or :class:`TypeError`, :class:`FileNotFoundError`)
with a message that names the argument, what was expected and what was given, so a
reader who points a notebook at their own images learns at once what to fix.
They accept NumPy arrays and PyTorch tensors alike, and never copy data to the host
(a GPU tensor stays on the GPU).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in x.shape)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def check_array(x: Any, name: str) -> None:
    """Reject anything that is not a NumPy array or a torch tensor."""
    if not (isinstance(x, np.ndarray) or _is_torch(x) and hasattr(x, "shape")):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")


def check_ndim(x: Any, name: str, ndims: int | Sequence[int], layout: str = "") -> None:
    """Require ``x.ndim`` to be one of ``ndims``; ``layout`` (e.g. ``"(N, H, W)"``) goes in the message."""
    check_array(x, name)
    allowed = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.ndim not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        hint = f" {layout}" if layout else ""
        raise ValueError(f"{name} must be {want}{hint}, got shape {_shape(x)}")


def check_same_shape(a: Any, b: Any, name_a: str, name_b: str) -> None:
    """Require two arrays of exactly the same shape (e.g. an image and its mask)."""
    if _shape(a) != _shape(b):
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {_shape(a)} and {_shape(b)}")


def check_integer_labels(x: Any, name: str, num_classes: int | None = None, ignore_index: int | None = None) -> None:
    """Require an integer label array with values in ``[0, num_classes)`` (``ignore_index`` allowed)."""
    check_array(x, name)
    dtype = str(x.dtype)
    if not ("int" in dtype or dtype.endswith("bool")):
        raise ValueError(f"{name} must hold integer class indices, got dtype {dtype}")
    if num_classes is not None:
        valid = x if ignore_index is None else x[x != ignore_index]
        if (valid.numel() if _is_torch(valid) else valid.size) == 0:
            return
        lo, hi = int(valid.min()), int(valid.max())
        if lo < 0 or hi >= num_classes:
            extra = f" (or the ignore index {ignore_index})" if ignore_index is not None else ""
            raise ValueError(
                f"{name} must hold class indices in [0, {num_classes - 1}]{extra}, found values in [{lo}, {hi}]"
            )


def check_finite(x: Any, name: str) -> None:
    """Reject NaN or infinite values."""
    check_array(x, name)
    if _is_torch(x):
        import torch

        ok = bool(torch.isfinite(x).all()) if x.is_floating_point() else True
    else:
        ok = bool(np.isfinite(x).all()) if np.issubdtype(x.dtype, np.floating) else True
    if not ok:
        raise ValueError(f"{name} contains NaN or infinite values")


def check_range(x: Any, name: str, low: float, high: float) -> None:
    """Require every value in ``[low, high]`` (and finite)."""
    check_finite(x, name)
    n = x.numel() if _is_torch(x) else x.size
    if n == 0:
        return
    lo, hi = float(x.min()), float(x.max())
    if lo < low or hi > high:
        raise ValueError(f"{name} must lie in [{low}, {high}], found values in [{lo:.4g}, {hi:.4g}]")


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """Require ``value`` to be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_nonempty(x: Any, name: str) -> None:
    """Reject an empty array or sequence."""
    n = x.numel() if _is_torch(x) else (x.size if isinstance(x, np.ndarray) else len(x))
    if n == 0:
        raise ValueError(f"{name} is empty")


def check_file(path: str | Path, name: str = "path") -> Path:
    """Return ``path`` as a :class:`Path` if it names an existing, non-empty file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{name}: {p} does not exist")
    if not p.is_file():
        raise ValueError(f"{name}: {p} is not a file")
    if p.stat().st_size == 0:
        raise ValueError(f"{name}: {p} is empty (0 bytes)")
    return p


def check_dir(path: str | Path, name: str = "path") -> Path:
    """Return ``path`` as a :class:`Path` if it names an existing folder."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{name}: folder {p} does not exist")
    if not p.is_dir():
        raise ValueError(f"{name}: {p} is not a folder")
    return p


def check_range_pair(value: Any, name: str, low: float, high: float) -> tuple[float, float]:
    """``value`` as a pair ``(min, max)`` of floats with ``low <= min <= max <= high``.

    Example:
        >>> check_range_pair((2, 3), "size", 0, 10)
        (2.0, 3.0)
    """
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (min, max), got {value!r}") from None
    if not (low <= a <= b <= high):
        raise ValueError(f"{name} must be a pair (min, max) with {low} <= min <= max <= {high}, got {value!r}")
    return a, b


def check_seed(seed: Any, name: str = "seed") -> int:
    """Return ``seed`` as an int if it is a non-negative integer (what ``np.random.default_rng`` takes).

    Example:
        >>> check_seed(3)
        3
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_float_images(x: Any, who: str) -> None:
    """Require a floating-point torch tensor of images before a model's forward pass.

    Without it a NumPy array or an integer tensor fails deep inside ``conv2d`` with
    ``expected scalar type Long but found Float``.
    """
    if not (_is_torch(x) and hasattr(x, "is_floating_point")):
        raise TypeError(f"{who} expects a torch tensor of images (N, C, H, W), got {type(x).__name__}; "
                        "convert with torch.as_tensor(x)")
    if not x.is_floating_point():
        raise ValueError(f"{who} expects float images (N, C, H, W), got dtype {x.dtype}; "
                         "convert with x.float() (and scale to [0, 1])")


def check_number(value: Any, name: str, low: float, high: float, *, low_open: bool = False,
                 high_open: bool = False) -> float:
    """Return ``value`` as a finite float inside the interval, or raise a ValueError naming ``name``.

    Example:
        >>> check_number(0.5, "noise", 0.0, 1.0), check_number(3, "box", 0.0, float("inf"), low_open=True, high_open=True)
        (0.5, 3.0)
    """
    lo_b, hi_b = ("(" if low_open else "["), (")" if high_open else "]")
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not number or not np.isfinite(value):
        raise ValueError(f"{name} must be a number in {lo_b}{low}, {high}{hi_b}, got {value!r}")
    v = float(value)
    if (v <= low if low_open else v < low) or (v >= high if high_open else v > high):
        raise ValueError(f"{name} must be a number in {lo_b}{low}, {high}{hi_b}, got {v}")
    return v


def check_non_negative(value: Any, name: str, minimum: float = 0.0) -> float:
    """Return ``value`` as a float, or raise a ValueError unless it is a finite number >= ``minimum``.

    Weights, smoothing terms and tolerances of the losses are checked with it.

    Example:
        >>> check_non_negative(0.4, "aux_weight")
        0.4
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return float(value)
