import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

from helpers.papers.filler_classification.search import (GRID, SAMPLERS, best_so_far, fail_stale_trials, make_sampler, open_study,  # noqa: E402
                            optimize_until, run_workers, toy_objective, worker_command)


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_runs_the_budget_and_stays_in_the_space(name):
    study = open_study(f"s-{name}", None, make_sampler(name, seed=0))
    optimize_until(study, toy_objective(), 12)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 12
    for t in done:
        assert 2 <= t.params["fc_layers"] <= 9 and t.params["filters"] in (16, 32, 64)
        assert 1e-4 <= t.params["learning_rate"] <= 1e-2 and t.params["batch_size"] in (32, 64, 128)
        if name == "grid":
            assert all(t.params[k] in GRID[k] for k in GRID)
    if name == "grid":  # the grid sampler never repeats a point
        assert len({tuple(sorted(t.params.items())) for t in done}) == 12


def test_model_based_samplers_beat_random_on_average():
    # TPE with 30 trials should find a better point than random search on most seeds.
    wins = 0
    for seed in range(5):
        best = {}
        for name in ("random", "tpe"):
            study = open_study(f"{name}-{seed}", None, make_sampler(name, seed=seed))
            optimize_until(study, toy_objective(), 30)
            best[name] = study.best_value
        wins += best["tpe"] >= best["random"]
    assert wins >= 3


def test_best_so_far_is_monotone():
    study = open_study("b", None, make_sampler("random", 1))
    optimize_until(study, toy_objective(), 10)
    curve = best_so_far(study)
    assert curve["trials"] == list(range(1, 11))
    assert np.all(np.diff(curve["best"]) >= 0) and np.all(np.diff(curve["seconds"]) >= 0)
    assert curve["best"][-1] == pytest.approx(study.best_value)


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_parallel_workers_share_one_study(tmp_path, kind):
    url = f"journal:{tmp_path / 'study.log'}" if kind == "journal" else f"sqlite:///{tmp_path / 'study.db'}"
    out = run_workers(3, url, "shared", 12, "helpers.papers.filler_classification.search:toy_objective", argument="0.05", sampler="random",
                      timeout=240)
    assert out["returncodes"] == [0, 0, 0]
    study = open_study("shared", url)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert 12 <= len(done) <= 12 + 2  # workers stop at the total; at most one in flight each may finish
    assert len({t.number for t in study.trials}) == len(study.trials)
    assert len({t.user_attrs["worker"] for t in done}) >= 2  # the work really was shared


def test_killed_worker_leaves_a_usable_study(tmp_path):
    url = f"journal:{tmp_path / 'study.log'}"
    # A worker with slow trials, killed (SIGKILL) in the middle of one.
    proc = subprocess.Popen(worker_command(url, "kill", 50, "helpers.papers.filler_classification.search:toy_objective", "1.0", "random"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.5)
        if os.path.exists(tmp_path / "study.log"):
            s = open_study("kill", url)
            if len(s.get_trials(states=(TrialState.COMPLETE,))) >= 2 and s.get_trials(states=(TrialState.RUNNING,)):
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    study = open_study("kill", url)  # fails the dead worker's trial
    states = [t.state for t in study.trials]
    assert TrialState.RUNNING not in states and TrialState.FAIL in states
    complete = {t.number: t.value for t in study.trials if t.state == TrialState.COMPLETE}
    assert len(complete) >= 2
    # Resume: finished trials are kept, the study continues to the total without repeats.
    optimize_until(study, toy_objective(), len(complete) + 3)
    after = {t.number: t.value for t in study.trials if t.state == TrialState.COMPLETE}
    assert all(after[k] == v for k, v in complete.items()) and len(after) == len(complete) + 3
    assert len({t.number for t in study.trials}) == len(study.trials)
    assert fail_stale_trials(study) == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="sampler"):
        make_sampler("annealing")
    with pytest.raises(ValueError, match="storage"):
        open_study("x", "")
    with pytest.raises(ValueError, match="module:function"):
        from helpers.papers.filler_classification.search import load_objective

        load_objective("nocolon")
    with pytest.raises(ValueError, match="total_trials"):
        optimize_until(open_study("y", None), toy_objective(), 0)


def test_run_studies_runs_each_study_to_its_budget_and_resumes(tmp_path):
    import optuna

    from helpers.papers.filler_classification.search import open_study, run_studies

    specs = [{"storage": f"journal:{tmp_path / f'{s}.log'}", "study": f"toy-{s}", "sampler": s, "seed": i}
             for i, s in enumerate(("random", "tpe", "genetic"))]
    out = run_studies(specs, 4, "helpers.papers.filler_classification.search:toy_objective", max_parallel=2, progress=False)
    assert out["returncodes"] == [0, 0, 0]
    for s in specs:
        trials = open_study(s["study"], s["storage"]).get_trials(states=(optuna.trial.TrialState.COMPLETE,))
        assert len(trials) == 4, s
    again = run_studies(specs, 4, "helpers.papers.filler_classification.search:toy_objective", max_parallel=3, progress=False)
    assert again["returncodes"] == [0, 0, 0]  # finished studies return at once ...
    for s in specs:  # ... and run no extra trial
        assert len(open_study(s["study"], s["storage"]).get_trials()) == 4
    with pytest.raises(ValueError, match="sampler"):
        run_studies([{"storage": None, "study": "x"}], 1, "helpers.papers.filler_classification.search:toy_objective")


def test_median_pruner_stops_poor_trials():
    import optuna

    from helpers.papers.filler_classification.search import make_pruner

    study = optuna.create_study(direction="maximize", pruner=make_pruner("median"))

    def objective(trial):
        level = trial.suggest_float("level", 0, 1)
        for step in range(5):
            trial.report(level, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return level

    study.optimize(objective, n_trials=30)
    pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert pruned and done
    # the median rule stops the low ones: pruned trials sit well below the finished ones on average
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    assert mean([t.params["level"] for t in pruned]) < mean([t.value for t in done]) - 0.1
    with pytest.raises(ValueError, match="pruner"):
        make_pruner("hyperband-ish")
