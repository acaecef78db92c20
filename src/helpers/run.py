"""Run the course notebooks with papermill and print a scorecard of what they measured.

Usage (from anywhere inside the repository)::

    python -m helpers.run                       # every notebooks/NN_*.ipynb, profile auto
    helpers-run 01 03 --profile smoke           # by number, stem, path or glob ("0[12]*")
    helpers-run 02 -p epochs 3 -p lr 1e-3       # extra parameters (typed like papermill's -p)
    helpers-run --profile full --in-place       # after a GPU run: write outputs into notebooks/
    helpers-run --jobs 4 --timeout 900          # 4 at once, one GPU each, 15 min per notebook
    helpers-run --prepare-only --profile smoke  # inject parameters only (for pytest --nbval-lax)
    helpers-run --list                          # what would run, and where it would write

Each notebook receives the parameters ``profile`` (``auto`` resolved to ``full`` on a
GPU of at least 40 GB, ``lite`` otherwise) and ``output_dir`` (``<output>/<stem>``), plus every
``-p NAME VALUE``. Its executed copy goes to ``<output>/<stem>/<stem>.ipynb`` (or over
the source notebook with ``--in-place``, only when it succeeded, without papermill's
injected parameters cell and with a note saying which run made the outputs), papermill's log to
``<output>/<stem>/papermill.log``, and the notebook itself writes
``<output>/<stem>/results.json`` (``CONTRIBUTING.md`` (the notebook contract)). At the end a table
lists status, seconds, headline metrics and claims held; it is also written to
``<output>/summary.json`` and ``<output>/summary.md``, merged by notebook with the
entries of earlier runs, so notebooks run one at a time still add up to one table.

Every notebook runs in its own ``python -m papermill`` process (in its own session),
with the notebook's folder as working directory. ``--timeout`` bounds the whole
notebook's wall time: on expiry the papermill process, its kernel and everything they
started are killed and the notebook is reported as ``timeout``. A failing notebook
never stops the others; the exit status is non-zero when any of them did not end
``ok`` (``ok``, ``failed``, ``timeout``, ``no-results`` are the possible statuses;
``--prepare-only`` reports ``prepared``).

Kernel: the default kernel name ``python3`` always means *the interpreter running this
runner* (a kernelspec for ``sys.executable`` is put first on ``JUPYTER_PATH`` for the
children), so notebooks see the same packages as ``helpers-run`` even when a user-level
``python3`` kernelspec points at another Python. Any other ``--kernel NAME`` is looked up
by Jupyter as usual.

Python API::

    from helpers.run import run_notebooks
    runs = run_notebooks(["01"], profile="smoke", parameters={"seed": 1}, timeout=600)
    runs[0].status, runs[0].seconds, runs[0].results["metrics"]
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures as cf
import datetime as _dt
import fnmatch
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

from .results import atomic_write_text

PROFILES = ("auto", "smoke", "lite", "full")
STATUSES = ("ok", "failed", "timeout", "no-results", "prepared")
DEFAULT_PATTERN = "[0-9][0-9]_*.ipynb"
DEFAULT_KERNEL = "python3"
_RESERVED = ("profile", "output_dir")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_GLOB_CHARS = set("*?[")

__all__ = [
    "NotebookRun",
    "run_notebooks",
    "resolve_notebooks",
    "find_repo_root",
    "resolve_run_profile",
    "parse_value",
    "headline_metrics",
    "format_number",
    "summary_table",
    "summary_markdown",
    "write_summary",
    "build_parser",
    "main",
]


# --------------------------------------------------------------------------- data


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


# ------------------------------------------------------------------ small helpers


def find_repo_root(start: str | os.PathLike | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the working directory) holding ``pyproject.toml``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return None


def parse_value(text: str) -> Any:
    """Type a ``-p`` value the way papermill's CLI does, plus JSON/YAML lists and dicts.

    ``"3"`` -> 3, ``"1e-3"`` -> 0.001, ``"True"``/``"true"`` -> True, ``"None"``/``"null"`` -> None,
    ``"[1, 2]"`` -> [1, 2], anything else stays a string (``"yes"`` stays ``"yes"``).

    Example:
        >>> parse_value("3"), parse_value("0.5"), parse_value("false"), parse_value("none")
        (3, 0.5, False, None)
        >>> parse_value("[1, 2]"), parse_value("real")
        ([1, 2], 'real')
    """
    if not isinstance(text, str):
        return text
    s = text.strip()
    low = s.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low in ("none", "null", "~"):
        return None
    for cast in (int, float):
        try:
            return cast(s)
        except ValueError:
            pass
    if s[:1] in "[{" and s:
        try:
            return json.loads(s)
        except json.JSONDecodeError:
            try:
                import yaml

                value = yaml.safe_load(s)
                if isinstance(value, (list, dict)):
                    return value
            except Exception:  # noqa: BLE001 - anything unparsable stays a string
                pass
    return text


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


def _validate_name(name: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"parameter names must be Python identifiers, got {name!r}")
    if name in _RESERVED:
        flag = "--profile" if name == "profile" else "--output"
        raise ValueError(f"parameter {name!r} is set by the runner; use {flag} instead of -p {name}")


_DATA_SOURCES = ("synthetic", "real")


def _validate_values(params: Mapping[str, Any]) -> None:
    """Reject values of the contract's parameters (spec section 3) that no notebook can use."""
    from .checks import check_choice, check_seed

    if "data_source" in params:
        check_choice(params["data_source"], "parameter data_source", _DATA_SOURCES)
    if "seed" in params:
        check_seed(params["seed"], "parameter seed")
    if "data_root" in params and params["data_root"] is not None and not isinstance(params["data_root"], str):
        raise ValueError(f"parameter data_root must be a folder path or None, got {params['data_root']!r}")


