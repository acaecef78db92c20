"""Hyperparameter search for the filler CNN: five samplers, shared storages, parallel workers.

* **Samplers** at equal trial budgets (:func:`make_sampler`): ``"grid"`` (Optuna's GridSampler over
  :data:`GRID`), ``"random"``, ``"gp"`` (Gaussian-process Bayesian optimisation), ``"tpe"`` (the
  tree-structured Parzen estimator) and ``"genetic"`` (Optuna's NSGA-II, a genetic algorithm:
  selection, crossover and mutation of trial parameters).
* **Storages** (:func:`open_study`): ``None`` (in memory), ``"journal:PATH"`` (an append-only
  journal file: several processes on one machine), ``"sqlite:///PATH"``, or a database URL such as
  ``"postgresql://user:password@host/db"`` (many machines; heartbeats mark a killed worker's trial
  as failed).
* **Workers** (:func:`run_workers`, ``python -m helpers.papers.filler_classification.search worker ...``): independent processes
  that load one study and run trials until the study holds ``total_trials`` finished ones. Start
  the same command on another machine against the same database to add it to the search.

A worker on another machine (the course installed with ``pip install -e ".[hpo]"``, the data file
copied there, and the PostgreSQL server reachable on its port) joins a running search with::

    python -m helpers.papers.filler_classification.search worker \
        --storage postgresql+psycopg2://USER:PASSWORD@DBHOST:5432/DBNAME \
        --study filler-tpe --trials 200 --sampler tpe --seed 7 \
        --objective helpers.papers.filler_classification.study:cnn_objective --argument /data/filler_hpo.npz

Give each machine its own ``--seed`` and all of them the same ``--study``, ``--trials`` and
``--heartbeat`` (seconds between heartbeats, 20 by default: a worker with a shorter heartbeat would
take a slower worker's live trials for dead ones). A worker that starts on a study that already
has trials offsets its sampler seed by their count, so a restarted worker does not replay the
proposals of the run it replaces.

A worker killed in the middle of a trial leaves that trial RUNNING. On a server database, its
heartbeat stops: once the grace period (three heartbeats) has passed, the next trial any worker
starts marks it FAILED (it is not retried). A journal or SQLite file has no heartbeat:
:func:`fail_stale_trials` marks the trial FAILED when the process that owned it, on this machine,
is gone. Either way the study stays usable and no finished trial is lost or counted twice.
"""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from helpers.core.checks import check_choice, check_positive_int
from helpers.core.progress import progress_bar

SAMPLERS = ("grid", "random", "gp", "tpe", "genetic")

# The search space of the notebook (the paper's hyperparameters: FC count, filters, dropout,
# learning rate, batch size) and the grid the grid sampler walks (5 x 2 x 2 x 3 x 2 = 120 points).
# Notebook 03, section 6, prints both as a table.
SPACE: dict[str, Any] = {"fc_layers": (2, 9), "filters": (16, 32, 64), "dropout": (0.0, 0.6),
                         "learning_rate": (1e-4, 1e-2), "batch_size": (32, 64, 128)}
GRID: dict[str, list[Any]] = {"fc_layers": [2, 3, 5, 7, 9], "filters": [16, 32], "dropout": [0.25, 0.5],
                              "learning_rate": [3e-4, 1e-3, 3e-3], "batch_size": [32, 64]}


def suggest_cnn_params(trial: Any) -> dict[str, Any]:
    """Draw one point of :data:`SPACE` (the grid sampler restricts it to :data:`GRID`)."""
    return {
        "fc_layers": trial.suggest_int("fc_layers", *SPACE["fc_layers"]),
        "filters": trial.suggest_categorical("filters", list(SPACE["filters"])),
        "dropout": trial.suggest_float("dropout", *SPACE["dropout"]),
        "learning_rate": trial.suggest_float("learning_rate", *SPACE["learning_rate"], log=True),
        "batch_size": trial.suggest_categorical("batch_size", list(SPACE["batch_size"])),
    }


def make_sampler(name: str, seed: int = 0, grid: dict[str, list[Any]] | None = None) -> Any:
    """One of :data:`SAMPLERS`, seeded.

    Example:
        >>> type(make_sampler("genetic")).__name__
        'NSGAIISampler'
    """
    import optuna

    check_choice(name, "sampler", SAMPLERS)
    if name == "grid":
        return optuna.samplers.GridSampler(grid or GRID, seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=5)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    return optuna.samplers.NSGAIISampler(seed=seed, population_size=8)


