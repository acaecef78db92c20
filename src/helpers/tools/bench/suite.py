"""The whole benchmark run: every model's probes and the busy loops into one ``bench.json`` document
(:func:`run_bench`), rewritten with its Markdown table after every model (:func:`write_bench`).
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers.core.results import atomic_write_text
from helpers.tools.bench.probes import _busy_keras, _busy_torch, _err, bench_model
from helpers.tools.bench.report import bench_markdown
from helpers.tools.bench.specs import model_specs
from helpers.tools.bench.targets import peak_bf16_tflops

__all__ = ["SCHEMA", "run_bench", "write_bench"]

SCHEMA = 1


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in ("torch", "keras"):
        mod = sys.modules.get(name)
        out[name] = getattr(mod, "__version__", None) if mod else None
    return out


def write_bench(doc: Mapping[str, Any], output: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``bench.json`` at ``output`` and the Markdown table beside it (``.md``); returns both paths."""
    out = Path(output)
    atomic_write_text(out, json.dumps(doc, indent=2, default=float) + "\n")
    md = out.with_suffix(".md")
    atomic_write_text(md, bench_markdown(doc))
    return out, md


def run_bench(*, device: str | None = None, quick: bool = False, models: Sequence[str] | None = None,
              warmup: int | None = None, steps: int | None = None, compile: bool | None = None,
              compile_mode: str | None = None, keras_jit: bool = False, busy: bool | None = None,
              busy_method: str = "auto", output: str | os.PathLike | None = None, command: str | None = None,
              merge: bool = False, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Benchmark the models and return the document written to ``bench.json``.

    Args:
        device: ``"cuda"``, ``"cpu"`` or ``None`` (CUDA when available).
        quick: toy sizes (a CPU smoke test of every code path), 1 warm-up and 1 timed step by default.
        models: names from :func:`model_specs` (default: all; ``[]``: none, e.g. only the busy loops).
        warmup, steps: discarded and timed steps per twin (default 5 and 20; quick: 1 and 1).
        compile: also measure the ``torch.compile`` twin of torch models (default: on CUDA only).
        compile_mode: ``torch.compile``'s ``mode`` (``None``, ``"reduce-overhead"``, ``"max-autotune"`` ...).
        keras_jit: also measure Keras' ``jit_compile=True`` twin.
        busy: measure the GPU busy fraction of one notebook loop per framework and of the PSPNet loop
            without its DataLoader (default: on CUDA only).
        busy_method: see :func:`gpu_busy_fraction`.
        output: ``bench.json`` path, rewritten after every model (a cut-off run keeps what it measured).
        command: the command line recorded in the document.
        merge: keep the rows (and busy loops) of an existing ``output`` that this run does not measure
            again, so a run split over several commands (``--models``) still ends in one table. Rows
            measured on another device are dropped.
    """
    import torch

    from helpers.core.runtime import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    warmup = (1 if quick else 5) if warmup is None else int(warmup)
    steps = (1 if quick else 20) if steps is None else int(steps)
    compile = (dev.type == "cuda") if compile is None else bool(compile)
    busy = (dev.type == "cuda") if busy is None else bool(busy)
    specs = all_specs = model_specs()
    if models is not None:  # [] = no model rows (the busy loops only)
        known = {s.name for s in specs}
        unknown = [m for m in models if m not in known]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; choose from {sorted(known)}")
        specs = [s for s in specs if s.name in models]
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    peak = peak_bf16_tflops(name)  # None for "cpu" and unknown GPUs
    doc: dict[str, Any] = {
        "schema": SCHEMA, "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command, "device": name, "peak_bf16_tflops": peak, "quick": quick,
        "settings": {"warmup": warmup, "steps": steps, "compile": compile, "compile_mode": compile_mode,
                     "keras_jit": keras_jit, "busy_method": busy_method,
                     "fp32_cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
                     "fp32_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
                     "keras_backend": os.environ.get("KERAS_BACKEND")},
        "versions": _versions(), "rows": [], "busy": [], "seconds": None,
    }
    kept_rows: list[dict[str, Any]] = []
    kept_busy: list[dict[str, Any]] = []
    if merge and output is not None and Path(output).is_file():
        try:
            old = json.loads(Path(output).read_text())
        except ValueError:
            old = {}
        if old.get("device") == name and bool(old.get("quick")) == quick:
            mine = {s.name for s in specs}
            kept_rows = [r for r in old.get("rows", []) if r.get("model") not in mine]
            kept_busy = [] if busy else list(old.get("busy", []))
            doc["commands"] = list(old.get("commands") or [old.get("command")]) + [command]
    order = {s.name: i for i, s in enumerate(all_specs)}

    def rows_now(new: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(kept_rows + new, key=lambda r: order.get(r.get("model"), len(order)))

    new_rows: list[dict[str, Any]] = []
    doc["rows"] = rows_now(new_rows)  # a run of the busy loops only keeps every row
    doc["busy"] = list(kept_busy)
    t0 = time.perf_counter()
    log(f"benchmark on {name} ({dev}); warm-up {warmup}, timed {steps} steps per twin; compile={compile}")
    for spec in specs:
        row = bench_model(spec, dev, quick=quick, warmup=warmup, steps=steps, compile=compile,
                          compile_mode=compile_mode, keras_jit=keras_jit, device_name=name, peak_tflops=peak, log=log)
        new_rows.append(row)
        doc["rows"] = rows_now(new_rows)
        doc["versions"] = _versions()
        doc["seconds"] = time.perf_counter() - t0
        if output is not None:
            write_bench(doc, output)
    if busy:
        for what, fn in (("torch", _busy_torch), ("torch", functools.partial(_busy_torch, resident=True)),
                         ("keras", _busy_keras)):
            try:
                r = fn(dev, quick, busy_method)
                log(f"  busy fraction, {r['loop']}: {r['busy_fraction']} ({r['method']})")
            except Exception as exc:
                r = {"loop": what, "framework": what, "busy_fraction": None, "error": _err(exc)}
                log(f"  busy fraction, {what}: FAILED {r['error']}")
            doc["busy"].append(r)
            if output is not None:
                write_bench(doc, output)
    doc["seconds"] = time.perf_counter() - t0
    doc["versions"] = _versions()
    if output is not None:
        write_bench(doc, output)
    return doc
