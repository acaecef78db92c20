"""Resumable experiment sweeps: every finished configuration is saved at once.

A sweep over model sizes or kernels can take most of a GPU session. :func:`cached_sweep`
appends each result to a JSON-lines file as soon as it is measured; run the cell again
after an interruption and only the missing configurations are trained.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any


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


def cached_sweep(configs: Iterable[Mapping[str, Any]], run_one: Callable[..., Mapping[str, Any]],
                 path: str | os.PathLike | None, *, desc: str = "sweep", progress: bool = True) -> list[dict[str, Any]]:
    """Run ``run_one(**config)`` for every configuration, reusing results saved in ``path``.

    Args:
        configs: dicts of keyword arguments for ``run_one``.
        run_one: returns a dict of measurements (JSON-serialisable).
        path: JSON-lines file holding finished results; ``None`` keeps nothing.
        desc: label of the progress bar.

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
    done = read_sweep(path) if path is not None else {}
    todo = [c for c, k in zip(configs, keys) if k not in done]
    bar = None
    if progress and todo:
        from tqdm.std import tqdm

        bar = tqdm(total=len(configs), initial=len(configs) - len(todo), desc=desc, unit="run", mininterval=5.0)
    for config in todo:
        measured = dict(run_one(**config))
        row = {"config": config, **measured}
        done[config_key(config)] = row
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as fh:  # one line per result: a kill loses at most the run in flight
                fh.write(json.dumps(row, default=float) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        if bar is not None:
            bar.set_postfix({k: v for k, v in config.items() if isinstance(v, (int, float, str))}, refresh=False)
            bar.update(1)
    if bar is not None:
        bar.close()
    return [done[k] for k in keys]
