"""Executing notebooks: one papermill process per notebook, timeouts, GPUs per job, in-place write-back.

:func:`run_notebooks` checks its arguments, picks the notebooks and hands them to ``_Runner``,
which starts ``python -m papermill`` for each (in its own session, killed with everything it
started on ``--timeout`` or interruption), reads back the error and the fresh ``results.json``,
and with ``--in-place`` writes a successful run over its source notebook.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
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
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any

from helpers.core.results import atomic_write_text
from helpers.tools.run.parameters import (
    PROFILES,
    _validate_declared,
    _validate_name,
    _validate_values,
    _visible_gpus,
    resolve_run_profile,
)
from helpers.tools.run.gpu_usage import GpuUsage
from helpers.tools.run.record import NotebookRun
from helpers.tools.run.selection import find_repo_root, resolve_notebooks
from helpers.tools.run.summary import write_summary

DEFAULT_KERNEL = "python3"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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
    # Progress bars leave one final line in the executed notebook (helpers.core.progress).
    env.setdefault("HELPERS_PROGRESS", "final")
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
    from helpers.core.results import read_results

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
        usage: GpuUsage | None = None
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
                with GpuUsage(gpu, os.environ.get("CUDA_VISIBLE_DEVICES")) as usage:
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
        gpu_usage = usage.record if usage is not None else None
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
            from helpers.tools.committed import run_parameters, write_committed

            write_committed(target, nb, params, device=(results or {}).get("device"),
                            seconds=(results or {}).get("seconds"))
            target.unlink()
            output = nb
            if results is not None:
                results = {**results, "run": {"parameters": run_parameters(params), "wall_seconds": round(seconds, 1),
                                              **(gpu_usage or {})}}
                atomic_write_text(out_dir / "results.json", json.dumps(results, indent=2) + "\n")
        run = NotebookRun(nb.stem, status, seconds, output, error, results, profile=self.profile,
                          source=nb, output_dir=out_dir, gpu=gpu, gpu_usage=gpu_usage)
        busy = (gpu_usage or {}).get("gpu_busy_fraction")
        self.log(f"{tag} {status:<6} {nb.stem} in {seconds:.1f} s" + (f", GPU busy {busy:.0%}" if busy is not None else "")
                 + (f" - {error}" if error else ""))
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
