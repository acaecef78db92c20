"""Tests of the notebook runner ``helpers.tools.run`` on tiny fixture notebooks.

The fixtures in ``tests/fixtures/runner/`` each have a ``parameters`` cell (``profile``,
``data_source``, ``output_dir``, ``seed``): ``01_ok`` records its parameters, working
directory and environment in ``results.json``; ``02_fail`` raises; ``03_hang`` sleeps
forever; ``04_noresults`` succeeds without writing ``results.json``. Every test works
on copies in a temporary fake repository, so the fixtures are never modified.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from helpers.core.results import read_results
from helpers.tools import run as runner
from helpers.tools.run import NotebookRun, main, parse_value, resolve_notebooks, run_notebooks

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runner"


def quiet(_: str) -> None:
    pass


def outputs(path: Path) -> list:
    nb = nbformat.read(str(path), as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def injected(path: Path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    return cells[0].source


# ---------------------------------------------------------------- fast unit tests


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("-2", -2), ("0.5", 0.5), ("1e-3", 1e-3), ("True", True), ("false", False),
    ("None", None), ("null", None), ("[1, 2]", [1, 2]), ('{"a": 1}', {"a": 1}),
    ("real", "real"), ("yes", "yes"), ("[not json", "[not json"),
])
def test_parse_value(text, value):
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


def test_format_number_and_headline():
    assert [runner.format_number(v) for v in (0.83124, 1234.5, 3, 1.2e-7)] == ["0.831", "1234", "3", "1.2e-07"]
    res = {"metrics": {"name": "x", "flag": True, "a": 1, "b": 0.25, "c": 2.0, "d": 9}, "claims": []}
    assert runner.headline_metrics(res) == {"a": 1, "b": 0.25, "c": 2.0}
    assert runner.headline_metrics(None) == {}


def test_resolve_notebooks_by_stem_number_glob_and_path(repo):
    nbs = repo / "notebooks"
    assert [p.name for p in resolve_notebooks()] == [
        "01_ok.ipynb", "02_fail.ipynb", "03_hang.ipynb", "04_noresults.ipynb"]
    assert resolve_notebooks(["02_fail"]) == [nbs / "02_fail.ipynb"]
    assert resolve_notebooks(["02"]) == [nbs / "02_fail.ipynb"]
    assert resolve_notebooks(["04_noresults.ipynb", "0[12]*", "01"]) == [
        nbs / "04_noresults.ipynb", nbs / "01_ok.ipynb", nbs / "02_fail.ipynb"]
    assert resolve_notebooks(["notebooks/03_hang.ipynb"]) == [nbs / "03_hang.ipynb"]
    assert resolve_notebooks(["notebooks/0[34]*.ipynb"]) == [nbs / "03_hang.ipynb", nbs / "04_noresults.ipynb"]


def test_unknown_notebook_lists_available(repo, capsys):
    with pytest.raises(ValueError, match=r"unknown notebook 'nope'.*available: 01_ok, 02_fail, 03_hang, 04_noresults"):
        resolve_notebooks(["nope"])
    with pytest.raises(SystemExit) as exc:
        main(["nope"])
    assert exc.value.code == 2
    assert "available: 01_ok" in capsys.readouterr().err


def test_no_repository_needs_notebooks_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="--notebooks-dir"):
        resolve_notebooks()
    assert resolve_notebooks(["01_ok"], FIXTURES) == [(FIXTURES / "01_ok.ipynb").resolve()]


@pytest.mark.parametrize("argv, message", [
    (["--profile", "huge"], "invalid choice: 'huge'"),
    (["--timeout", "0"], "must be > 0"),
    (["--timeout", "-5"], "must be > 0"),
    (["--timeout", "soon"], "expected a number"),
    (["--jobs", "0"], "must be >= 1"),
    (["-p", "profile", "full"], "use --profile"),
    (["-p", "output_dir", "x"], "use --output"),
    (["-p", "not-a-name", "1"], "identifiers"),
])
def test_bad_arguments_are_usage_errors(repo, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv + ["01_ok"])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, message", [
    ({"profile": "huge"}, "profile must be one of"),
    ({"timeout": 0}, "timeout must be a positive"),
    ({"timeout": -1.0}, "timeout must be a positive"),
    ({"jobs": 0}, "jobs must be an integer >= 1"),
    ({"jobs": 1.5}, "jobs must be an integer >= 1"),
    ({"parameters": {"profile": "full"}}, "use --profile"),
])
def test_bad_arguments_raise_value_error(repo, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_notebooks(["01_ok"], log=quiet, **kwargs)


def test_auto_profile_without_gpu_is_lite(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert runner.resolve_run_profile("auto") == "lite"  # smoke only when asked for
    assert runner.resolve_run_profile("smoke") == "smoke"
    assert runner.resolve_run_profile("full") == "full"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert runner.parameters._visible_gpus() == ["2", "5"]


def test_list_prints_and_runs_nothing(repo, capsys):
    assert main(["--list", "--profile", "smoke", "01", "02"]) == 0
    out = capsys.readouterr().out
    assert "01_ok" in out and "02_fail" in out and "profile smoke" in out
    assert not (repo / "results").exists()


def test_prepare_only_injects_without_executing(repo):
    runs = run_notebooks(["01_ok", "02_fail"], profile="smoke", parameters={"seed": 7, "extra": "x"},
                         prepare_only=True, log=quiet)
    assert [r.status for r in runs] == ["prepared", "prepared"]
    for r in runs:
        assert r.output == repo / "results" / r.name / f"{r.name}.ipynb"
        src = injected(r.output)
        assert 'profile = "smoke"' in src and "seed = 7" in src
        assert f'output_dir = "{repo / "results" / r.name}"' in src  # absolute: runnable from anywhere
        assert outputs(r.output) == []  # nothing executed
        assert not (r.output.parent / "results.json").exists()
    assert not (repo / "results" / "summary.json").exists()
    assert nbformat.read(str(repo / "notebooks" / "01_ok.ipynb"), as_version=4) == nbformat.read(
        str(FIXTURES / "01_ok.ipynb"), as_version=4)


# ------------------------------------------------------------- executing notebooks


def test_parameters_reach_the_notebook(repo):
    runs = run_notebooks(["01_ok"], profile="smoke", parameters={"seed": 3, "extra": "hello", "ratio": 0.25},
                         log=quiet)
    (r,) = runs
    assert isinstance(r, NotebookRun)
    assert r.status == "ok" and r.ok and r.error is None
    assert r.output == repo / "results" / "01_ok" / "01_ok.ipynb" and r.output.exists()
    assert 'output_dir = "../results/01_ok"' in injected(r.output)  # relative inside the repository
    res = r.results
    assert res == read_results(repo / "results" / "01_ok")
    assert res["profile"] == "smoke" and res["seed"] == 3
    m = res["metrics"]
    assert m["score"] == 3.5 and m["ratio"] == 0.25 and m["extra"] == "hello"
    assert m["cwd"] == str(repo / "notebooks")  # runs in the notebook's folder
    assert m["mplbackend"] == "module://matplotlib_inline.backend_inline"
    figures = [o for c in nbformat.read(r.output, as_version=4).cells for o in c.get("outputs", [])
               if "image/png" in o.get("data", {})]
    assert len(figures) == 1  # the executed notebook carries its figure, once
    assert r.headline == {"score": 3.5, "ratio": 0.25, "t_start": m["t_start"]}
    assert r.claims == (1, 2)
    assert outputs(r.output)  # executed: the copy carries outputs


def test_failures_continue_and_are_summarised(repo, capsys):
    code = main(["02_fail", "01_ok", "04_noresults", "--profile", "smoke", "-p", "seed", "1", "--no-progress"])
    assert code == 1
    out = capsys.readouterr().out
    assert "start  02_fail" in out and "start  01_ok" in out and "start  04_noresults" in out
    assert "ValueError: boom from the fixture" in out
    table = out[out.index("notebook "):]
    assert "01_ok" in table and "1/2" in table and "score=1.5" in table

    summary = json.loads((repo / "results" / "summary.json").read_text())
    by_name = {rec["notebook"]: rec for rec in summary["runs"]}
    assert list(by_name) == ["01_ok", "02_fail", "04_noresults"]
    assert by_name["01_ok"]["status"] == "ok"
    assert by_name["01_ok"]["claims_held"] == 1 and by_name["01_ok"]["claims_total"] == 2
    assert by_name["01_ok"]["headline"]["score"] == 1.5
    assert by_name["01_ok"]["device"] == "test-device"
    assert by_name["01_ok"]["output"] == "01_ok/01_ok.ipynb"
    assert by_name["02_fail"]["status"] == "failed"
    assert by_name["02_fail"]["error"] == "ValueError: boom from the fixture"
    assert by_name["04_noresults"]["status"] == "no-results"
    assert "results.json was not written" in by_name["04_noresults"]["error"]

    md = (repo / "results" / "summary.md").read_text().splitlines()
    assert md[0].startswith("| notebook | status | profile | device | seconds |")
    assert md[2].startswith("| 01_ok | ok | smoke | test-device |") and md[2].endswith("| 1/2 |")
    assert md[3].startswith("| 02_fail | failed | smoke | - |")
    assert md[4].startswith("| 04_noresults | no-results |")

    # A later run of one notebook updates its entry and keeps the others.
    runner.write_summary([NotebookRun("02_fail", "timeout", 9.0, repo / "x.ipynb", "killed")],
                         repo / "results")
    again = json.loads((repo / "results" / "summary.json").read_text())
    assert [(rec["notebook"], rec["status"]) for rec in again["runs"]] == [
        ("01_ok", "ok"), ("02_fail", "timeout"), ("04_noresults", "no-results")]


def test_stale_results_are_not_taken_for_new_ones(repo):
    stale = repo / "results" / "04_noresults"
    stale.mkdir(parents=True)
    (stale / "results.json").write_text(json.dumps({
        "notebook": "04_noresults", "profile": "full", "data_source": "synthetic", "device": "gpu",
        "seconds": 1.0, "seed": 0, "metrics": {"a": 1}, "claims": []}))
    (r,) = run_notebooks(["04"], profile="smoke", log=quiet)
    assert r.status == "no-results" and "stale" in r.error


def test_timeout_kills_the_kernel(repo):
    limit = 8.0
    # Processes that earlier tests left on purpose (multiprocessing's forkserver) are not the runner's.
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    t0 = time.perf_counter()
    (r,) = run_notebooks(["03_hang"], profile="smoke", timeout=limit, log=quiet)
    wall = time.perf_counter() - t0
    assert r.status == "timeout" and not r.ok
    assert "--timeout 8 s" in r.error
    assert limit <= r.seconds < limit + 4 and wall < limit + 6
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert left == []  # papermill, kernel: all gone
    pid_file = repo / "results" / "03_hang" / "kernel.pid"
    if pid_file.exists():  # the kernel got as far as the endless cell
        pid = int(pid_file.read_text())
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert "time.sleep(10_000)" in r.error


def test_in_place_overwrites_only_on_success(repo):
    ok_src, fail_src = repo / "notebooks" / "01_ok.ipynb", repo / "notebooks" / "02_fail.ipynb"
    fail_before = fail_src.read_bytes()
    runs = run_notebooks(["01_ok", "02_fail"], profile="smoke", in_place=True, log=quiet)
    ok, fail = runs
    assert ok.status == "ok" and ok.output == ok_src
    assert outputs(ok_src)
    # the committed notebook keeps its own defaults: no injected cell, a note saying what the run was given
    nb = nbformat.read(str(ok_src), as_version=4)
    assert not [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    notes = [c.source for c in nb.cells if "run-note" in c.metadata.get("tags", [])]
    assert len(notes) == 1 and "--profile smoke" in notes[0]
    assert json.loads((repo / "results" / "01_ok" / "results.json").read_text())["run"]["parameters"] == {
        "profile": "smoke"}
    assert not (repo / "results" / "01_ok" / "01_ok.ipynb").exists()  # written instead of the copy
    assert not list((repo / "notebooks").glob(".*"))  # no temporary files left behind
    assert fail.status == "failed"
    assert fail_src.read_bytes() == fail_before
    assert fail.output == repo / "results" / "02_fail" / "02_fail.ipynb" and fail.output.exists()


def test_two_jobs_run_concurrently_on_their_own_gpus(repo, monkeypatch):
    shutil.copy(repo / "notebooks" / "01_ok.ipynb", repo / "notebooks" / "05_ok_again.ipynb")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    sleep = 4.0
    t0 = time.perf_counter()
    runs = run_notebooks(["01_ok", "05_ok_again"], profile="smoke", jobs=2, parameters={"sleep": sleep},
                         log=quiet)
    wall = time.perf_counter() - t0
    assert [r.status for r in runs] == ["ok", "ok"]
    assert wall < sum(r.seconds for r in runs)
    m1, m2 = (r.results["metrics"] for r in runs)
    assert max(m1["t_start"], m2["t_start"]) < min(m1["t_end"], m2["t_end"])  # the sleeps overlapped
    assert sorted([m1["cuda_visible_devices"], m2["cuda_visible_devices"]]) == ["5", "7"]
    assert sorted(r.gpu for r in runs) == ["5", "7"]


def test_terminating_the_runner_stops_its_notebooks(repo):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "helpers.run", "03_hang", "--profile", "smoke"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pid_file = repo / "results" / "03_hang" / "kernel.pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert pid_file.exists(), "the fixture kernel never started"
    descendants = psutil.Process(proc.pid).children(recursive=True)
    proc.terminate()
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 130, out
    assert "interrupted" in out
    gone, alive = psutil.wait_procs(descendants, timeout=5)
    assert not alive