def declared_parameters(nb: str | os.PathLike) -> list[str] | None:
    """Names assigned in the notebook's ``parameters`` cell (``None`` when it has none)."""
    import ast

    import nbformat

    book = nbformat.read(str(nb), as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return None
            names = [t.id for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
                     for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                     if isinstance(t, ast.Name)]
            return sorted(set(names))
    return None


def _validate_declared(params: Mapping[str, Any], paths: Sequence[Path]) -> None:
    """A parameter that none of the notebooks declares is a typo papermill would only warn about."""
    if not params:
        return
    declared = [d for d in (declared_parameters(p) for p in paths) if d is not None]
    if not declared:
        return
    known = set().union(*declared)
    unknown = [name for name in params if name not in known]
    if unknown:
        names = ", ".join(p.stem for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
        raise ValueError(f"unknown parameter {unknown[0]!r} (-p {unknown[0]}): no notebook of {names} declares it "
                         f"in its parameters cell; known parameters: {', '.join(sorted(known))}")


# -------------------------------------------------------------- notebook choice


def _available(notebooks_dir: Path) -> list[Path]:
    return sorted(p for p in notebooks_dir.glob("*.ipynb") if not p.name.startswith("."))


def resolve_notebooks(
    names: Sequence[str | os.PathLike] | None = None,
    notebooks_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Turn command-line names into notebook paths, in the given order, without duplicates.

    Args:
        names: paths to ``.ipynb`` files, stems (``01_grain_boundary_unet``), numbers
            (``01``, meaning ``01_*``) or globs on the stem or file name (``0[12]*``).
            ``None`` or empty: every ``NN_*.ipynb`` of ``notebooks_dir``.
        notebooks_dir: where names are looked up; default ``<repo root>/notebooks``.

    Returns:
        Absolute paths of existing notebooks.

    Raises:
        ValueError: a name matches no notebook (the message lists the available ones),
            or there is no notebook to run.
        FileNotFoundError: the notebooks folder does not exist.
    """
    folder = _notebooks_dir(notebooks_dir, needed=not names or any(not Path(n).is_file() for n in names))
    if not names:
        found = sorted(folder.glob(DEFAULT_PATTERN))
        if not found:
            raise ValueError(f"no notebook matching {DEFAULT_PATTERN} in {folder}")
        return [p.resolve() for p in found]
    chosen: list[Path] = []
    for raw in names:
        path = Path(raw)
        if path.is_file():
            if path.suffix != ".ipynb":
                raise ValueError(f"{path} is not a notebook (.ipynb)")
            matches = [path]
        else:
            assert folder is not None
            matches = _match(str(raw), _available(folder))
            if not matches:
                listing = ", ".join(p.stem for p in _available(folder)) or "(none)"
                raise ValueError(f"unknown notebook {str(raw)!r} in {folder}; available: {listing}")
        for m in matches:
            m = m.resolve()
            if m not in chosen:
                chosen.append(m)
    return chosen


def _match(name: str, available: list[Path]) -> list[Path]:
    if "/" in name or os.sep in name:  # a path: only an existing file or a glob relative to the cwd
        if not _GLOB_CHARS & set(name):
            return []
        base = Path(name).anchor or "."
        pattern = name[len(Path(name).anchor):] if Path(name).anchor else name
        return sorted(p for p in Path(base).glob(pattern) if p.suffix == ".ipynb" and p.is_file())
    key = name[:-6] if name.endswith(".ipynb") else name
    if _GLOB_CHARS & set(key):
        return [p for p in available if fnmatch.fnmatch(p.stem, key) or fnmatch.fnmatch(p.name, key)]
    exact = [p for p in available if p.stem == key]
    if exact:
        return exact
    return [p for p in available if p.stem.startswith(key + "_")]


def _notebooks_dir(notebooks_dir: str | os.PathLike | None, needed: bool = True) -> Path | None:
    if notebooks_dir is not None:
        folder = Path(notebooks_dir)
    else:
        root = find_repo_root()
        if root is None:
            if not needed:
                return None
            raise FileNotFoundError(
                f"no pyproject.toml at or above {Path.cwd()}: run from inside the course repository "
                "or pass --notebooks-dir"
            )
        folder = root / "notebooks"
    if not folder.is_dir():
        if not needed:
            return None
        raise FileNotFoundError(f"notebooks folder {folder} does not exist")
    return folder.resolve()


# ------------------------------------------------------------------ devices


def _visible_gpus() -> list[str]:
    """GPU ids to hand out: ``CUDA_VISIBLE_DEVICES`` when set, else torch's device count.

    Torch is imported only when an NVIDIA/AMD device node or ``nvidia-smi`` exists.
    """
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [s.strip() for s in env.split(",") if s.strip()]
        # "-1" (or any invalid id) hides every GPU after it.
        return ids[: ids.index("-1")] if "-1" in ids else ids
    if not _may_have_gpu():
        return []
    try:
        import torch
    except ImportError:
        return []
    return [str(i) for i in range(torch.cuda.device_count())]


def _may_have_gpu() -> bool:
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None and env.strip() in ("", "-1"):
        return False
    return bool(
        shutil.which("nvidia-smi") or Path("/dev/nvidia0").exists() or Path("/dev/kfd").exists()
    )


def resolve_run_profile(profile: str) -> str:
    """``smoke``/``lite``/``full`` unchanged; ``auto`` -> ``full`` on a GPU of at least 40 GB, else ``lite``.

    Same rule as :func:`helpers.runtime.resolve_profile`, but torch is not imported on
    machines that have no GPU driver at all.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    if profile != "auto":
        return profile
    from .runtime import auto_profile, gpu_memory_gb

    return auto_profile(gpu_memory_gb() if _may_have_gpu() else None)[0]


# ------------------------------------------------------------------ processes


def _kill_tree(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """Terminate a process, every descendant (the kernel and what it started) and its group."""
    victims = []
    try:
        import psutil

        try:
            parent = psutil.Process(proc.pid)
            victims = parent.children(recursive=True) + [parent]
        except psutil.NoSuchProcess:
            victims = []
        for p in victims:
            try:
                p.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(victims, timeout=grace)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=grace)
    except ImportError:  # psutil comes with ipykernel; fall back to the process group
        pass
    if hasattr(os, "killpg"):
        for pid in {proc.pid, *(getattr(v, "pid", None) for v in victims)} - {None}:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, OSError):
                pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()


def _kernelspec_dir(kernel: str) -> str | None:
    """A temporary Jupyter data dir whose ``python3`` kernel is ``sys.executable``."""
    if kernel != DEFAULT_KERNEL:
        return None
    root = tempfile.mkdtemp(prefix="helpers-run-")
    spec = Path(root, "kernels", kernel)
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "metadata": {"debugger": True},
    }, indent=1))
    return root


