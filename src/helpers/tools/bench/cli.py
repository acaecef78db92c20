"""The command line ``python -m helpers.tools.bench``: its options, and :func:`main`, which runs the
benchmark (:func:`helpers.tools.bench.suite.run_bench`) or only writes the book's performance page.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from helpers.tools.bench.report import ROOT, bench_markdown, write_performance_page
from helpers.tools.bench.specs import model_specs
from helpers.tools.bench.suite import run_bench

__all__ = ["build_parser", "main"]


def _load_notes(path: str | os.PathLike | None) -> dict[str, str]:
    """``{topic: text}`` from a JSON file (none when it does not exist); anything else is an error."""
    if path is None or not Path(path).is_file():
        return {}
    notes = json.loads(Path(path).read_text())
    if not isinstance(notes, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in notes.items()):
        raise ValueError(f"{path} must hold a JSON object of topic -> text (both strings)")
    return notes


def build_parser() -> argparse.ArgumentParser:
    import helpers.tools.bench as package  # the package docstring's first paragraph heads --help

    p = argparse.ArgumentParser(prog="python -m helpers.tools.bench", description=package.__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    p.add_argument("--quick", action="store_true", help="toy sizes: a fast check of every code path (CPU)")
    p.add_argument("--models", default=None, help="comma-separated subset of: " +
                   ", ".join(s.name for s in model_specs()))
    p.add_argument("--warmup", type=int, default=None, help="discarded steps per twin (default 5; quick 1)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per twin (default 20; quick 1)")
    p.add_argument("--compile", dest="compile", action="store_true", default=None,
                   help="measure the torch.compile twin (default on CUDA)")
    p.add_argument("--no-compile", dest="compile", action="store_false")
    p.add_argument("--compile-mode", default=None, help="torch.compile mode, e.g. reduce-overhead, max-autotune")
    p.add_argument("--keras-jit", action="store_true", help="also measure Keras' jit_compile=True twin")
    p.add_argument("--busy", dest="busy", action="store_true", default=None,
                   help="measure the GPU busy fraction of one notebook loop per framework (default on CUDA)")
    p.add_argument("--no-busy", dest="busy", action="store_false")
    p.add_argument("--busy-method", default="auto", choices=("auto", "nvml", "profiler"))
    p.add_argument("--busy-only", action="store_true",
                   help="measure only the busy loops, keeping every model row of --output (implies --busy --merge)")
    p.add_argument("--output", default=str(ROOT / "results" / "bench.json"), help="bench.json path (and .md beside)")
    p.add_argument("--merge", action="store_true",
                   help="keep the rows of models not measured now from an existing --output (split runs)")
    p.add_argument("--markdown", action="store_true", help="print the Markdown table at the end")
    p.add_argument("--page", default=None, help="also write the performance page here (e.g. book/performance.md)")
    p.add_argument("--page-only", action="store_true",
                   help="only write the page (--page, default book/performance.md) from the existing JSON files")
    p.add_argument("--notes", default=str(ROOT / "results" / "bench_notes.json"),
                   help="JSON {topic: text} shown under Notes on the page (why a target is missed, what would "
                        "close it); default results/bench_notes.json when it exists")
    p.add_argument("--summary", action="append", default=None,
                   help="runner summary JSON for the page (repeatable; default results/summary.json and, "
                        "when it exists, results/summary_smoke.json)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The runner merges by notebook, so each profile's (and lite's each device's) runs are kept in their own file.
    extra = [ROOT / "results" / f"summary_{k}.json" for k in ("smoke", "lite_cpu", "lite_gpu")]
    summaries = args.summary or [str(ROOT / "results" / "summary.json")] + [str(p) for p in extra if p.is_file()]
    expected = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    notes = _load_notes(args.notes)
    page_args = {"notes": notes, "expected_notebooks": expected, "results_dir": ROOT / "results"}
    if args.page_only:
        page = write_performance_page(args.output, summaries, args.page or ROOT / "book" / "performance.md",
                                      **page_args)
        print(f"wrote {page}")
        return 0
    if "keras" not in sys.modules:  # the backend is fixed when Keras is first imported
        os.environ["KERAS_BACKEND"] = "torch"
    import helpers  # noqa: F401  (Triton before TensorFlow, see helpers/__init__.py)

    command = "python -m helpers.tools.bench" + ("" if argv is None and len(sys.argv) <= 1 else " " + " ".join(
        sys.argv[1:] if argv is None else list(argv)))
    if args.busy_only and args.models:
        raise SystemExit("--busy-only measures no model: leave out --models")
    models = [] if args.busy_only else ([m.strip() for m in args.models.split(",") if m.strip()] if args.models else None)
    if args.busy_only:
        args.busy, args.merge = True, True
    doc = run_bench(device=args.device, quick=args.quick, models=models,
                    warmup=args.warmup, steps=args.steps, compile=args.compile, compile_mode=args.compile_mode,
                    keras_jit=args.keras_jit, busy=args.busy, busy_method=args.busy_method, output=args.output,
                    command=("KERAS_BACKEND=torch " + command), merge=args.merge)
    print(f"wrote {args.output} and {Path(args.output).with_suffix('.md')} ({doc['seconds']:.0f} s)")
    if args.page:
        print(f"wrote {write_performance_page(args.output, summaries, args.page, **page_args)}")
    if args.markdown:
        print(bench_markdown(doc))
    failed = [r["model"] for r in doc["rows"] if r.get("errors")]
    return 1 if failed else 0
