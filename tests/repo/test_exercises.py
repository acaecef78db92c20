"""Tests of the exercise notebooks in ``notebooks/exercises/`` (every notebook found there).

An exercise is a markdown cell that poses it, a code cell tagged ``solution`` (hidden in the book by
``hide-input``) whose first lines are ``#`` comments stating the task, and a later code cell tagged
``exercise-check`` whose asserts compare the answer with an independent reference. For each notebook:

1. structure: at least three exercises, each solution followed by its check before the next
   solution, each solution starting with its task as a comment;
2. the notebook (solutions in place) executes without error, from ``notebooks/exercises/``;
3. the student copy that :func:`helpers.tools.student.student_notebook` makes fails at its first
   ``exercise-check`` cell, so the checks really test the reader's answer.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest

from helpers.tools.student import SOLUTION_TAG, STUB, student_notebook

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = ROOT / "notebooks" / "exercises"
NOTEBOOKS = sorted(p for p in EXERCISES.glob("*.ipynb") if not p.name.startswith("."))
CHECK_TAG = "exercise-check"
HIDE_TAGS = {"hide-input", "hide-cell", "remove-input"}
# Each exercise notebook runs on a laptop CPU in well under a minute; a cell that takes this long hangs.
CELL_TIMEOUT_S = 300


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


def _execute(nb, allow_errors: bool = False):
    """Execute ``nb`` in place in a python3 kernel started in notebooks/exercises/."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(EXERCISES)}})
    return client.execute()


def _error_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
            and any(o.get("output_type") == "error" for o in c.get("outputs", []))]


def test_exercise_folder_is_not_empty():
    assert NOTEBOOKS, f"no exercise notebooks in {EXERCISES}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_exercise_structure(path: Path):
    nb = _read(path)
    cells = nb.cells
    code = [c for c in cells if c.cell_type == "code"]
    assert code and "remove-cell" in _tags(code[0]), f"{path.name}: the first code cell must be the Colab cell (remove-cell)"
    solutions = [i for i, c in enumerate(cells) if c.cell_type == "code" and SOLUTION_TAG in _tags(c)]
    checks = [i for i, c in enumerate(cells) if c.cell_type == "code" and CHECK_TAG in _tags(c)]
    assert len(solutions) >= 3, f"{path.name}: {len(solutions)} solution cells, expected at least 3"
    for k, i in enumerate(solutions):
        first = _source(cells[i]).lstrip().splitlines()[0] if _source(cells[i]).strip() else ""
        assert first.startswith("#"), f"{path.name} cell {i}: a solution must start with the task as a # comment"
        assert HIDE_TAGS & set(_tags(cells[i])), f"{path.name} cell {i}: a solution must be hidden (hide-input)"
        nxt = solutions[k + 1] if k + 1 < len(solutions) else len(cells)
        assert any(i < j < nxt for j in checks), f"{path.name} cell {i}: no exercise-check cell after this solution"
        prev = solutions[k - 1] if k else -1
        assert any(cells[j].cell_type == "markdown" for j in range(prev + 1, i)), \
            f"{path.name} cell {i}: no markdown cell posing this exercise"
    student, replaced = student_notebook(json.loads(path.read_text(encoding="utf8")))
    assert replaced == len(solutions)
    for i in solutions:
        stub = _source(student["cells"][i])
        assert stub.endswith(STUB) and len(stub.splitlines()) >= 2, f"{path.name} cell {i}: the student copy lost the task"


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_exercise_notebook_executes(path: Path):
    nb = _read(path)
    t0 = time.perf_counter()
    _execute(nb)  # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - t0
    assert _error_cells(nb) == []
    assert seconds < 120, f"{path.name} took {seconds:.0f} s; exercises should run in seconds on a CPU"


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_copy_fails_at_its_first_check(path: Path):
    from nbclient.exceptions import CellExecutionError

    student, _ = student_notebook(json.loads(path.read_text(encoding="utf8")))
    cells = student["cells"]
    first_check = next(i for i, c in enumerate(cells) if c["cell_type"] == "code" and CHECK_TAG in _tags(c))
    student["cells"] = cells[: first_check + 1]  # nothing after the first check needs to run
    nb = nbformat.reads(json.dumps(student), as_version=4)  # joins list sources into strings
    with pytest.raises(CellExecutionError):
        _execute(nb)
    assert _error_cells(nb) == [first_check], (
        f"{path.name}: the student copy should run up to its first exercise-check cell ({first_check}) "
        f"and fail there, but errors were in cells {_error_cells(nb)}")
