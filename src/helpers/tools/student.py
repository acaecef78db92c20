"""Student copies of the notebooks: solution cells replaced by a stub, outputs cleared.

An exercise in a course notebook is a markdown cell that poses it, followed by a code cell tagged
``solution`` (the Jupyter Book theme hides it behind a toggle when it is also tagged
``hide-input``). Optionally the exercise has a code cell tagged ``exercise-check`` that tests the
reader's answer (an ``assert`` on what the solution computes); it stays in the student copy.

``python -m helpers.tools.student notebooks/ --output student/`` writes one student copy per notebook:
every ``solution`` cell becomes a cell with the first comment lines of the solution (the task) and
``...  # your code here``, every output is removed, and the execution counts are reset.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SOLUTION_TAG = "solution"
STUB = "...  # your code here"


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def stub_for(solution: str) -> str:
    """The student's version of a solution cell: its leading comment lines, then a stub.

    Example:
        >>> print(stub_for("# Sample a CutMix box.\\nbox = cutmix_boxes(4, 64, 64)\\n"))
        # Sample a CutMix box.
        ...  # your code here
    """
    head = []
    for line in solution.splitlines():
        if not line.lstrip().startswith("#"):
            break
        head.append(line)
    return "\n".join([*head, STUB])


def student_notebook(nb: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A copy of ``nb`` (nbformat 4 JSON) with solutions stubbed and outputs cleared.

    Returns:
        The student notebook and the number of solution cells replaced.

    Raises:
        ValueError: ``nb`` is not an nbformat-4 notebook.
    """
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise ValueError("expected an nbformat 4 notebook (a dict with nbformat=4 and a cells list)")
    out = json.loads(json.dumps(nb))  # deep copy
    replaced = 0
    for cell in out["cells"]:
        if cell.get("cell_type") != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if SOLUTION_TAG in tags:
            cell["source"] = stub_for(_source(cell))
            cell["metadata"]["tags"] = [t for t in tags if t not in (SOLUTION_TAG, "hide-input")] + ["exercise"]
            replaced += 1
        cell["outputs"] = []
        cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
        cell.get("metadata", {}).pop("papermill", None)
    out.get("metadata", {}).pop("papermill", None)
    return out, replaced


def write_student_copies(sources: Sequence[str | Path], output: str | Path) -> dict[str, int]:
    """Write a student copy of every notebook in ``sources`` (files or folders) into ``output``.

    Returns:
        ``{notebook name: solution cells replaced}``.
    """
    paths: list[Path] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            paths += sorted(p.glob("*.ipynb"))
        elif p.suffix == ".ipynb" and p.is_file():
            paths.append(p)
        else:
            raise ValueError(f"{s}: expected a .ipynb file or a folder of notebooks")
    if not paths:
        raise ValueError(f"no notebooks found in {list(map(str, sources))}")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for p in paths:
        nb, n = student_notebook(json.loads(p.read_text(encoding="utf8")))
        (out / p.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf8")
        counts[p.name] = n
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.tools.student", description=__doc__.split("\n")[0])
    parser.add_argument("sources", nargs="+", help="notebooks or folders of notebooks")
    parser.add_argument("--output", default="student", help="folder for the student copies (default: student/)")
    args = parser.parse_args(argv)
    for name, n in write_student_copies(args.sources, args.output).items():
        print(f"{name}: {n} solution cell(s) replaced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
