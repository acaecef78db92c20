"""Executed notebooks written back as the committed ones: outputs kept, the notebook's own defaults restored.

Papermill records the parameters of a run as an extra cell (tagged ``injected-parameters``) after the
``parameters`` cell. Left in a committed notebook, that cell would make every reader's "Run all" use
the maintainer's settings (``profile = "full"``, an ``output_dir`` of the maintainer's tree). So the
cell is removed, and what the run was given is stated in a note at the top of the notebook instead
(and kept in the notebook's papermill metadata and in its ``results.json``).

Example:
    >>> nb = {"cells": [
    ...     {"cell_type": "markdown", "metadata": {}, "source": "# Title"},
    ...     {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": 'profile = "auto"',
    ...      "outputs": [], "execution_count": 1},
    ...     {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": 'profile = "full"',
    ...      "outputs": [], "execution_count": 2}],
    ...     "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    >>> out = restore_defaults(nb, {"profile": "full", "output_dir": "../results/x"}, device="GPU X")
    >>> [c["metadata"].get("tags") for c in out["cells"]]
    [None, ['run-note'], ['parameters']]
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers.core.results import atomic_write_text

INJECTED_TAG = "injected-parameters"
NOTE_TAG = "run-note"
# Parameters that only say where a run wrote its files: never part of what a reader should repeat.
_LOCAL_PARAMETERS = ("output_dir",)


def _tags(cell: Mapping[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def run_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that define a run (``output_dir`` and other local paths left out)."""
    return {k: v for k, v in parameters.items() if k not in _LOCAL_PARAMETERS}


def run_note(notebook: str, parameters: Mapping[str, Any], device: str | None = None,
             seconds: float | None = None) -> str:
    """The markdown note that says which run produced the outputs shown below it."""
    params = run_parameters(parameters)
    flags = " ".join(f"-p {k} {json.dumps(v) if not isinstance(v, str) else v}" for k, v in params.items()
                     if k != "profile")
    profile = params.get("profile", "auto")
    where = f" on {device}" if device else ""
    took = f" in {seconds:.0f} s" if seconds is not None else ""
    settings = ", ".join(f"`{k} = {v!r}`" for k, v in params.items()) or "its defaults"
    return (
        ":::{note}\n"
        f"The outputs on this page come from one run with {settings}{where}{took}, made with\n"
        f"`python -m helpers.run {notebook} --profile {profile}{' ' + flags if flags else ''}`; its measurements are in\n"
        f"`results/{notebook}/results.json`. The notebook itself keeps `profile = \"auto\"`: run it as it is and it picks\n"
        "the profile that fits your machine (`full` on a GPU with at least 40 GB, `lite` elsewhere).\n"
        ":::"
    )


def restore_defaults(nb: Mapping[str, Any], parameters: Mapping[str, Any], *, device: str | None = None,
                     seconds: float | None = None, notebook: str | None = None) -> dict[str, Any]:
    """A copy of the executed notebook ``nb`` without papermill's injected cell, with a run note.

    The note goes right after the first markdown cell (the chapter's title); an earlier note is replaced.

    Raises:
        ValueError: the notebook has no ``parameters`` cell (papermill would have refused it too).
    """
    out = copy.deepcopy(dict(nb))
    cells = [c for c in out["cells"] if INJECTED_TAG not in _tags(c) and NOTE_TAG not in _tags(c)]
    if not any("parameters" in _tags(c) for c in cells):
        raise ValueError("the notebook has no cell tagged 'parameters'")
    name = notebook or out.get("metadata", {}).get("papermill", {}).get("input_path", "notebook")
    note = {"cell_type": "markdown", "metadata": {"tags": [NOTE_TAG]},
            "source": run_note(Path(str(name)).stem, parameters, device, seconds)}
    if out.get("nbformat", 4) >= 4 and out.get("nbformat_minor", 0) >= 5:
        note["id"] = "run-note"
    first_md = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"), 0)
    cells.insert(first_md + 1, note)
    out["cells"] = cells
    return out


def write_committed(executed: str | os.PathLike, target: str | os.PathLike, parameters: Mapping[str, Any], *,
                    device: str | None = None, seconds: float | None = None) -> Path:
    """Write the executed notebook over ``target`` with its defaults restored (atomically)."""
    executed, target = Path(executed), Path(target)
    nb = json.loads(executed.read_text())
    text = json.dumps(restore_defaults(nb, parameters, device=device, seconds=seconds, notebook=target.stem),
                      indent=1, ensure_ascii=False) + "\n"
    atomic_write_text(target, text)
    return target


def overridden_parameters(nb: Mapping[str, Any]) -> list[str]:
    """What in a notebook overrides its own ``parameters`` cell: an injected cell, or a cell that sets a
    parameter to a literal again (``profile = "full"``). Empty for a clean notebook."""
    import ast

    found = []
    declared: set[str] = set()
    for cell in nb["cells"]:
        if "parameters" in _tags(cell):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            declared |= {t.id for node in ast.parse(src).body if isinstance(node, ast.Assign)
                         for t in node.targets if isinstance(t, ast.Name)}
    for i, cell in enumerate(nb["cells"]):
        tags = _tags(cell)
        if INJECTED_TAG in tags:
            found.append(f"cell {i}: papermill's injected parameters")
            continue
        if cell["cell_type"] != "code" or "parameters" in tags:
            continue
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue  # IPython magics: not a parameter assignment
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                names = [t.id for t in node.targets if isinstance(t, ast.Name) and t.id in declared]
                found += [f"cell {i}: sets {n} = {node.value.value!r}" for n in names]
    return found


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.tools.committed NOTEBOOK...``: restore the defaults of notebooks executed by papermill
    (the parameters come from the notebook's papermill metadata; device and seconds from its results.json)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.tools.committed", description=main.__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--results", type=Path, default=None, help="results folder (default: <repo>/results)")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        nb = json.loads(path.read_text())
        params = nb.get("metadata", {}).get("papermill", {}).get("parameters")
        if params is None:
            print(f"{path}: no papermill parameters in its metadata; left as it is")
            continue
        results_dir = args.results or path.resolve().parent.parent / "results"
        res_path = results_dir / path.stem / "results.json"
        res = json.loads(res_path.read_text()) if res_path.exists() else {}
        write_committed(path, path, params, device=res.get("device"), seconds=res.get("seconds"))
        print(f"{path}: defaults restored ({len(overridden_parameters(json.loads(path.read_text())))} overrides left)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
