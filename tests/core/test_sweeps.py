import json

import pytest

from helpers.core.sweeps import cached_sweep, config_key, read_sweep


def test_runs_every_config_in_order_and_saves(tmp_path):
    path = tmp_path / "sweep.jsonl"
    calls = []

    def run(depth, layers):
        calls.append((depth, layers))
        return {"score": depth * 10 + layers}

    configs = [{"depth": d, "layers": l} for d in (2, 3) for l in (2, 5)]
    rows = cached_sweep(configs, run, path, progress=False)
    assert [r["score"] for r in rows] == [22, 25, 32, 35]
    assert len(calls) == 4 and len(path.read_text().splitlines()) == 4
    # A second call (e.g. after an interruption, or a re-run of the cell) trains nothing again.
    rows2 = cached_sweep(configs + [{"depth": 4, "layers": 2}], run, path, progress=False)
    assert len(calls) == 5 and rows2[-1]["score"] == 42 and rows2[:4] == rows


def test_interrupted_sweep_resumes_and_ignores_a_torn_line(tmp_path):
    path = tmp_path / "sweep.jsonl"

    def run(k):
        if k == 2:
            raise KeyboardInterrupt
        return {"v": k}

    with pytest.raises(KeyboardInterrupt):
        cached_sweep([{"k": 0}, {"k": 1}, {"k": 2}], run, path, progress=False)
    with open(path, "a") as fh:
        fh.write('{"config": {"k": 2}, "v"')  # killed mid-write
    assert set(read_sweep(path)) == {config_key({"k": 0}), config_key({"k": 1})}
    rows = cached_sweep([{"k": 0}, {"k": 1}, {"k": 2}], lambda k: {"v": 10 * k}, path, progress=False)
    assert [r["v"] for r in rows] == [0, 1, 20]  # 0 and 1 come from the file, only 2 is run


def test_config_key_is_order_independent():
    assert config_key({"a": 1, "b": 2}) == config_key({"b": 2, "a": 1})
    assert json.loads(config_key({"a": 1})) == {"a": 1}


def test_bad_input():
    with pytest.raises(ValueError, match="configs is empty"):
        cached_sweep([], lambda: {}, None)
    with pytest.raises(ValueError, match="same configuration twice"):
        cached_sweep([{"a": 1}, {"a": 1}], lambda a: {}, None)
    with pytest.raises(ValueError, match="config must be a dict"):
        config_key([1, 2])


def _slow_square(k, fail=False):
    """Module level, so worker processes can unpickle it; the pid says which process ran it."""
    import os
    import time

    if fail:
        raise ValueError(f"bad k={k}")
    time.sleep(0.2 * (3 - k % 3))  # finish out of order
    return {"square": k * k, "pid": os.getpid()}


def test_workers_run_in_other_processes_keep_order_and_save_each_result(tmp_path):
    import os

    path = tmp_path / "sweep.jsonl"
    configs = [{"k": k} for k in range(5)]
    rows = cached_sweep(configs, _slow_square, path, progress=False, workers=2)
    assert [r["square"] for r in rows] == [0, 1, 4, 9, 16]  # the order given, whatever the finishing order
    pids = {r["pid"] for r in rows}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert sorted(json.loads(line)["config"]["k"] for line in path.read_text().splitlines()) == list(range(5))
    # nothing is run again, with or without workers
    assert cached_sweep(configs, _slow_square, path, progress=False, workers=3) == rows
    assert cached_sweep(configs, _slow_square, path, progress=False) == rows


def test_workers_report_the_failing_config_and_keep_the_finished_ones(tmp_path):
    path = tmp_path / "sweep.jsonl"
    configs = [{"k": 0}, {"k": 1, "fail": True}, {"k": 2}]
    with pytest.raises(RuntimeError, match=r"the run \{'k': 1, 'fail': True\} failed in its worker: ValueError: bad k=1"):
        cached_sweep(configs, _slow_square, path, progress=False, workers=2)
    saved = [json.loads(line)["config"] for line in path.read_text().splitlines()] if path.exists() else []
    assert {"k": 1, "fail": True} not in saved and all(c in configs for c in saved)


def test_workers_need_a_picklable_function(tmp_path):
    with pytest.raises(ValueError, match="workers > 1 needs a picklable run_one"):
        cached_sweep([{"k": 1}, {"k": 2}], lambda k: {"k": k}, None, progress=False, workers=2)
    with pytest.raises(ValueError, match="workers must be"):
        cached_sweep([{"k": 1}], _slow_square, None, progress=False, workers=0)