PRUNERS = ("none", "median")


def make_pruner(name: str = "none") -> Any:
    """``"none"`` (every trial runs to the end) or ``"median"`` (stop a trial whose reported value is below
    the median of earlier trials at the same epoch, after 4 finished trials and 1 epoch).

    Example:
        >>> type(make_pruner("median")).__name__
        'MedianPruner'
    """
    import optuna

    check_choice(name, "pruner", PRUNERS)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def make_storage(url: str | None, heartbeat_s: int = 20) -> Any:
    """``None``, ``"journal:PATH"``, or an SQLAlchemy URL (heartbeats on server databases).

    On a server database each running trial records a heartbeat every ``heartbeat_s`` seconds; a
    trial whose heartbeat is older than ``3 * heartbeat_s`` is failed (and not retried) by the next
    worker that starts a trial.
    """
    import optuna

    if url is None:
        return None
    if not isinstance(url, str) or not url:
        raise ValueError(f"storage must be None, 'journal:PATH' or a database URL, got {url!r}")
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        path = Path(url[len("journal:"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    if url.startswith("sqlite:"):
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    heartbeat_s = check_positive_int(heartbeat_s, "heartbeat_s")
    try:  # Optuna >= 4.9 renamed the callback and its argument (the old names warn)
        from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry

        key = "heartbeat_stale_trial_callback"
    except ImportError:
        from optuna.storages import RetryFailedTrialCallback as Retry

        key = "failed_trial_callback"
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna; we rely on them on purpose
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, heartbeat_interval=heartbeat_s, grace_period=3 * heartbeat_s,
                                          **{key: Retry(max_retry=0)})


def open_study(name: str, storage: str | None, sampler: Any = None, direction: str = "maximize",
               heartbeat_s: int = 20) -> Any:
    """Create or load a study (``load_if_exists``), after failing trials of dead workers.

    ``heartbeat_s`` is used by server databases only (see :func:`make_storage`).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=make_storage(storage, heartbeat_s), sampler=sampler,
                                direction=direction, load_if_exists=True)
    fail_stale_trials(study)
    return study


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine's worker: only a heartbeat (server databases) can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def fail_stale_trials(study: Any) -> list[int]:
    """Mark RUNNING trials whose worker process (on this machine) is gone as FAILED; return their numbers."""
    from optuna.trial import TrialState

    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get("worker")
        if owner is not None and not _alive(owner):
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            failed.append(t.number)
    return failed


def owned(objective: Callable[[Any], float]) -> Callable[[Any], float]:
    """Wrap an objective so each trial records which process runs it (see :func:`fail_stale_trials`)."""

    def wrapped(trial: Any) -> float:
        trial.set_user_attr("worker", _owner())
        return objective(trial)

    return wrapped


def optimize_until(study: Any, objective: Callable[[Any], float], total_trials: int,
                   catch: tuple[type[BaseException], ...] = ()) -> None:
    """Run trials in this process until the study has ``total_trials`` finished (complete/pruned) ones."""
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    total_trials = check_positive_int(total_trials, "total_trials")
    done = (TrialState.COMPLETE, TrialState.PRUNED)
    if len(study.get_trials(deepcopy=False, states=done)) >= total_trials:
        return
    study.optimize(owned(objective), callbacks=[MaxTrialsCallback(total_trials, states=done)], catch=catch,
                   n_trials=total_trials)  # an upper bound per worker; the callback stops all at the total


def best_so_far(study: Any) -> dict[str, list[float]]:
    """Best value after each finished trial, against trial count and against wall time.

    Returns:
        ``trials`` (1..n), ``seconds`` (since the first trial started) and ``best`` (running maximum
        for a maximised study, minimum otherwise), in completion order.
    """
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    done = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.datetime_complete)
    if not done:
        return {"trials": [], "seconds": [], "best": []}
    t0 = min(t.datetime_start for t in study.get_trials(deepcopy=False) if t.datetime_start is not None)
    better = max if study.direction == StudyDirection.MAXIMIZE else min
    best, out = None, {"trials": [], "seconds": [], "best": []}
    for i, t in enumerate(done, 1):
        best = t.value if best is None else better(best, t.value)
        out["trials"].append(i)
        out["seconds"].append((t.datetime_complete - t0).total_seconds())
        out["best"].append(float(best))
    return out


def load_objective(spec: str, argument: str | None = None) -> Callable[[Any], float]:
    """``"package.module:factory"`` -> ``factory(argument)``, the objective a worker runs."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"objective must be 'module:function', got {spec!r}")
    factory = getattr(importlib.import_module(module), name)
    return factory(argument)


def toy_objective(argument: str | None = None) -> Callable[[Any], float]:
    """A cheap objective over :data:`SPACE` for trying the machinery: ``argument`` = seconds per trial.

    Its maximum (1.0) is at 5 FC layers, 32 filters, dropout 0.3, learning rate 1e-3, batch 64.
    """
    import math

    sleep_s = float(argument) if argument else 0.0

    def objective(trial: Any) -> float:
        p = suggest_cnn_params(trial)
        time.sleep(sleep_s)
        return float(math.exp(-((p["fc_layers"] - 5) / 3) ** 2 - ((p["dropout"] - 0.3) / 0.3) ** 2
                              - math.log10(p["learning_rate"] / 1e-3) ** 2
                              - 0.3 * (p["filters"] != 32) - 0.3 * (p["batch_size"] != 64)))

    return objective


def worker_command(storage: str, study: str, total_trials: int, objective: str, argument: str | None = None,
                   sampler: str = "tpe", seed: int = 0, heartbeat_s: int | None = None,
                   pruner: str = "none") -> list[str]:
    """The command line of one worker (run it on any machine that reaches ``storage``)."""
    check_choice(sampler, "sampler", SAMPLERS)
    check_choice(pruner, "pruner", PRUNERS)
    cmd = [sys.executable, "-m", "helpers.papers.filler_classification.search", "worker", "--storage", storage, "--study", study,
           "--trials", str(total_trials), "--objective", objective, "--sampler", sampler, "--seed", str(seed)]
    if pruner != "none":
        cmd += ["--pruner", pruner]
    if heartbeat_s is not None:
        cmd += ["--heartbeat", str(check_positive_int(heartbeat_s, "heartbeat_s"))]
    return cmd + (["--argument", argument] if argument is not None else [])


def _run_commands(cmds: Sequence[list[str]], *, max_parallel: int, env: dict[str, str] | None,
                  gpus: Sequence[int] | None, timeout: float | None, desc: str | None = None) -> dict[str, Any]:
    """Run worker command lines, ``max_parallel`` at a time, each killed ``timeout`` s after its own start.

    A worker's stderr goes to a temporary file (a pipe read only at the end could fill up and stall a
    chatty worker); its tail is printed when the worker fails. Command ``i`` sees only GPU
    ``gpus[i % len(gpus)]``.
    """
    import tempfile

    bar = progress_bar(total=len(cmds), desc=desc) if desc else None
    t0 = time.perf_counter()
    codes: list[int | None] = [None] * len(cmds)
    running: dict[int, tuple[subprocess.Popen, Any, float]] = {}
    nxt = 0
    while nxt < len(cmds) or running:
        while nxt < len(cmds) and len(running) < max_parallel:
            e = {**os.environ, **(env or {})}
            if gpus:
                e["CUDA_VISIBLE_DEVICES"] = str(gpus[nxt % len(gpus)])
            err = tempfile.TemporaryFile("w+")
            proc = subprocess.Popen(cmds[nxt], env=e, stdout=subprocess.DEVNULL, stderr=err, text=True)
            running[nxt] = (proc, err, time.perf_counter())
            nxt += 1
        time.sleep(0.2)
        for i, (proc, err, started) in list(running.items()):
            if proc.poll() is None:
                if not (timeout and time.perf_counter() - started > timeout):
                    continue
                proc.kill()
            codes[i] = proc.wait()
            if codes[i]:
                err.seek(0)
                sys.stderr.write(err.read()[-2000:])
            err.close()
            del running[i]
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return {"seconds": time.perf_counter() - t0, "returncodes": codes}


def run_workers(n_workers: int, storage: str, study: str, total_trials: int, objective: str,
                argument: str | None = None, sampler: str = "tpe", seed: int = 0,
                env: dict[str, str] | None = None, gpus: Sequence[int] | None = None,
                timeout: float | None = None, heartbeat_s: int | None = None, pruner: str = "none") -> dict[str, Any]:
    """Start ``n_workers`` worker processes on one study and wait for them.

    With ``gpus``, worker ``i`` sees only GPU ``gpus[i % len(gpus)]`` (one process per GPU).
    ``heartbeat_s`` (server databases) is passed to every worker; ``None`` keeps the default.

    Returns:
        ``seconds`` (wall time), ``returncodes``.
    """
    n_workers = check_positive_int(n_workers, "n_workers")
    open_study(study, storage, heartbeat_s=heartbeat_s or 20)  # create once: concurrent creation races on SQLite
    # Each worker gets its own sampler seed, so workers do not propose the same points.
    cmds = [worker_command(storage, study, total_trials, objective, argument, sampler, seed + 1000 * i,
                           heartbeat_s, pruner) for i in range(n_workers)]
    return _run_commands(cmds, max_parallel=n_workers, env=env, gpus=gpus, timeout=timeout)


def run_studies(studies: Sequence[dict[str, Any]], total_trials: int, objective: str, argument: str | None = None, *,
                max_parallel: int = 4, env: dict[str, str] | None = None, gpus: Sequence[int] | None = None,
                timeout: float | None = None, progress: bool = True) -> dict[str, Any]:
    """Run several independent studies at once, one worker process each (e.g. samplers x repeats).

    Args:
        studies: one dict per study with ``storage``, ``study`` and ``sampler``, optionally ``seed`` and
            ``pruner``. A study that already has ``total_trials`` finished trials returns at once, so a
            rerun after an interruption only finishes what is missing.
        total_trials: finished trials each study should reach.
        objective, argument: as for :func:`worker_command`.
        max_parallel: worker processes at a time (each holds its own copy of the data and model).
        gpus: worker ``i`` sees only GPU ``gpus[i % len(gpus)]``.
        timeout: seconds per worker before it is killed.

    Returns:
        ``seconds`` (wall time) and ``returncodes`` in the order of ``studies``.
    """
    max_parallel = check_positive_int(max_parallel, "max_parallel")
    total_trials = check_positive_int(total_trials, "total_trials")
    cmds = []
    for s in studies:
        missing = [k for k in ("storage", "study", "sampler") if k not in s]
        if missing:
            raise ValueError(f"each study needs storage, study and sampler; {s} lacks {missing}")
        cmds.append(worker_command(s["storage"], s["study"], total_trials, objective, argument, s["sampler"],
                                   int(s.get("seed", 0)), pruner=s.get("pruner", "none")))
    for study, storage in dict.fromkeys((s["study"], s["storage"]) for s in studies):
        open_study(study, storage)  # create each once, before the workers race to
    return _run_commands(cmds, max_parallel=max_parallel, env=env, gpus=gpus, timeout=timeout,
                         desc="studies" if progress else None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.papers.filler_classification.search", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run trials of a shared study until it has --trials finished ones")
    w.add_argument("--storage", required=True, help="journal:PATH, sqlite:///PATH or postgresql://...")
    w.add_argument("--study", required=True)
    w.add_argument("--trials", type=int, required=True, help="finished trials the study should reach")
    w.add_argument("--objective", required=True, help="module:factory; factory(argument) returns the objective")
    w.add_argument("--argument", default=None)
    w.add_argument("--sampler", default="tpe", choices=SAMPLERS)
    w.add_argument("--seed", type=int, default=0, help="sampler seed: give each machine its own")
    w.add_argument("--heartbeat", type=int, default=20,
                   help="seconds between heartbeats on a server database (the same for all workers)")
    w.add_argument("--pruner", default="none", choices=PRUNERS,
                   help="stop poor trials early (the objective must report intermediate values)")
    args = parser.parse_args(argv)
    study = open_study(args.study, args.storage, heartbeat_s=args.heartbeat)
    study.pruner = make_pruner(args.pruner)
    # Offset the seed by the trials already there: a restarted worker must not replay its predecessor.
    study.sampler = make_sampler(args.sampler, args.seed + len(study.get_trials(deepcopy=False)))
    optimize_until(study, load_objective(args.objective, args.argument), args.trials)
    return 0


if __name__ == "__main__":
    sys.exit(main())
