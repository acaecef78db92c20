"""The ``results.json`` every notebook writes last, and its schema check.

The schema is fixed by ``CONTRIBUTING.md`` (the notebook contract); the book's scorecard is built
from these files, so a file that does not validate is refused at write time rather
than discovered when the book is built.

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
from numbers import Real
from pathlib import Path
from typing import Any

from .checks import check_choice

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

    Raises:
        ValueError: a key is missing, has the wrong type, or a claim is malformed.
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
        if claim["id"] in seen:
            raise ValueError(f"claim id {claim['id']!r} appears twice")
        seen.add(claim["id"])
    return data


class Results:
    """Collects a notebook's metrics and claims, and writes ``results.json`` atomically.

    Args:
        notebook: the notebook's stem, e.g. ``"01_grain_boundary_unet"``.
        profile: ``"smoke"``, ``"lite"`` or ``"full"`` (already resolved).
        data_source: ``"synthetic"`` or ``"real"``.
        seed: the run's seed.
        device: where it ran; defaults to :func:`helpers.runtime.device_name`.

    The clock starts when the object is made, so create it in the parameters'
    follow-up cell and the ``seconds`` field measures the whole run.
    """

    def __init__(self, notebook: str, *, profile: str, data_source: str, seed: int, device: str | None = None):
        check_choice(profile, "profile", ("smoke", "lite", "full"))
        check_choice(data_source, "data_source", ("synthetic", "real"))
        if device is None:
            from .runtime import device_name

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
