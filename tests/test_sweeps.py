import json

import pytest

from helpers.sweeps import cached_sweep, config_key, read_sweep


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
