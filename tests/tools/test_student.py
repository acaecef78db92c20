import json

import pytest

from helpers.tools.student import STUB, main, student_notebook, stub_for, write_student_copies


def _nb():
    def code(src, tags=(), outputs=None):
        return {"cell_type": "code", "source": src, "metadata": {"tags": list(tags)}, "execution_count": 3,
                "outputs": outputs or [{"output_type": "stream", "name": "stdout", "text": "42\n"}]}
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"papermill": {"parameters": {}}}, "cells": [
        {"cell_type": "markdown", "source": "**Exercise.** Sample a CutMix box.", "metadata": {}},
        code(["# Sample one CutMix box of area 1 - lam.\n", "# Hint: sides sqrt(1 - lam).\n", "box = 1\n"],
             tags=("solution", "hide-input")),
        code("assert box == 1", tags=("exercise-check",)),
        code("print(42)"),
    ]}


def test_solutions_become_stubs_and_outputs_go():
    nb = _nb()
    student, n = student_notebook(nb)
    assert n == 1
    sol = student["cells"][1]
    assert sol["source"] == "# Sample one CutMix box of area 1 - lam.\n# Hint: sides sqrt(1 - lam).\n" + STUB
    assert "solution" not in sol["metadata"]["tags"] and "exercise" in sol["metadata"]["tags"]
    assert "box = 1" not in json.dumps(student)  # the answer is gone everywhere
    assert student["cells"][2]["source"] == "assert box == 1"  # the check stays
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None
               for c in student["cells"] if c["cell_type"] == "code")
    assert "papermill" not in student["metadata"]
    assert nb["cells"][1]["source"][2] == "box = 1\n"  # the original is untouched


def test_stub_without_comment_is_just_the_stub():
    assert stub_for("x = 1\n# later comment") == STUB


def test_copies_written_for_a_folder(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    (src / "a.ipynb").write_text(json.dumps(_nb()))
    counts = write_student_copies([src], tmp_path / "student")
    assert counts == {"a.ipynb": 1}
    assert json.loads((tmp_path / "student" / "a.ipynb").read_text())["cells"][1]["source"].endswith(STUB)
    assert main([str(src / "a.ipynb"), "--output", str(tmp_path / "s2")]) == 0
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no notebooks"):
        write_student_copies([tmp_path / "empty"], tmp_path / "x")
    with pytest.raises(ValueError, match="expected a .ipynb"):
        write_student_copies([tmp_path / "missing.txt"], tmp_path / "x")
    with pytest.raises(ValueError, match="nbformat 4"):
        student_notebook({"cells": []})