def _child_env(gpu: str | None, jupyter_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    # The inline backend, also when the caller's shell says Agg: executed notebooks must carry
    # their figures (the book shows them), and no window may open on a headless machine.
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    if jupyter_dir is not None:
        old = env.get("JUPYTER_PATH")
        env["JUPYTER_PATH"] = jupyter_dir + (os.pathsep + old if old else "")
        runtime = Path(jupyter_dir, "runtime")  # kernel connection files die with the temp dir
        runtime.mkdir(exist_ok=True)
        env["JUPYTER_RUNTIME_DIR"] = str(runtime)
    return env


# --------------------------------------------------------- reading the outcome


def _notebook_error(path: Path) -> tuple[str | None, str | None]:
    """``(last error line, description of the cell still running)`` from an executed notebook."""
    try:
        import nbformat

        nb = nbformat.read(str(path), as_version=4)
    except Exception:  # noqa: BLE001 - a half-written notebook has nothing to tell
        return None, None
    error = running = None
    for i, cell in enumerate(nb.cells, 1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                error = _ANSI.sub("", f"{out.get('ename', 'Error')}: {out.get('evalue', '')}").strip()
        if running is None and cell.get("metadata", {}).get("papermill", {}).get("status") == "running":
            first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
            running = f"cell {i}" + (f": {first[:60]}" if first else "")
    return error, running


def _log_error(path: Path | None) -> str | None:
    """The last meaningful line of papermill's log (e.g. ``NoSuchKernel: ...``)."""
    if path is None or not path.exists():
        return None
    text = path.read_text(errors="replace")
    lines = [_ANSI.sub("", ln).strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not set(ln) <= set("-=^~ ")]
    return lines[-1][:300] if lines else None


def _fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _read_fresh_results(out_dir: Path, before: tuple[int, int] | None) -> tuple[dict | None, str | None]:
    from .results import read_results

    path = out_dir / "results.json"
    now = _fingerprint(path)
    if now is None:
        return None, f"{path} was not written"
    if now == before:
        return None, f"{path} was not rewritten by this run (stale file from an earlier run)"
    try:
        return read_results(path), None
    except (ValueError, FileNotFoundError) as exc:
        return None, f"invalid results.json: {exc}"


# ------------------------------------------------------------------ the runner


class _Runner:
    """Executes a list of notebooks; one instance per :func:`run_notebooks` call."""

    def __init__(self, *, profile: str, parameters: dict[str, Any], output: Path, in_place: bool,
                 timeout: float | None, jobs: int, kernel: str, progress: bool,
                 repo_root: Path | None, log: Callable[[str], None]):
        self.profile = profile
        self.parameters = parameters
        self.output = output
        self.in_place = in_place
        self.timeout = timeout
        self.jobs = jobs
        self.kernel = kernel
        self.progress = progress
        self.repo_root = repo_root
        self._log = log
        self._lock = threading.Lock()
        self._active: set[subprocess.Popen] = set()
        self._cancelled = threading.Event()
        self.total = 0
        self.jupyter_dir: str | None = None
        self.gpus: list[str] = []

    def log(self, msg: str) -> None:
        with self._lock:
            self._log(msg)

    # paths ------------------------------------------------------------------
    def out_dir(self, nb: Path) -> Path:
        return self.output / nb.stem

    def _param_path(self, target: Path, nb: Path, relative: bool) -> str:
        """``output_dir`` as the notebook will see it: relative to its folder inside the repo."""
        if relative and self.repo_root is not None:
            try:
                target.relative_to(self.repo_root)
                nb.relative_to(self.repo_root)
                return Path(os.path.relpath(target, nb.parent)).as_posix()
            except ValueError:
                pass
        return str(target)

    def params_for(self, nb: Path, relative: bool) -> dict[str, Any]:
        return {"profile": self.profile, "output_dir": self._param_path(self.out_dir(nb), nb, relative),
                **self.parameters}

    # prepare-only -----------------------------------------------------------
    def prepare(self, nb: Path) -> NotebookRun:
        import papermill as pm

        out_dir = self.out_dir(nb)
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{nb.stem}.ipynb"
        t0 = time.perf_counter()
        try:
            # The copy may be executed from anywhere (pytest --nbval-lax runs it in its own
            # folder), so output_dir is absolute here.
            pm.execute_notebook(str(nb), str(target), parameters=self.params_for(nb, relative=False),
                                prepare_only=True, kernel_name=self.kernel, progress_bar=False,
                                log_output=False)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return NotebookRun(nb.stem, "failed", time.perf_counter() - t0, target, f"{type(exc).__name__}: {exc}",
                               profile=self.profile, source=nb, output_dir=out_dir)
        return NotebookRun(nb.stem, "prepared", time.perf_counter() - t0, target, profile=self.profile,
                           source=nb, output_dir=out_dir)

    # execution --------------------------------------------------------------
    def execute(self, nb: Path, index: int, gpu: str | None) -> NotebookRun:
        out_dir = self.out_dir(nb)
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{nb.stem}.ipynb"
        log_path = None if self.progress else out_dir / "papermill.log"
        results_before = _fingerprint(out_dir / "results.json")
        params = self.params_for(nb, relative=True)
        import yaml

        blob = base64.b64encode(yaml.safe_dump(params, sort_keys=False).encode()).decode()
        cmd = [
            sys.executable, "-m", "papermill", nb.name, self._param_path(target, nb, relative=True),
            "-b", blob, "-k", self.kernel, "--cwd", str(nb.parent), "--start-timeout", "120",
            "--progress-bar" if self.progress else "--no-progress-bar",
        ]
        if self.progress:
            cmd += ["--log-level", "WARNING"]
        tag = f"[{index + 1}/{self.total}]"
        where = f", GPU {gpu}" if gpu is not None else ""
        self.log(f"{tag} start  {nb.stem} (profile {self.profile}{where})")
        t0 = time.perf_counter()
        status, error = "ok", None
        log_fh = open(log_path, "w") if log_path else None  # noqa: SIM115 - closed below
        try:
            with self._lock:  # so that a cancellation either sees this process or stops it starting
                if self._cancelled.is_set():
                    raise KeyboardInterrupt
                proc = subprocess.Popen(
                    cmd, cwd=nb.parent, env=_child_env(gpu, self.jupyter_dir), stdin=subprocess.DEVNULL,
                    stdout=log_fh or None, stderr=subprocess.STDOUT if log_fh else None, start_new_session=True,
                )
                self._active.add(proc)
            try:
                rc = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(proc)
                rc = None
            finally:
                with self._lock:
                    self._active.discard(proc)
        finally:
            if log_fh:
                log_fh.close()
        seconds = time.perf_counter() - t0
        nb_error, running = _notebook_error(target) if target.exists() else (None, None)
        if rc is None:
            status = "timeout"
            error = f"killed after --timeout {self.timeout:g} s" + (f" while running {running}" if running else "")
        elif self._cancelled.is_set():
            status, error = "failed", "interrupted"
        elif rc != 0:
            status = "failed"
            error = nb_error or _log_error(log_path) or f"papermill exited with status {rc}"
        results, why = _read_fresh_results(out_dir, results_before)
        if status == "ok" and results is None:
            status, error = "no-results", why
        output = target
        if status == "ok" and self.in_place:
            # The committed notebook keeps its own defaults; the run's parameters go to a note and results.json.
            from .tools.committed import run_parameters, write_committed

            write_committed(target, nb, params, device=(results or {}).get("device"),
                            seconds=(results or {}).get("seconds"))
            target.unlink()
            output = nb
            if results is not None:
                results = {**results, "run": {"parameters": run_parameters(params)}}
                atomic_write_text(out_dir / "results.json", json.dumps(results, indent=2) + "\n")
        run = NotebookRun(nb.stem, status, seconds, output, error, results, profile=self.profile,
                          source=nb, output_dir=out_dir, gpu=gpu)
        self.log(f"{tag} {status:<6} {nb.stem} in {seconds:.1f} s" + (f" - {error}" if error else ""))
        return run

    def run_all(self, notebooks: list[Path], prepare_only: bool) -> list[NotebookRun]:
        self.total = len(notebooks)
        if prepare_only:
            runs = []
            for i, nb in enumerate(notebooks):
                run = self.prepare(nb)
                self.log(f"[{i + 1}/{self.total}] {run.status:<6} {nb.stem} -> {run.output}"
                         + (f" - {run.error}" if run.error else ""))
                runs.append(run)
            return runs
        self.jupyter_dir = _kernelspec_dir(self.kernel)
        if self.jobs > 1:
            self.gpus = _visible_gpus()
            if len(self.gpus) == 1:
                self.log(f"note: {self.jobs} jobs share the only GPU ({self.gpus[0]})")
        slots: queue.Queue[int] = queue.Queue()
        for s in range(self.jobs):
            slots.put(s)

        def job(i: int, nb: Path) -> NotebookRun:
            slot = slots.get()
            try:
                gpu = self.gpus[slot % len(self.gpus)] if len(self.gpus) > 1 else None
                return self.execute(nb, i, gpu)
            finally:
                slots.put(slot)

        pool = cf.ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="helpers-run")
        try:
            futures = [pool.submit(job, i, nb) for i, nb in enumerate(notebooks)]
            return [f.result() for f in futures]
        except BaseException:
            with self._lock:
                self._cancelled.set()
                active = list(self._active)
            for proc in active:
                _kill_tree(proc, grace=0.5)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if self.jupyter_dir:
                shutil.rmtree(self.jupyter_dir, ignore_errors=True)


# ------------------------------------------------------------------ summaries


def _row(run: NotebookRun) -> list[str]:
    held = run.claims
    metrics = ", ".join(f"{k}={format_number(v)}" for k, v in run.headline.items()) or "-"
    return [run.name, run.status, f"{run.seconds:.1f}", run.profile, metrics,
            "-" if held is None else f"{held[0]}/{held[1]}"]


_HEADER = ["notebook", "status", "seconds", "profile", "headline metrics", "claims held"]


def summary_table(runs: Iterable[NotebookRun]) -> str:
    """A plain-text table: notebook, status, seconds, profile, headline metrics, claims held."""
    rows = [_HEADER] + [_row(r) for r in runs]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = []
    for j, row in enumerate(rows):
        cells = [c.rjust(w) if i == 2 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_markdown(records: Iterable[Mapping[str, Any]]) -> str:
    """A Markdown table of summary records (as written to ``summary.json``)."""
    lines = ["| notebook | status | profile | device | seconds | headline metrics | claims held |",
             "|---|---|---|---|---:|---|---|"]
    for r in records:
        metrics = ", ".join(f"{k}={format_number(v)}" for k, v in (r.get("headline") or {}).items()) or "-"
        claims = "-" if r.get("claims_total") is None else f"{r['claims_held']}/{r['claims_total']}"
        cells = [r["notebook"], r["status"], r.get("profile") or "-", r.get("device") or "-",
                 f"{r.get('seconds', 0):.1f}", metrics, claims]
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


# ------------------------------------------------------------------ public API


def run_notebooks(
    notebooks: Sequence[str | os.PathLike] | None = None,
    *,
    profile: str = "auto",
    parameters: Mapping[str, Any] | None = None,
    output: str | os.PathLike | None = None,
    notebooks_dir: str | os.PathLike | None = None,
    in_place: bool = False,
    timeout: float | None = None,
    jobs: int = 1,
    prepare_only: bool = False,
    kernel: str = DEFAULT_KERNEL,
    progress: bool = False,
    summary: bool = True,
    log: Callable[[str], None] | None = None,
) -> list[NotebookRun]:
    """Execute (or only parameterize) notebooks with papermill and collect their results.

    Args:
        notebooks: names as :func:`resolve_notebooks` takes them; ``None``: every ``NN_*.ipynb``.
        profile: ``"auto"``, ``"smoke"`` or ``"full"``; passed resolved as the ``profile`` parameter.
        parameters: extra notebook parameters (``profile``/``output_dir`` are the runner's).
        output: results folder; each notebook gets ``output_dir=<output>/<stem>``.
            Default: ``<repo root>/results`` (``./results`` outside a repository).
        notebooks_dir: where names are looked up (default ``<repo root>/notebooks``).
        in_place: after a successful run, atomically replace the source notebook with the
            executed one (instead of keeping ``<output>/<stem>/<stem>.ipynb``).
        timeout: seconds of wall time per notebook; ``None`` for no limit.
        jobs: notebooks run at once; with several GPUs, each job slot gets its own
            ``CUDA_VISIBLE_DEVICES`` (round robin over the visible GPUs).
        prepare_only: inject parameters and write the copies without executing anything
            (existing outputs of the source are kept, as papermill does).
        kernel: Jupyter kernel name (``python3`` = the interpreter running this function).
        progress: show papermill's progress bar (and its output) instead of logging to
            ``<output>/<stem>/papermill.log``.
        summary: write ``<output>/summary.json`` and ``summary.md`` (never for ``prepare_only``).
        log: where progress lines go (default: print to stdout, flushed); ``lambda s: None`` silences.

    Returns:
        One :class:`NotebookRun` per notebook, in the order given.

    Raises:
        ValueError: bad profile, timeout <= 0, jobs < 1, a reserved or invalid parameter
            name, a parameter no notebook declares, a bad ``data_source``/``seed``/``data_root``
            value, or an unknown notebook name.
        FileNotFoundError: no notebooks folder to look names up in.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, Real) or not timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    params = dict(parameters or {})
    for name in params:
        _validate_name(name)
    _validate_values(params)
    paths = resolve_notebooks(notebooks, notebooks_dir)
    _validate_declared(params, paths)
    repo_root = find_repo_root(Path(notebooks_dir) if notebooks_dir else None) or find_repo_root()
    if output is None:
        out = (repo_root / "results") if repo_root else Path("results")
    else:
        out = Path(output)
    out = out.resolve()
    if log is None:
        def log(msg: str) -> None:
            print(msg, flush=True)
    runner = _Runner(
        profile=resolve_run_profile(profile), parameters=params, output=out, in_place=in_place,
        timeout=float(timeout) if timeout is not None else None, jobs=jobs, kernel=kernel,
        progress=progress, repo_root=repo_root, log=log,
    )
    runs = runner.run_all(paths, prepare_only)
    if summary and not prepare_only:
        write_summary(runs, out)
    return runs


# ------------------------------------------------------------------ CLI


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


if __name__ == "__main__":
    sys.exit(main())
