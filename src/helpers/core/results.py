"""The ``results.json`` every notebook writes last, and its schema check.

The schema is fixed by ``CONTRIBUTING.md`` (the notebook contract); the book's scorecard is built
from these files, so a file that does not validate is refused at write time rather
than discovered when the book is built.

A claim is best recorded as a measured comparison with :meth:`Results.measured_claim`: the effect,
its uncertainty and the verdict (reproduced / within noise / contradicted / not tested) are computed
from per-seed or per-image values by :mod:`helpers.core.claims`. :meth:`Results.claim` (a measured value
and a ``holds`` computed by the notebook) still works, and such claims still validate.

Example:
    >>> rec = Results("00_getting_started", profile="smoke", data_source="synthetic", seed=0)
    >>> rec.metric("iou", 0.81)
    >>> c = rec.claim("iou_beats_chance", paper="IoU above 0.5", paper_value=">0.5",
    ...               ours=0.81, holds=0.81 > 0.5)
    >>> c["holds"]
    True
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.checks import check_choice
from helpers.core.claims import DIRECTIONS, SOURCES, VERDICTS, measured_claim, verdict

REQUIRED_KEYS = {
    "notebook": str,
    "profile": str,
    "data_source": str,
    "device": str,
    "seconds": Real,
    "seed": int,
    "metrics": dict,
    "claims": list,
}
CLAIM_KEYS = {"id": str, "paper": str, "paper_value": (str, Real), "ours": (Real, str, type(None)), "holds": bool}


def _plain(value: Any) -> Any:
    """Turn NumPy/torch scalars and arrays into JSON-friendly Python values."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    elif hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def validate_results(data: dict[str, Any]) -> dict[str, Any]:
    """Check a results record against the spec's schema; return it unchanged.

    A claim with a ``verdict`` (from :meth:`Results.measured_claim`) is checked further: the verdict is
    one of the four, ``holds == (verdict == "reproduced")``, ``uncertainty`` has ``kind``, ``n``, ``low``,
    ``high`` with ``low <= high`` (both null only when not tested), ``unit``, ``quote``, ``data_source``
    and ``source`` are given, a claim not tested says why (``reason``), and the verdict follows from
    ``ours``, the interval and ``direction``.

    Raises:
        ValueError: a key is missing, has the wrong type, or a claim is malformed or inconsistent.
    """
    if not isinstance(data, dict):
        raise ValueError(f"results must be a dict, got {type(data).__name__}")
    for key, typ in REQUIRED_KEYS.items():
        if key not in data:
            raise ValueError(f"results is missing the key {key!r}")
        if isinstance(data[key], bool) or not isinstance(data[key], typ):
            raise ValueError(f"results[{key!r}] must be {getattr(typ, '__name__', typ)}, got {data[key]!r}")
    check_choice(data["profile"], "results['profile']", ("smoke", "lite", "full"))
    check_choice(data["data_source"], "results['data_source']", ("synthetic", "real"))
    for name, value in data["metrics"].items():
        if not isinstance(value, (Real, str, list, dict, type(None))):
            raise ValueError(f"metric {name!r} must be a number, string, list or dict, got {type(value).__name__}")
    seen = set()
    for i, claim in enumerate(data["claims"]):
        if not isinstance(claim, dict):
            raise ValueError(f"claims[{i}] must be a dict, got {type(claim).__name__}")
        for key, typ in CLAIM_KEYS.items():
            if key not in claim:
                raise ValueError(f"claims[{i}] is missing the key {key!r}")
            if not isinstance(claim[key], typ) or (key == "holds") != isinstance(claim[key], bool):
                raise ValueError(f"claims[{i}][{key!r}] has the wrong type: {claim[key]!r}")
        if "headline" in claim and not isinstance(claim["headline"], bool):
            raise ValueError(f"claims[{i}]['headline'] must be a bool, got {claim['headline']!r}")
        if "verdict" in claim:
            _validate_measured_claim(claim, f"claims[{i}]")
        if claim["id"] in seen:
            raise ValueError(f"claim id {claim['id']!r} appears twice")
        seen.add(claim["id"])
    return data


