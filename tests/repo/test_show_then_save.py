"""Show, then save (issue 21): each paper notebook writes the method's core out in readable form and
checks it against the library, and the committed output of that check reports agreement.

A check cell prints ``max |readable - library| = <difference> (tolerance <tolerance>)`` once per
comparison and asserts the same bound; the library's docstring names the notebook section.
"""

import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# notebook -> (the sections that hold its checks, what the check cells must import from the library)
CHECKS = {
    "01_grain_boundary_unet": ({"2"}, ["residual_unet"]),
    "02_pspnet_augmentation": ({"3", "4"}, ["mix_batch", "PyramidPooling"]),
    "03_filler_classification_hpo": ({"3"}, ["filler_cnn"]),
    "04_fewshot_pixel_relation": ({"3"}, ["pixel_relation_loss"]),
    "05_dcn_kernel_tuning": ({"2"}, ["dcn"]),
}
# the library object -> the notebook section its docstring must name
DOCSTRINGS = {
    "helpers.models.residual_unet:residual_unet": "notebook 01, section 2",
    "helpers.augment.mixing:mix_batch": "notebook 02, section 3",
    "helpers.models.pspnet:PyramidPooling": "notebook 02, section 4",
    "helpers.models.filler_cnn:filler_cnn": "notebook 03, section 3",
    "helpers.losses.pixel_relation:pixel_relation_loss": "notebook 04, section 3",
    "helpers.models.dcn:dcn": "notebook 05, section 2",
}
AGREEMENT = re.compile(r"max \|readable - library\| = (\S+) \(tolerance (\S+)\)")
MAX_TOLERANCE = 2e-2  # the loosest bound a check may set (Keras in bf16 on a GPU)


def _text(cell):
    return "".join(cell["source"])


def show_then_save_problems(nb, sections, imports):
    """What is wrong with a notebook's readable-versus-library checks (an empty list: nothing)."""
    problems, section, found = [], None, {}
    for i, cell in enumerate(nb["cells"]):
        src = _text(cell)
        heading = re.match(r"## (\d+)\.", src) if cell["cell_type"] == "markdown" else None
        section = heading.group(1) if heading else section
        if cell["cell_type"] != "code" or "readable - library" not in src:
            continue
        found.setdefault(section, []).append(i)
        if nb["cells"][i - 1]["cell_type"] != "markdown":
            problems.append(f"cell {i}: the check is not introduced by a markdown cell")
        outputs = cell.get("outputs", [])
        if any(o["output_type"] == "error" for o in outputs):
            problems.append(f"cell {i}: the committed output is an error")
        printed = "".join("".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream")
        values = AGREEMENT.findall(printed)
        if not values:
            problems.append(f"cell {i}: no 'max |readable - library| = ... (tolerance ...)' in its committed output")
        for diff, tol in values:
            if not float(tol) <= MAX_TOLERANCE:
                problems.append(f"cell {i}: tolerance {tol} is looser than {MAX_TOLERANCE:g}")
            if not float(diff) < float(tol):  # also catches nan
                problems.append(f"cell {i}: readable and library differ by {diff} (tolerance {tol})")
    missing = sorted(set(sections) - set(found))
    if missing:
        problems.append(f"no readable-versus-library check in section(s) {', '.join(missing)}")
    checked = "\n".join(_text(nb["cells"][i]) for cells in found.values() for i in cells)
    problems += [f"no check imports the library's {name}" for name in imports
                 if not re.search(rf"^from helpers\.\S+ import .*\b{name}\b", checked, re.M)]
    return problems


@pytest.mark.parametrize("stem", sorted(CHECKS))
def test_notebook_checks_its_readable_version_against_the_library(stem):
    nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    assert show_then_save_problems(nb, *CHECKS[stem]) == []


def test_filler_notebook_shows_the_search_space():
    nb = json.loads((ROOT / "notebooks" / "03_filler_classification_hpo.ipynb").read_text(encoding="utf-8"))
    shown = [c for c in nb["cells"] if c["cell_type"] == "code" and "suggest_cnn_params(" in _text(c)]
    assert shown, "notebook 03 does not print the search space from the library's definition"
    printed = "".join("".join(o.get("text", "")) for c in shown for o in c.get("outputs", []))
    from helpers.papers.filler_classification.search import GRID
    assert all(name in printed for name in GRID) and "120 points" in printed


@pytest.mark.parametrize("target", sorted(DOCSTRINGS))
def test_library_docstring_names_the_notebook_section(target):
    module, name = target.split(":")
    doc = getattr(importlib.import_module(module), name).__doc__ or ""
    assert DOCSTRINGS[target] in " ".join(doc.lower().split())


def _check_cell(printed, source='from helpers.augment import mix_batch\nprint("max |readable - library|")'):
    return {"cell_type": "code", "source": source, "outputs": [{"output_type": "stream", "name": "stdout",
                                                                   "text": printed}]}


def _notebook(*cells):
    return {"cells": [{"cell_type": "markdown", "source": "## 3. Mixing"},
                      {"cell_type": "markdown", "source": "The step as a loop:"}, *cells]}


def test_the_check_fails_on_a_bad_notebook():
    args = ({"3"}, ["mix_batch"])
    good = _check_cell("max |readable - library| = 0.0e+00 (tolerance 1e-06)\n")
    assert show_then_save_problems(_notebook(good), *args) == []
    for bad, why in [
        (_check_cell("max |readable - library| = 3.0e-02 (tolerance 1e-06)\n"), "differ by"),
        (_check_cell("max |readable - library| = nan (tolerance 1e-06)\n"), "differ by"),
        (_check_cell("max |readable - library| = 0.0e+00 (tolerance 1e+00)\n"), "looser"),
        (_check_cell("all fine\n"), "no 'max"),
        ({**good, "outputs": [{"output_type": "error", "ename": "AssertionError", "evalue": "", "traceback": []}]},
         "an error"),
        (_check_cell("max |readable - library| = 0.0e+00 (tolerance 1e-06)\n", 'print("readable - library")'),
         "imports"),
    ]:
        problems = show_then_save_problems(_notebook(bad), *args)
        assert any(why in p for p in problems), (why, problems)
    assert any("section(s) 3" in p for p in show_then_save_problems(_notebook(), *args))
    no_intro = {"cells": [{"cell_type": "markdown", "source": "## 3. Mixing"}, {"cell_type": "code", "source": "x = 1",
                                                                             "outputs": []}, good]}
    assert any("markdown" in p for p in show_then_save_problems(no_intro, *args))
