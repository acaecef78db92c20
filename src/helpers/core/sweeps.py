"""Resumable experiment sweeps: every finished configuration is saved at once.

A sweep over model sizes or kernels can take most of a GPU session. :func:`cached_sweep`
appends each result to a JSON-lines file as soon as it is measured; run the cell again
after an interruption and only the missing configurations are trained.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from helpers.core.checks import check_positive_int
from helpers.core.progress import progress_bar


def config_key(config: Mapping[str, Any]) -> str:
    """A stable text key for a configuration (sorted JSON)."""
    if not isinstance(config, Mapping):
        raise ValueError(f"config must be a dict, got {type(config).__name__}")
    return json.dumps(dict(config), sort_keys=True, default=str)


def read_sweep(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Results saved so far by :func:`cached_sweep`, keyed by :func:`config_key` (empty if none).

    A truncated last line (the process was killed while writing) is ignored.
    """
    p = Path(path)
    done: dict[str, dict[str, Any]] = {}
    if not p.exists():
        return done
    for line in p.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[config_key(row["config"])] = row
    return done


_WORKER_FN: Callable[..., Mapping[str, Any]] | None = None



class WorkerRun:
    """Base of a picklable run object that :func:`cached_sweep` sends to worker processes.

    A subclass (a dataclass holding the data and settings, with a ``device`` field and a
    ``_cache`` dict of tensors already moved to that device) is pickled without its cache:
    device tensors stay in the process that made them, and each worker fills its own.
    """

    _cache: dict[str, Any]
    device: str | None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_cache"} | {"_cache": {}}

    @property
    def torch_device(self) -> Any:
        """The ``torch.device`` of ``device`` (as :func:`helpers.core.runtime.resolve_device` reads it)."""
        from helpers.core.runtime import resolve_device

        return resolve_device(self.device)

def _init_worker(run_one: Callable[..., Mapping[str, Any]], threads: int) -> None:
    global _WORKER_FN
    _WORKER_FN = run_one
    if "torch" in sys.modules:  # CPU runs: the processes share the cores instead of each taking all
        sys.modules["torch"].set_num_threads(threads)


def _call_worker(config: dict[str, Any]) -> dict[str, Any]:
    assert _WORKER_FN is not None, "worker process not initialised"
    return dict(_WORKER_FN(**config))


def cached_sweep(configs: Iterable[Mapping[str, Any]], run_one: Callable[..., Mapping[str, Any]],
                 path: str | os.PathLike | None, *, desc: str = "sweep", progress: bool = True,
                 workers: int = 1) -> list[dict[str, Any]]:
    """Run ``run_one(**config)`` for every configuration, reusing results saved in ``path``.

    Args:
        configs: dicts of keyword arguments for ``run_one``.
        run_one: returns a dict of measurements (JSON-serialisable).
        path: JSON-lines file holding finished results; ``None`` keeps nothing.
        desc: label of the progress bar (:func:`helpers.core.progress.progress_bar`).
        workers: configurations run at once, each in its own (spawned) process; with more than
            one, ``run_one`` must be picklable (a module-level function, or a method of a picklable
            object such as :class:`helpers.papers.fewshot_pixel_relation.protocol.FewShotProtocol`). Small networks that
            leave a GPU mostly idle train side by side this way. Results are saved as they finish.

    Returns:
        One dict per configuration, in the order given: ``{"config": ..., **measurements}``.

    Example:
        >>> rows = cached_sweep([{"a": 1}, {"a": 2}], lambda a: {"double": 2 * a}, None, progress=False)
        >>> [r["double"] for r in rows]
        [2, 4]
    """
    configs = [dict(c) for c in configs]
    if not configs:
        raise ValueError("configs is empty: nothing to sweep")
    keys = [config_key(c) for c in configs]
    if len(set(keys)) != len(keys):
        raise ValueError("configs contains the same configuration twice")
    workers = check_positive_int(workers, "workers")
    done = read_sweep(path) if path is not None else {}
    todo = [c for c, k in zip(configs, keys) if k not in done]
    bar = None
    if progress and todo:
        bar = progress_bar(total=len(configs), initial=len(configs) - len(todo), desc=desc, unit="run")

    def record(config: dict[str, Any], measured: Mapping[str, Any]) -> None:
        row = {"config": config, **measured}
        done[config_key(config)] = row
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as fh:  # one line per result: a kill loses at most the runs in flight
                fh.write(json.dumps(row, default=float) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        if bar is not None:
            bar.set_postfix({k: v for k, v in config.items() if isinstance(v, (int, float, str))}, refresh=False)
            bar.update(1)

    try:
        if workers == 1 or len(todo) <= 1:
            for config in todo:
                record(config, dict(run_one(**config)))
        else:
            _run_in_processes(todo, run_one, min(workers, len(todo)), record, desc)
    finally:
        if bar is not None:
            bar.close()
    return [done[k] for k in keys]


def _run_in_processes(todo: list[dict[str, Any]], run_one: Callable[..., Mapping[str, Any]], workers: int,
                      record: Callable[[dict[str, Any], Mapping[str, Any]], None], desc: str) -> None:
    import multiprocessing as mp
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
    from multiprocessing.reduction import ForkingPickler

    try:  # serialised the way the pool will send it to its workers (trusted: this process's own object)
        ForkingPickler.dumps(run_one)
    except Exception as exc:
        raise ValueError(f"workers > 1 needs a picklable run_one (a module-level function or a method of a "
                         f"picklable object), got {run_one!r}: {type(exc).__name__}: {exc}") from None
    threads = max(1, (os.cpu_count() or 1) // workers)
    # spawn, not fork: a forked child cannot use CUDA once the parent has.
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(run_one, threads)) as pool:
        pending = {pool.submit(_call_worker, c): c for c in todo}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_EXCEPTION)
                for fut in finished:
                    config = pending.pop(fut)
                    try:
                        measured = fut.result()
                    except Exception as exc:
                        raise RuntimeError(f"{desc}: the run {config} failed in its worker: "
                                           f"{type(exc).__name__}: {exc}") from exc
                    record(config, measured)
        finally:
            for fut in pending:  # an error or an interrupt: start nothing new; finished runs are saved
                fut.cancel()
