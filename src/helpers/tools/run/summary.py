"""The scorecard of a run: a plain-text table, a Markdown table, and ``summary.json``/``summary.md``."""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers.core.results import atomic_write_text
from helpers.tools.run.record import NotebookRun, format_number


def _row(run: NotebookRun) -> list[str]:
    held = run.claims
    metrics = ", ".join(f"{k}={format_number(v)}" for k, v in run.headline.items()) or "-"
    return [run.name, run.status, f"{run.seconds:.1f}", _busy((run.gpu_usage or {}).get("gpu_busy_fraction")),
            run.profile, metrics, "-" if held is None else f"{held[0]}/{held[1]}"]


_HEADER = ["notebook", "status", "seconds", "GPU busy", "profile", "headline metrics", "claims held"]


def summary_table(runs: Iterable[NotebookRun]) -> str:
    """A plain-text table: notebook, status, seconds, GPU busy fraction, profile, headline metrics, claims held."""
    rows = [_HEADER] + [_row(r) for r in runs]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = []
    for j, row in enumerate(rows):
        cells = [c.rjust(w) if i in (2, 3) else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _busy(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction:.0%}"


def summary_markdown(records: Iterable[Mapping[str, Any]]) -> str:
    """A Markdown table of summary records (as written to ``summary.json``)."""
    lines = ["| notebook | status | profile | device | seconds | GPU busy | headline metrics | claims held |",
             "|---|---|---|---|---:|---:|---|---|"]
    for r in records:
        metrics = ", ".join(f"{k}={format_number(v)}" for k, v in (r.get("headline") or {}).items()) or "-"
        claims = "-" if r.get("claims_total") is None else f"{r['claims_held']}/{r['claims_total']}"
        cells = [r["notebook"], r["status"], r.get("profile") or "-", r.get("device") or "-",
                 f"{r.get('seconds', 0):.1f}", _busy(r.get("gpu_busy_fraction")), metrics, claims]
        lines.append("| " + " | ".join(_md_escape(str(c)) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(runs: Sequence[NotebookRun], output: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``summary.md`` in ``output``, merged with earlier entries.

    An earlier entry is kept unless a notebook of the same name ran now; entries are
    sorted by notebook name. Both files are replaced atomically.

    Returns:
        The paths of ``summary.json`` and ``summary.md``.
    """
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "summary.json", out / "summary.md"
    records: dict[str, dict[str, Any]] = {}
    if json_path.exists():
        try:
            for rec in json.loads(json_path.read_text()).get("runs", []):
                records[rec["notebook"]] = rec
        except (ValueError, KeyError, TypeError, AttributeError):
            records = {}  # unreadable: start afresh
    for run in runs:
        records[run.name] = run.to_dict(relative_to=out)
    ordered = [records[k] for k in sorted(records)]
    doc = {"updated": _dt.datetime.now().astimezone().isoformat(timespec="seconds"), "runs": ordered}
    atomic_write_text(json_path, json.dumps(doc, indent=2) + "\n")
    atomic_write_text(md_path, summary_markdown(ordered))
    return json_path, md_path
