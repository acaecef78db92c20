"""The benchmark's Markdown: the table of ``bench.json`` (``results/bench.md``, :func:`bench_markdown`) and
the book's performance page (``book/performance.md``, :func:`write_performance_page`): the benchmark,
its targets judged, and the wall time of every notebook from the runner's summaries.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.results import atomic_write_text
from helpers.tools.bench.targets import (TARGET_BUSY, TARGET_FULL_SECONDS, TARGET_LITE_CPU_SECONDS,
                                         TARGET_LITE_GPU_SECONDS, TARGET_NOTEBOOK_BUSY, TARGET_PARALLEL_GAIN,
                                         TARGET_SMOKE_SECONDS, TARGET_SPEEDUP)

__all__ = ["ROOT", "bench_markdown", "profile_column", "results_json_records", "performance_markdown",
           "write_performance_page"]

ROOT = Path(__file__).resolve().parents[4]  # src/helpers/tools/bench/report.py -> the repository


# ----------------------------------------------------------------------------- Markdown


def _f(v: Any, fmt: str = "{:.3g}") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return fmt.format(v)
    return str(v).replace("|", "/")


def bench_markdown(doc: Mapping[str, Any]) -> str:
    """The benchmark table of a ``bench.json`` document (as Markdown)."""
    lines = [f"Device: {doc.get('device')}; dense bf16 peak: {_f(doc.get('peak_bf16_tflops'))} TFLOP/s; "
             f"timed steps per twin: {doc.get('settings', {}).get('steps')}, after "
             f"{doc.get('settings', {}).get('warmup')} warm-up steps"
             f"{' (quick: toy sizes)' if doc.get('quick') else ''}.", "",
             "| model | framework | batch | image | fp32 img/s | optimised img/s | speedup | optimised path | "
             "step ms fp32 / bf16 / compiled | peak mem GB | TFLOP/s | of bf16 peak | compile s |",
             "|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|"]
    for r in doc.get("rows", []):
        steps = " / ".join(_f(r.get(k), "{:.1f}") for k in ("fp32_step_ms", "bf16_step_ms", "compiled_step_ms"))
        frac = r.get("peak_fraction")
        speed = r.get("speedup")
        lines.append("| " + " | ".join([
            r["model"], r["framework"], str(r["batch"]), f"{r['image_size']} px",
            _f(r.get("fp32_images_per_s"), "{:.1f}"), _f(r.get("optimized_images_per_s"), "{:.1f}"),
            "-" if speed is None else f"{speed:.2f}x", _f(r.get("optimized_variant")), steps,
            _f(r.get("peak_memory_gb"), "{:.2f}"), _f(r.get("tflops"), "{:.3g}"),
            "-" if frac is None else f"{100 * frac:.1f} %", _f(r.get("compile_seconds"), "{:.0f}")]) + " |")
    syncs = [(r["model"], r["host_syncs_per_step"]) for r in doc.get("rows", []) if r.get("host_syncs_per_step")]
    if any(r.get("host_syncs_per_step") is not None for r in doc.get("rows", [])):
        lines += ["", "Host synchronisations per optimised (bf16 eager) step, counted with "
                  "`torch.cuda.set_sync_debug_mode`: " + ("; ".join(f"{m}: {n}" for m, n in syncs) if syncs
                                                          else "none in any model") + "."]
    errors = [(r["model"], k, v) for r in doc.get("rows", []) for k, v in (r.get("errors") or {}).items()]
    if errors:
        lines += ["", "Failed twins: " + "; ".join(f"{m} {k}: {v}" for m, k, v in errors) + "."]
    busy = doc.get("busy") or []
    if busy:
        lines += ["", "| training loop | batch | image | GPU busy | method | seconds |",
                  "|---|---:|---:|---:|---|---:|"]
        for b in busy:
            frac = b.get("busy_fraction")
            lines.append(f"| {_f(b.get('loop'))} | {_f(b.get('batch'))} | {_f(b.get('image_size'))} | "
                         f"{'-' if frac is None else f'{100 * frac:.0f} %'} | "
                         f"{_f(b.get('method') or b.get('error'))} | "
                         f"{_f(b.get('seconds'), '{:.1f}')} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- the book page


def _load_summaries(paths: Sequence[str | os.PathLike]) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(notebook, profile): record}`` from one or more runner summaries; later files win."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for p in paths:
        p = Path(p)
        if not p.is_file():
            continue
        for rec in json.loads(p.read_text()).get("runs", []):
            out[(rec["notebook"], profile_column(rec.get("profile"), rec.get("device")))] = rec
    return out


def profile_column(profile: str | None, device: str | None) -> str:
    """The cost table's column of a run: its profile, and for ``lite`` whether it ran on a CPU or a GPU
    (lite has a target on each).

    Example:
        >>> profile_column("lite", "CPU (x86_64, 2 cores)"), profile_column("lite", "NVIDIA H200")
        ('lite (CPU)', 'lite (GPU)')
    """
    profile = profile or "?"
    if profile != "lite":
        return profile
    return "lite (CPU)" if "CPU" in str(device) else "lite (GPU)"


def results_json_records(results_dir: str | os.PathLike, notebooks: Sequence[str],
                         have: Mapping[tuple[str, str], Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Records for notebooks the runner's summary lacks, from their committed ``results.json``.

    A notebook's ``results.json`` holds its own wall time (``seconds``); it is used only where no
    runner record exists for that notebook and profile, and marked ``source: results.json``.
    """
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for nb in notebooks:
        path = Path(results_dir) / nb / "results.json"
        if not path.is_file():
            continue
        doc = json.loads(path.read_text())
        key = (nb, doc.get("profile") or "?")
        if key in have or doc.get("seconds") is None:
            continue
        claims = doc.get("claims") or []
        out[key] = {"notebook": nb, "profile": key[1], "status": "ok", "seconds": float(doc["seconds"]),
                    "device": doc.get("device"), "source": "results.json", "results": doc,
                    "claims_held": sum(bool(c.get("holds")) for c in claims), "claims_total": len(claims)}
    return out


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def performance_markdown(bench: Mapping[str, Any] | None, summaries: Mapping[tuple[str, str], Mapping[str, Any]],
                         notes: Mapping[str, str] | None = None, sources: Sequence[str] = (),
                         expected_notebooks: Sequence[str] | None = None) -> str:
    """The text of ``book/performance.md`` from a ``bench.json`` document and runner summary records.

    ``summaries`` maps ``(notebook, profile)`` to the runner's record; ``expected_notebooks`` (stems)
    are the notebooks a profile's total must include to be judged against its target.
    """
    notes = dict(notes or {})
    if bench is not None:
        notes = {**(bench.get("notes") or {}), **notes}
    lines = ["# Performance", "",
             "How fast the course trains, and what a full run costs. This page is generated by "
             "`helpers.tools.bench.write_performance_page` from " + (", ".join(f"`{s}`" for s in sources) or "the JSON files")
             + "; no number on it is typed by hand.", ""]
    # --- benchmark
    lines += ["## Training speed: optimised path against fp32 eager", ""]
    if bench is None or not bench.get("rows"):
        lines += ["No benchmark has been run yet (`KERAS_BACKEND=torch python -m helpers.tools.bench`).", ""]
    else:
        cmds = [c for c in (bench.get("commands") or [bench.get("command")]) if c]
        if cmds:
            lines += [f"Measured with {' and '.join(f'`{c}`' for c in cmds)} on {bench.get('created', '?')}.", ""]
        lines += [bench_markdown(bench), ""]
    # --- targets
    lines += ["## Targets", "",
              "The lite profile's GPU target stands for a free Colab T4, which this project cannot rent: a T4 has "
              "about 1/15 of an H200's bf16/fp16 throughput (65 against 989 TFLOP/s dense) and of its memory "
              "bandwidth (320 GB/s against 4.8 TB/s), so 10 minutes on a T4 is taken as at most "
              f"{TARGET_LITE_GPU_SECONDS:.0f} s on the H200 (start-up included, which does not scale).", "",
              "| target | measured | verdict |", "|---|---|---|"]
    device = (bench or {}).get("device") or ""
    on_h100 = "H100" in device
    for r in (bench or {}).get("rows", []):
        if r.get("framework") != "torch":
            continue
        s = r.get("speedup")
        ok = None if s is None else s >= TARGET_SPEEDUP
        what = "-" if s is None else f"{s:.2f}x on {device}"
        if ok is False:
            what += f" ({TARGET_SPEEDUP / s:.2f}x short)"
        verdict = _verdict(ok) if on_h100 or ok is None else "not measured on an H100"
        lines.append(f"| {r['model']}: optimised step >= {TARGET_SPEEDUP}x fp32 eager | {what} | {verdict} |")
    if not (bench or {}).get("busy"):
        lines.append(f"| GPU busy >= {100 * TARGET_BUSY:.0f} % in the notebooks' training loops | - | not measured |")
    for b in (bench or {}).get("busy", []):
        if b.get("reference"):  # not a notebook's loop: shown in the busy table, not a target
            continue
        f = b.get("busy_fraction")
        ok = None if f is None else f >= TARGET_BUSY
        what = "-" if f is None else f"{100 * f:.0f} % ({b.get('method')})"
        if ok is False:
            what += f", {100 * (TARGET_BUSY - f):.0f} points short"
        lines.append(f"| GPU busy >= {100 * TARGET_BUSY:.0f} %: {_f(b.get('loop'))} | {what} | {_verdict(ok)} |")
    full_recs = sorted((v for (nb, p), v in summaries.items() if p == "full" and nb[:2] != "00"),
                       key=lambda v: v["notebook"])
    for v in full_recs:  # the runner's NVML watch over each notebook's whole run
        f = v.get("gpu_busy_fraction")
        ok = None if f is None else f >= TARGET_NOTEBOOK_BUSY
        what = "-" if f is None else f"{100 * f:.0f} % ({v.get('device')})"
        if ok is False:
            what += f", {100 * (TARGET_NOTEBOOK_BUSY - f):.0f} points short"
        if v.get("shared_gpu") and f is not None:
            # NVML's busy fraction is the device's: with other notebooks on it, it is not this notebook's own
            what += f"; GPU shared ({v['shared_gpu']})"
            verdict = "not measured alone"
        else:
            verdict = _verdict(ok)
        lines.append(f"| {v['notebook']}, full profile, GPU busy >= {100 * TARGET_NOTEBOOK_BUSY:.0f} % over the "
                     f"whole run | {what} | {verdict} |")
    for profile, limit, where in (("full", TARGET_FULL_SECONDS, "one GPU"),
                                  ("smoke", TARGET_SMOKE_SECONDS, "2 CPU cores")):
        recs = [v for (nb, p), v in summaries.items() if p == profile]
        if not recs:
            lines.append(f"| all notebooks, {profile} profile, <= {limit / 60:.0f} min on {where} | - | not measured |")
            continue
        total = sum(float(v.get("seconds") or 0) for v in recs)
        bad = [v["notebook"] for v in recs if v.get("status") != "ok"]
        missing = sorted(set(expected_notebooks or ()) - {v["notebook"] for v in recs})
        ok = total <= limit and not bad
        shared = [v["notebook"] for v in recs if v.get("shared_gpu")]
        devices = sorted({str(v.get("device")) for v in recs})
        what = f"{total / 60:.1f} min for {len(recs)} notebooks ({', '.join(devices)})"
        if total > limit:
            what += f", {(total - limit) / 60:.1f} min ({100 * (total / limit - 1):.0f} %) over"
        if bad:
            what += f"; not ok: {', '.join(bad)}"
        verdict = _verdict(ok)
        if shared:  # side by side, the sum of their times is not the course's time one after another
            what += f"; {', '.join(shared)} ran side by side with other notebooks on one GPU (their times overlap)"
            verdict = "not measured alone" if ok else verdict
        resumed = [v["notebook"] for v in recs if v.get("resumed")]
        if resumed:  # a run that reused cached trainings is cheaper than the course's cost from scratch
            what += f"; {', '.join(resumed)} reused trainings cached by an interrupted run (not its time from scratch)"
            verdict = "not measured from scratch" if ok else verdict
        if missing:
            what += f"; not run: {', '.join(missing)}"
            verdict = _verdict(False) if not ok else "incomplete"
        lines.append(f"| all notebooks, {profile} profile, <= {limit / 60:.0f} min on {where} | {what} | {verdict} |")
    for column, limit, where in (("lite (CPU)", TARGET_LITE_CPU_SECONDS, "2 CPU cores"),
                                 ("lite (GPU)", TARGET_LITE_GPU_SECONDS, "one H200 (the free-Colab-T4 proxy)")):
        recs = sorted((v for (nb, p), v in summaries.items() if p == column and nb[:2] != "00"),
                      key=lambda v: v["notebook"])
        if not recs:
            lines.append(f"| each paper notebook, {column}, <= {_duration(limit)} on {where} | - | not measured |")
        for v in recs:
            sec = float(v.get("seconds") or 0)
            ok = sec <= limit and v.get("status") == "ok"
            what = f"{sec:.0f} s ({v.get('device')})" + ("" if v.get("status") == "ok" else f", {v.get('status')}")
            if sec > limit:
                what += f", {sec - limit:.0f} s over"
            lines.append(f"| {v['notebook']}, {column}, <= {_duration(limit)} on {where} | {what} | {_verdict(ok)} |")
    tph = None
    for (nb, p), v in summaries.items():
        m = ((v.get("results") or {}).get("metrics") or {}).get("trials_per_hour")
        if nb.startswith("03") and p == "full" and isinstance(m, Mapping):
            tph = m
    # one number per worker count, or a list of repeats (mean of them)
    mean_of = lambda x: float(np.mean(x)) if isinstance(x, (list, tuple)) else float(x)
    gain = None if not tph or not tph.get("1") or tph.get("4") is None else mean_of(tph["4"]) / mean_of(tph["1"])
    what = "-" if gain is None else f"{gain:.2f}x ({mean_of(tph['4']):.0f} vs {mean_of(tph['1']):.0f} trials/hour)"
    if gain is not None and gain < TARGET_PARALLEL_GAIN:
        what += f", {TARGET_PARALLEL_GAIN / gain:.2f}x short"
    lines.append(f"| notebook 3: 4 workers on one GPU >= {TARGET_PARALLEL_GAIN:g}x the trials/hour of 1 | {what} | "
                 f"{_verdict(None if gain is None else gain >= TARGET_PARALLEL_GAIN)} |")
    lines.append("")
    # --- cost
    lines += ["## The course's cost: wall time of every notebook", ""]
    if not summaries:
        lines += ["No runner summary yet (`python -m helpers.run --profile full`).", ""]
    else:
        profiles = [p for p in ("smoke", "lite (CPU)", "lite (GPU)", "full") if any(k[1] == p for k in summaries)]
        profiles += sorted({k[1] for k in summaries} - set(profiles))
        names = sorted({k[0] for k in summaries})
        lines += ["| notebook | " + " | ".join(f"{p} (s)" for p in profiles) + " |",
                  "|---|" + "---:|" * len(profiles)]
        for nb in names:
            cells = []
            for p in profiles:
                v = summaries.get((nb, p))
                if v is None:
                    cells.append("-")
                else:
                    status = "" if v.get("status") == "ok" else f" ({v.get('status')})"
                    mark = " *" if v.get("source") == "results.json" else ""
                    mark += " †" if v.get("shared_gpu") else ""
                    mark += " ‡" if v.get("resumed") else ""
                    busy = v.get("gpu_busy_fraction")
                    busy = "" if busy is None else f" ({100 * busy:.0f} % busy)"
                    cells.append(f"{float(v.get('seconds') or 0):.0f}{busy}{status}{mark}")
            lines.append(f"| {nb} | " + " | ".join(cells) + " |")
        totals = [sum(float(v.get("seconds") or 0) for (nb, q), v in summaries.items() if q == p) for p in profiles]
        lines.append("| **total** | " + " | ".join(f"**{t:.0f}** ({t / 60:.1f} min)" for t in totals) + " |")
        devs = {p: sorted({str(v.get('device')) for (nb, q), v in summaries.items() if q == p}) for p in profiles}
        lines += ["", "Devices: " + "; ".join(f"{p}: {', '.join(d)}" for p, d in devs.items()) + ".", ""]
        if any(v.get("shared_gpu") for v in summaries.values()):
            lines += ["† The GPU was shared with other notebooks running at the same time: the time and the busy "
                      "fraction (the device's, from NVML) are not this notebook's alone.", ""]
        if any(v.get("resumed") for v in summaries.values()):
            lines += ["‡ The run reused trainings that an earlier run on the same machine had cached before it was "
                      "interrupted: its time is less than the notebook's cost from scratch. "
                      + " ".join(f"{v['notebook']}: {v['resumed']}" for v in summaries.values() if v.get("resumed")), ""]
        if any(v.get("source") == "results.json" for v in summaries.values()):
            lines += ["\\* Not in the runner's summary: the notebook's own timer (`seconds` in its `results.json`), "
                      "which leaves out the kernel's start.", ""]
    if notes:
        lines += ["## Notes", ""] + [f"- **{k}**: {v}" for k, v in notes.items()] + [""]
    return "\n".join(lines)


