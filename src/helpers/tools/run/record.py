"""What happened to one notebook (:class:`NotebookRun`) and the headline numbers it reports."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

STATUSES = ("ok", "failed", "timeout", "no-results", "prepared")


@dataclass
class NotebookRun:
    """What happened to one notebook.

    Attributes:
        name: the notebook's stem, e.g. ``"01_grain_boundary_unet"``.
        status: ``"ok"``, ``"failed"``, ``"timeout"``, ``"no-results"`` or ``"prepared"``.
        seconds: wall time of the notebook's process (0 for ``--prepare-only``).
        output: the executed (or prepared) notebook: ``<output>/<stem>/<stem>.ipynb``,
            or the source notebook after a successful ``--in-place`` run.
        error: the last error line (from the notebook's traceback, else papermill's log),
            ``None`` when the run succeeded.
        results: the validated ``results.json`` the notebook wrote, ``None`` when absent.
        profile: the resolved profile the notebook was given.
        source: the source notebook.
        output_dir: the folder given to the notebook as ``output_dir``.
        gpu: the ``CUDA_VISIBLE_DEVICES`` value given to this notebook, ``None`` if inherited.
        gpu_usage: the runner's watch of the GPUs while the notebook ran
            (:class:`helpers.tools.run.gpu_usage.GpuUsage`: busy fraction, peak memory, samples).
    """

    name: str
    status: str
    seconds: float
    output: Path
    error: str | None = None
    results: dict[str, Any] | None = None
    profile: str = "smoke"
    source: Path | None = None
    output_dir: Path | None = None
    gpu: str | None = None
    gpu_usage: dict[str, Any] | None = None
    finished: str = field(default_factory=lambda: _dt.datetime.now().astimezone().isoformat(timespec="seconds"))

    @property
    def ok(self) -> bool:
        """True for ``ok`` and ``prepared``: the statuses that do not fail the run."""
        return self.status in ("ok", "prepared")

    @property
    def headline(self) -> dict[str, float]:
        """The first three numeric entries of the results' ``metrics`` (booleans excluded)."""
        return headline_metrics(self.results)

    @property
    def claims(self) -> tuple[int, int] | None:
        """``(held, total)`` over the results' claims, ``None`` without results."""
        if self.results is None:
            return None
        claims = self.results.get("claims", [])
        return sum(bool(c.get("holds")) for c in claims), len(claims)

    def to_dict(self, relative_to: Path | None = None) -> dict[str, Any]:
        """A JSON-ready record (paths relative to ``relative_to`` when given)."""
        held = self.claims
        return {
            "notebook": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 1),
            "gpu_busy_fraction": (self.gpu_usage or {}).get("gpu_busy_fraction"),
            "gpu_memory_peak_mib": (self.gpu_usage or {}).get("gpu_memory_peak_mib"),
            "profile": self.profile,
            "device": (self.results or {}).get("device"),
            "headline": self.headline,
            "claims_held": None if held is None else held[0],
            "claims_total": None if held is None else held[1],
            "error": self.error,
            "output": _portable(self.output, relative_to),
            "finished": self.finished,
            "results": self.results,
        }


def headline_metrics(results: Mapping[str, Any] | None, n: int = 3) -> dict[str, float]:
    """The first ``n`` numeric entries (not booleans) of ``results["metrics"]``."""
    if not results:
        return {}
    out: dict[str, float] = {}
    for key, value in results.get("metrics", {}).items():
        if isinstance(value, Real) and not isinstance(value, bool):
            out[key] = value
            if len(out) == n:
                break
    return out


def format_number(value: float) -> str:
    """Compact number: ``0.8312`` -> ``0.831``, ``1234.5`` -> ``1234``, ``3`` -> ``3``.

    Example:
        >>> [format_number(v) for v in (0.83124, 1234.5, 3, 1.2e-7, 2.5e6)]
        ['0.831', '1234', '3', '1.2e-07', '2.5e+06']
    """
    if isinstance(value, int):
        return str(value)
    v = float(value)
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    if 100 <= abs(v) < 1e5:
        return f"{v:.0f}"
    return f"{v:.3g}"


def _portable(path: Path | None, relative_to: Path | None) -> str | None:
    if path is None:
        return None
    if relative_to is not None:
        try:
            return os.path.relpath(path, relative_to)
        except ValueError:  # another drive on Windows
            pass
    return str(path)
