"""The command line: ``helpers-run`` / ``python -m helpers.run`` arguments, signals and exit status."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helpers.tools.run.execute import DEFAULT_KERNEL, run_notebooks
from helpers.tools.run.parameters import PROFILES, _validate_name, parse_value, resolve_run_profile
from helpers.tools.run.selection import find_repo_root, resolve_notebooks
from helpers.tools.run.summary import summary_table


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``helpers-run`` / ``python -m helpers.run`` argument parser."""
    p = argparse.ArgumentParser(
        prog="helpers-run",
        description="Execute the course notebooks with papermill and summarise their results.json.",
        epilog="Exit status: 0 when every notebook ended ok, 1 when any failed, timed out or wrote "
               "no results, 2 for bad arguments.",
    )
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                   help="path, stem, number (01) or glob (0[12]*); default: every notebooks/NN_*.ipynb")
    p.add_argument("--profile", choices=PROFILES, default="auto",
                   help="auto = full when torch sees a GPU, else smoke (default: auto)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="extra notebook parameter, typed like papermill's -p (repeatable)")
    p.add_argument("--output", metavar="DIR", default=None,
                   help="results folder; each notebook writes <DIR>/<stem>/ (default: <repo>/results)")
    p.add_argument("--notebooks-dir", metavar="DIR", default=None,
                   help="where notebook names are looked up (default: <repo>/notebooks)")
    p.add_argument("--in-place", action="store_true",
                   help="on success, write the executed notebook over its source (atomically)")
    p.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                   help="wall-time limit per notebook; on expiry it is killed and reported 'timeout'")
    p.add_argument("--jobs", "-j", type=_positive_int, default=1, metavar="N",
                   help="notebooks run at once; with several GPUs each job gets its own (default: 1)")
    p.add_argument("--prepare-only", action="store_true",
                   help="only inject parameters and write the copies (for pytest --nbval-lax)")
    p.add_argument("--kernel", default=DEFAULT_KERNEL,
                   help="Jupyter kernel (default: python3 = this interpreter)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="papermill's progress bar (default: on in a terminal with --jobs 1)")
    p.add_argument("--list", action="store_true", help="print what would run and exit")
    return p


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _stop_on_termination() -> dict[int, Any]:
    """Make SIGTERM/SIGHUP behave like Ctrl-C, so the runner stops its notebooks before exiting.

    The notebooks run in their own sessions (a terminal's Ctrl-C does not reach them), so
    without this a killed runner would leave papermill and kernels behind.
    """
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, _interrupt)
    return previous


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 1 a notebook failed, 2 bad usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    params: dict[str, Any] = {}
    for name, value in args.parameter:
        try:
            _validate_name(name)
        except ValueError as exc:
            parser.error(str(exc))
        params[name] = parse_value(value)
    try:
        paths = resolve_notebooks(args.notebooks, args.notebooks_dir)
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    if args.list:
        profile = resolve_run_profile(args.profile)
        root = find_repo_root(Path(args.notebooks_dir) if args.notebooks_dir else None) or find_repo_root()
        out = Path(args.output) if args.output else ((root / "results") if root else Path("results"))
        for nb in paths:
            print(f"{nb.stem}  {nb}  -> {out.resolve() / nb.stem}  (profile {profile})")
        return 0
    progress = args.progress
    if progress is None:
        progress = sys.stderr.isatty() and args.jobs == 1
    previous = _stop_on_termination()
    try:
        runs = run_notebooks(
            [str(p) for p in paths], profile=args.profile, parameters=params, output=args.output,
            notebooks_dir=args.notebooks_dir, in_place=args.in_place, timeout=args.timeout, jobs=args.jobs,
            prepare_only=args.prepare_only, kernel=args.kernel, progress=progress,
        )
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        print("interrupted: running notebooks were stopped", file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print()
    print(summary_table(runs))
    failed = [r for r in runs if not r.ok]
    for r in failed:
        print(f"{r.name}: {r.status}" + (f" - {r.error}" if r.error else ""))
    if not args.prepare_only and runs:
        out = runs[0].output_dir.parent if runs[0].output_dir else None
        if out is not None:
            print(f"summary: {out / 'summary.md'}")
    if failed:
        print(f"{len(failed)} of {len(runs)} notebook(s) did not succeed", file=sys.stderr)
        return 1
    return 0