def _is_number(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _validate_measured_claim(claim: dict[str, Any], where: str) -> None:
    """The checks on a claim that carries a ``verdict`` (one made by :func:`helpers.core.claims.measured_claim`).

    Old claims (``holds`` only, from :meth:`Results.claim`) have no ``verdict`` and skip these checks.
    """
    v = claim["verdict"]
    if v not in VERDICTS:
        raise ValueError(f"{where}['verdict'] must be one of {list(VERDICTS)}, got {v!r}")
    if claim["holds"] != (v == "reproduced"):
        raise ValueError(f"{where}: holds must equal verdict == 'reproduced', got holds={claim['holds']!r} "
                         f"with verdict {v!r}")
    for key in ("unit", "quote", "data_source"):
        if not isinstance(claim.get(key), str) or not claim[key].strip():
            raise ValueError(f"{where}[{key!r}] must be a non-empty string, got {claim.get(key)!r}")
    if claim.get("source") not in SOURCES:
        raise ValueError(f"{where}['source'] must be one of {list(SOURCES)} (who makes the claim), "
                         f"got {claim.get('source')!r}")
    if claim.get("headline") and claim["source"] == "course":
        raise ValueError(f"{where}: a course question (source 'course') cannot be the paper's headline claim")
    unc = claim.get("uncertainty")
    if not isinstance(unc, dict):
        raise ValueError(f"{where}['uncertainty'] must be a dict with kind, n, low, high, got {unc!r}")
    for key in ("kind", "n", "low", "high"):
        if key not in unc:
            raise ValueError(f"{where}['uncertainty'] is missing the key {key!r}")
    if not isinstance(unc["kind"], str) or not unc["kind"].strip():
        raise ValueError(f"{where}['uncertainty']['kind'] must be a non-empty string, got {unc['kind']!r}")
    if isinstance(unc["n"], bool) or not isinstance(unc["n"], int) or unc["n"] < 0:
        raise ValueError(f"{where}['uncertainty']['n'] must be an integer >= 0, got {unc['n']!r}")
    low, high = unc["low"], unc["high"]
    if low is None and high is None:
        if v != "not tested":
            raise ValueError(f"{where}: verdict {v!r} needs an interval (uncertainty low and high), got none")
    elif not (_is_number(low) and _is_number(high) and math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{where}['uncertainty'] low and high must both be finite numbers (or both null), "
                         f"got low={low!r}, high={high!r}")
    elif low > high:
        raise ValueError(f"{where}['uncertainty'] must have low <= high, got low={low}, high={high}")
    if v == "not tested":
        if not isinstance(claim.get("reason"), str) or not claim["reason"].strip():
            raise ValueError(f"{where}: a claim 'not tested' must say why in 'reason', got {claim.get('reason')!r}")
    elif not _is_number(claim["ours"]):
        raise ValueError(f"{where}: verdict {v!r} needs a measured number in 'ours', got {claim['ours']!r}")
    if "direction" in claim:
        if claim["direction"] not in DIRECTIONS:
            raise ValueError(f"{where}['direction'] must be one of {list(DIRECTIONS)}, got {claim['direction']!r}")
        if v != "not tested":
            expected = verdict(claim["ours"], low, high, claim["direction"])
            if expected != v:
                raise ValueError(f"{where}: verdict {v!r} does not follow from ours={claim['ours']}, "
                                 f"interval [{low}, {high}] and direction {claim['direction']!r} "
                                 f"(that gives {expected!r})")


class Results:
    """Collects a notebook's metrics and claims, and writes ``results.json`` atomically.

    Args:
        notebook: the notebook's stem, e.g. ``"01_grain_boundary_unet"``.
        profile: ``"smoke"``, ``"lite"`` or ``"full"`` (already resolved).
        data_source: ``"synthetic"`` or ``"real"``.
        seed: the run's seed.
        device: where it ran; defaults to :func:`helpers.core.runtime.device_name`.

    The clock starts when the object is made, so create it in the parameters'
    follow-up cell and the ``seconds`` field measures the whole run.
    """

    def __init__(self, notebook: str, *, profile: str, data_source: str, seed: int, device: str | None = None):
        check_choice(profile, "profile", ("smoke", "lite", "full"))
        check_choice(data_source, "data_source", ("synthetic", "real"))
        if device is None:
            from helpers.core.runtime import device_name

            device = device_name()
        self.notebook = notebook
        self.profile = profile
        self.data_source = data_source
        self.seed = int(seed)
        self.device = device
        self.metrics: dict[str, Any] = {}
        self.claims: list[dict[str, Any]] = []
        self._start = time.perf_counter()

    def metric(self, name: str, value: Any) -> None:
        """Record one measured value (NumPy/torch scalars are converted)."""
        self.metrics[name] = _plain(value)

    def claim(self, id: str, *, paper: str, paper_value: str | float, ours: Any, holds: Any,
              headline: bool = False) -> dict[str, Any]:
        """Record a paper claim with our measured value and whether it holds.

        ``holds`` must be computed from measured values, e.g. ``holds=ours > 0``. ``headline`` marks the
        paper's main result: the one the ``lite`` profile is sized to show within a class period.
        Prefer :meth:`measured_claim`, which computes the verdict and its uncertainty from the values.
        """
        holds = _plain(holds)
        if not isinstance(holds, bool):
            raise ValueError(f"claim {id!r}: holds must be a bool computed from measurements, got {holds!r}")
        if not isinstance(headline, bool):
            raise ValueError(f"claim {id!r}: headline must be a bool, got {headline!r}")
        claim = {"id": id, "paper": paper, "paper_value": _plain(paper_value), "ours": _plain(ours), "holds": holds,
                 "headline": headline}
        self.claims = [c for c in self.claims if c["id"] != id] + [claim]
        return claim

    def measured_claim(self, id: str, *, paper: str, quote: str, paper_value: str | float, unit: str,
                       kind: str, baseline: Any = None, variant: Any = None, effects: Any = None,
                       direction: str | None = None, source: str = "paper", headline: bool = False,
                       data_source: str | None = None, degenerate_reason: str | None = None,
                       confidence: float = 0.95, n_boot: int = 10000, seed: int = 0,
                       statistic: Callable[..., Any] = np.mean) -> dict[str, Any]:
        """Record a claim as a measured comparison: effect, uncertainty and verdict from the values.

        The arguments are those of :func:`helpers.core.claims.measured_claim` (which see); ``data_source``
        defaults to the run's. A claim with the same id replaces the earlier one.

        Example:
            >>> rec = Results("01_grain_boundary_unet", profile="smoke", data_source="synthetic", seed=0,
            ...               device="CPU")
            >>> c = rec.measured_claim("fig8_residual_helps_when_deep", paper="IoU gain with skip at depth>=3",
            ...     quote="Fig. 8: residual connections raise IoU for the deeper networks", paper_value="+",
            ...     unit="IoU (fraction)", kind="paired seeds",
            ...     baseline=[0.70, 0.72, 0.71], variant=[0.74, 0.75, 0.76], headline=True)
            >>> c["verdict"], c["holds"], c["data_source"]
            ('reproduced', True, 'synthetic')
        """
        claim = measured_claim(id, paper=paper, quote=quote, paper_value=paper_value, unit=unit, kind=kind,
                               data_source=self.data_source if data_source is None else data_source,
                               baseline=baseline, variant=variant, effects=effects, direction=direction,
                               source=source, headline=headline, degenerate_reason=degenerate_reason,
                               confidence=confidence, n_boot=n_boot, seed=seed, statistic=statistic)
        claim = _plain(claim)
        self.claims = [c for c in self.claims if c["id"] != id] + [claim]
        return claim

    def to_dict(self) -> dict[str, Any]:
        return validate_results({
            "notebook": self.notebook,
            "profile": self.profile,
            "data_source": self.data_source,
            "device": self.device,
            "seconds": round(time.perf_counter() - self._start, 2),
            "seed": self.seed,
            "metrics": self.metrics,
            "claims": self.claims,
        })

    def write(self, output_dir: str | os.PathLike) -> Path:
        """Validate and write ``output_dir/results.json`` (atomic: never half a file)."""
        path = Path(output_dir) / "results.json"
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: a reader never sees half a file.

    The parent folder is created; the file is readable by others (``mkstemp`` alone makes it owner-only,
    which hides results from the other users of a shared hub).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a ``results.json`` (a folder is taken to contain one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p} is not valid JSON: {exc}") from exc
    return validate_results(data)