def write_performance_page(bench_json: str | os.PathLike | None, summary_json: Any,
                           path: str | os.PathLike, *, notes: Mapping[str, str] | None = None,
                           expected_notebooks: Sequence[str] | None = None,
                           results_dir: str | os.PathLike | None = None) -> Path:
    """Write ``book/performance.md`` (``path``) from ``bench.json`` and the runner's ``summary.json``.

    Args:
        bench_json: the benchmark's JSON file (missing: the page says no benchmark was run).
        summary_json: ``results/summary.json`` of :mod:`helpers.tools.run`, or several (e.g. a full and a
            smoke run's summaries); each record is keyed by notebook and profile, later files winning.
        path: the page to write.
        notes: ``{topic: text}`` explanations (why a target is missed, what would close it), merged
            over the bench JSON's own ``notes``.
        expected_notebooks: notebook stems every profile's total must include (e.g. those of
            ``notebooks/``); a profile that misses one is "incomplete" unless already over its target.
        results_dir: where ``<notebook>/results.json`` files are; an expected notebook missing from
            the summaries is then timed by its own ``results.json`` (marked on the page).
    """
    bench = None
    if bench_json is not None and Path(bench_json).is_file():
        bench = json.loads(Path(bench_json).read_text())
    src_list = [summary_json] if isinstance(summary_json, (str, os.PathLike)) else list(summary_json or [])
    sources = [_rel(Path(p)) for p in ([bench_json] if bench_json is not None else []) + src_list]
    summaries = _load_summaries(src_list)
    if results_dir is not None and expected_notebooks:
        extra = results_json_records(results_dir, expected_notebooks, summaries)
        summaries.update(extra)
        sources += [f"{_rel(Path(results_dir))}/<notebook>/results.json"] if extra else []
    text = performance_markdown(bench, summaries, notes=notes, sources=sources,
                                expected_notebooks=expected_notebooks)
    out = Path(path)
    atomic_write_text(out, text)
    return out


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return p.name
