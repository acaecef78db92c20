"""Text that cannot go stale: every number a markdown cell states must come from the run (issue 19).

The committed notebooks carry the outputs of one full GPU run. A discussion cell written before
(or for another) run can state numbers that the outputs beside it no longer show. This test reads
every committed notebook and fails on such a number.

The rule
--------
A number in a markdown cell must be *found* in one of:

1. the text the notebook's code cells printed (stream and ``text/plain``/``text/markdown``/
   ``text/html`` outputs),
2. the notebook's ``parameters`` cell,
3. the notebook's ``results/<stem>/results.json`` (every number in it, at any depth, also the
   numbers written inside its strings), for an exercise notebook the results of its chapter,
4. a phrase of the notebook's entry in ``ALLOWED`` below: a phrase (matched with any whitespace)
   that quotes the *paper* (its published values, its data set's size) or states a fact that is
   not a result of the run (a generator's design, a GPU's memory), each with the reason it may
   stand. The numbers inside an allowed phrase are not checked; the same number elsewhere is.

"Found" means: some value ``v`` of those sources rounds to the number at the precision the markdown
shows (``0.86`` is found in ``0.8649``, ``0.865`` too, ``0.864`` is not), or, for a fraction
(``|v| <= 1.5``), ``100 * v`` does (``92 %`` in ``0.923``; IoU points), or, for a percentage
(``1 <= |v| <= 100``), ``v / 100`` does. Signs are ignored (``+1.03`` and ``-1.03`` are the same
difference), thousands separators are read (``1,926,499``).

What is not a number stated by the text, and is skipped:

* code (fenced blocks and ``inline code``), LaTeX (``$...$``, ``$$...$$``), MyST roles and
  directives (``{cite}`...```), HTML tags, link and image targets;
* a number glued to a letter or an underscore: names such as ``d5 l7``, ``C4F7``, ``U-Net``,
  ``ResNet-50``, ``bf16``, ``H100``, ``T4``, ``3x3``, ``01_grain_boundary_unet``;
* a number that names a place: after ``Fig.``, ``Figure``, ``Table``, ``Section``, ``Eq.``, ``cell``,
  ``notebook``, ``paper``, ``issue``, ``row``, ``column``, ``page``, ``step``, ``part``, ``chapter``
  (with ``and``/``,``/``–`` lists: ``Tables 1 and 2``), a heading's section number (``## 3.``) and
  a list item's number (``1.``);
* a year (an integer from 1950 to 2039).

Everything else is checked, small integers included (they are almost always printed somewhere,
so they rarely fail). When a cell must compare with the run, it refers to the printed result
("the table above") or the number comes from the run; when it quotes the paper, the value goes
in ``ALLOWED`` with the paper's figure or table.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((ROOT / "notebooks" / "exercises").glob("[0-9][0-9]_*.ipynb"))

# Phrases a markdown cell may state although the run does not print their numbers: the paper's
# published values (with where the paper gives them) and facts that are not results of the run.
# Keyed by notebook stem (an exercise notebook by its own stem), then by the phrase as the markdown
# writes it (whitespace may differ), with the reason. Keep each phrase short: only its numbers are
# exempt.
ALLOWED: dict[str, dict[str, str]] = {
    "00_getting_started": {
        "Colab T4 (15 GB)": "the memory of Colab's free GPU: a fact about hardware, not a result",
    },
    "01_grain_boundary_unet": {
        "Table 1 prints 1.195, 0.929 and 1.130": "the paper's Table 1 (learning rate, momentum, L2), quoted",
        "a learning rate of 1.195 and an L2 coefficient of 1.130": "the same values of the paper's Table 1",
    },
    "02_pspnet_augmentation": {
        "labelled 255": "VOC's 'ignore' label, the code's ignore_index",
        "a 475 × 475 image gives a 60 × 60 × 2048 map": "PSPNet's dilated ResNet-50 at the paper's 475 px input",
        "projects each to 512 channels": "PSPNet's pyramid pooling module (Zhao et al. 2017)",
        "the 16 with the lowest and the 16 with the highest loss": "the paper's Figs. 6-9 show 16 images each",
    },
    "03_filler_classification_hpo": {
        "fractal dimension 2.2": "the generator's design (helpers.data.synthetic.filler), not a result",
        "periodic box of 1500 nm": "the generator's design (helpers.data.synthetic.filler), not a result",
        "radius 8-14 nm": "the generator's particle radii (helpers.data.synthetic.filler.structure), not a result",
        "32-64-128-256 filters, dense 1024 and 256": "the paper's Fig. 1 (its Keras model)",
        "from 1024 to 256": "the paper's dense widths (its Fig. 1), which the course's deeper stacks span",
        "120-point grid": "the grid sampler's grid (helpers.papers.filler_classification.search: 5x2x2x3x2)",
    },
    "04_fewshot_pixel_relation": {
        "from 31.33 % to 35.05 % and 34.55 %": "the paper's COVID-19 CT table (U-Net, same image, two images)",
        "20 slices of 1024 × 1024 pixels": "the ssTEM data set (Gerhard et al.) as the paper describes it",
        "(192 / 48 / 80": "the paper's split of the ssTEM crops (48 and 80 are printed; 192 is the pool)",
        "second stack of 20 slices": "the ssTEM data set's unlabelled stack",
    },
    "05_dcn_kernel_tuning": {
        "holds 30 serial-section TEM slices": "the ISBI 2012 data set (27 + 3 slices are used and printed)",
        "rotation by 90°, 180° or 270°": "the paper's augmentation",
        "its 1 % and 99 % quantiles": "the definition of feature_map_contrast (helpers), not a result",
        "with 15 other kernel settings": "the paper's Table 1: 16 kernel settings, the proposed one and 15 others",
        "compares its change with 15 other settings": "the same count of the paper's Table 1",
    },
    "01_grain_boundary_exercises": {
        "Kulpa (1977) multiplies by 0.948": "Kulpa's published correction factor",
        "radius 40 (true length 2π·40)": "the exercise's own test shape",
    },
    "02_pspnet_augmentation_exercises": {
        "from outside get 255": "VOC's 'ignore' label, the code's ignore_index",
    },
    "03_filler_hpo_exercises": {
        "a 300 nm box": "the exercise's own test structure",
    },
    "05_dcn_exercises": {
        "its 1 % and 99 % quantiles": "the definition of the course's contrast measure",
    },
}

# ---------------------------------------------------------------------------------------------
# Extracting numbers

NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+")
# A number glued to a letter, an underscore or another digit-bearing name is part of a name.
GLUED = re.compile(r"[A-Za-z_]")
PLACE_WORDS = (
    r"Fig|Figs|Figure|Figures|Table|Tables|Tab|Section|Sections|Sec|§|Eq|Eqs|Equation|Equations|"
    r"cell|cells|Cell|Cells|notebook|notebooks|Notebook|Notebooks|paper|papers|Paper|issue|Issue|"
    r"row|rows|Row|Rows|column|columns|Column|page|pages|p|pp|step|Step|part|Part|chapter|Chapter|"
    r"Algorithm|Appendix|exercise|Exercise|item|point\s+\d+\s+of"
)
_REF = r"\(?\d+(?:\.\d+)*[a-z]?\)?"  # 9, 4.2, 9b, (3)
PLACE = re.compile(
    rf"(?<![\w.])(?:{PLACE_WORDS})\.?\s*{_REF}(?:\s*(?:,|and|&|–|-|to|or)\s*{_REF})*"
)
STRIP = [
    re.compile(r"```.*?```", re.S),            # fenced code
    re.compile(r"\$\$.*?\$\$", re.S),          # display math
    re.compile(r"\$[^$\n]+\$"),                # inline math
    re.compile(r"\{[\w:-]+\}`[^`]*`"),         # MyST roles: {cite}`...`, {numref}`...`
    re.compile(r"`[^`]+`"),                    # inline code (may wrap a line)
    re.compile(r"^:::?\{?[\w-]*\}?.*$", re.M),  # directive fences (:::{note})
    re.compile(r"^:\w[\w-]*:.*$", re.M),       # directive options (:name: ...)
    re.compile(r"<[^>\n]+>"),                  # HTML tags
    re.compile(r"\]\([^)\s]*\)"),              # link and image targets
    re.compile(r"https?://\S+"),               # bare addresses
    re.compile(r"^\s*#+\s*\d+(?:\.\d+)*\.?\s", re.M),  # a heading's section number
    re.compile(r"^\s*(?:[-*]\s+)?\d+[.)]\s", re.M),     # a list item's number
]


def stated_numbers(markdown: str) -> list[tuple[str, str]]:
    """The numbers a markdown text states, as ``(number as written, context)`` pairs.

    >>> [n for n, _ in stated_numbers("d5 l7 reaches 0.79 (Fig. 9, 2019) in `epochs=12`; $x^2$ and 1,024 px")]
    ['0.79', '1,024']
    """
    text = markdown
    for pattern in STRIP:
        text = pattern.sub(lambda m: " " * len(m.group(0)) if "\n" not in m.group(0) else
                           re.sub(r"[^\n]", " ", m.group(0)), text)
    text = PLACE.sub(lambda m: " " * len(m.group(0)), text)
    found = []
    for m in NUMBER.finditer(text):
        before, after = text[m.start() - 1: m.start()], text[m.end(): m.end() + 1]
        if GLUED.match(before) or GLUED.match(after) or before == "." and m.group(0)[0] != ".":
            continue
        if after == "." and NUMBER.match(text[m.end() + 1: m.end() + 2] or "x"):
            continue  # a version or a dotted name (1.2.3): the regex stopped in the middle
        if before == "-" and GLUED.match(text[m.start() - 2: m.start() - 1] or " "):
            continue  # a name with a hyphen: ResNet-50, U-Net-3
        value = m.group(0)
        if re.fullmatch(r"\d{4}", value) and 1950 <= int(value) <= 2039:
            continue  # a year
        found.append((value, " ".join(markdown[max(0, m.start() - 50): m.end() + 30].split())))
    return found


def numbers_in(obj) -> list[float]:
    """Every number in a JSON value, at any depth, also the numbers written inside its strings."""
    if isinstance(obj, bool) or obj is None:
        return []
    if isinstance(obj, (int, float)):
        return [float(obj)] if math.isfinite(obj) else []
    if isinstance(obj, str):
        return [float(n.replace(",", "")) for n in NUMBER.findall(obj)]
    if isinstance(obj, dict):
        return [v for x in obj.values() for v in numbers_in(x)] + [v for k in obj for v in numbers_in(k)]
    if isinstance(obj, (list, tuple)):
        return [v for x in obj for v in numbers_in(x)]
    return []


def output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        for kind in ("text/plain", "text/markdown", "text/html", "text/latex"):
            parts.append("".join(out.get("data", {}).get(kind, "")))
    return "\n".join(parts)


def run_numbers(nb: dict, results: list[dict]) -> list[float]:
    """The numbers a notebook's run shows: outputs, the parameters cell and results.json."""
    text = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        text.append(output_text(cell))
        if "parameters" in cell["metadata"].get("tags", []):
            text.append("".join(cell["source"]))
    return numbers_in("\n".join(text)) + numbers_in(results)


def decimals(written: str) -> int:
    return len(written.split(".")[1]) if "." in written else 0


def found(written: str, values: list[float]) -> bool:
    """Whether the number as written is one of ``values`` (or 100x, or 1/100 of one) at its precision."""
    target = float(written.replace(",", ""))
    half = 0.5 * 10 ** -decimals(written) + 1e-9
    for v in map(abs, values):
        scaled = [v] + ([100 * v] if v <= 1.5 else []) + ([v / 100] if 1 <= v <= 100 else [])
        if any(abs(x - target) <= half for x in scaled):
            return True
    return False


def without_phrases(markdown: str, phrases) -> str:
    """The markdown with every occurrence of the allowed phrases blanked (whitespace may differ)."""
    for phrase in phrases:
        pattern = r"\s+".join(re.escape(word) for word in phrase.split())
        markdown = re.sub(pattern, lambda m: re.sub(r"\S", " ", m.group(0)), markdown)
    return markdown


def stale_numbers(nb: dict, results: list[dict], allowed: dict[str, str] | None = None) -> list[str]:
    """Each number a markdown cell of ``nb`` states that the run does not contain, as a message."""
    allowed = allowed or {}
    values = run_numbers(nb, results)
    problems = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for written, context in stated_numbers(without_phrases("".join(cell["source"]), allowed)):
            if found(written, values):
                continue
            problems.append(f"cell {i} ({cell.get('id', '?')}): {written} is not in the run -- '{context}'")
    return problems


def results_for(stem: str) -> list[dict]:
    path = ROOT / "results" / stem / "results.json"
    return [json.loads(path.read_text())] if path.exists() else []


def chapter_of(exercise: Path) -> str | None:
    for nb in NOTEBOOKS:
        if nb.stem[:2] == exercise.stem[:2]:
            return nb.stem
    return None


# ---------------------------------------------------------------------------------------------
# The committed notebooks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_numbers_come_from_the_run(path):
    nb = json.loads(path.read_text())
    problems = stale_numbers(nb, results_for(path.stem), ALLOWED.get(path.stem))
    assert not problems, "markdown states numbers the run does not contain:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_exercise_markdown_numbers_come_from_the_run(path):
    chapter = chapter_of(path)
    nb = json.loads(path.read_text())
    problems = stale_numbers(nb, results_for(chapter) if chapter else [], ALLOWED.get(path.stem))
    assert not problems, "markdown states numbers the run does not contain:\n" + "\n".join(problems)


def test_every_allowed_phrase_is_still_stated():
    """An allow-list entry that no markdown cell states any more is dead: remove it."""
    by_stem = {p.stem: p for p in NOTEBOOKS + EXERCISES}
    assert set(ALLOWED) <= set(by_stem), f"ALLOWED names no notebook: {sorted(set(ALLOWED) - set(by_stem))}"
    for stem, allowed in ALLOWED.items():
        markdown = "\n".join("".join(c["source"]) for c in json.loads(by_stem[stem].read_text())["cells"]
                             if c["cell_type"] == "markdown")
        unused = [phrase for phrase in allowed if without_phrases(markdown, [phrase]) == markdown]
        assert not unused, f"{stem}: ALLOWED lists phrases no markdown cell states: {unused}"
        assert all(reason.strip() for reason in allowed.values()), f"{stem}: every allowed phrase needs a reason"


# ---------------------------------------------------------------------------------------------
# The checker itself


def _notebook(markdown: str, printed: str, params: str = "seed = 0") -> dict:
    return {"cells": [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": params, "outputs": []},
        {"cell_type": "code", "metadata": {}, "source": "print(score)",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": printed}]},
        {"cell_type": "markdown", "metadata": {}, "id": "discussion", "source": markdown},
    ]}


def test_checker_fails_on_a_stale_number():
    nb = _notebook("The U-Net reaches 0.91 mIoU, 3 points above the paper.", "mIoU = 0.8649\n")
    problems = stale_numbers(nb, [])
    assert len(problems) == 2 and "0.91" in problems[0] and "3 is not in the run" in problems[1]
    assert "cell 2 (discussion)" in problems[0]


def test_checker_accepts_numbers_of_the_run_at_their_precision():
    nb = _notebook("0.86 mIoU, 86 %, 86.5 IoU points, 1,926,499 weights, 12 epochs, +0.03 over 0.83.",
                   "mIoU = 0.8649 with 1926499 parameters; gain -0.0312 over 0.8337\n", params="epochs = 12")
    assert stale_numbers(nb, []) == []
    assert stale_numbers(_notebook("0.865", "0.8649"), []) == []
    assert stale_numbers(_notebook("0.864", "0.8649"), []) != []  # 0.8649 shows as 0.865


def test_checker_reads_results_json_and_the_allow_list():
    nb = _notebook("Ours 0.792 after 12 epochs against the paper's 0.95.\nWe beat 0.95 too.", "")
    results = [{"metrics": {"sweep": [{"depth": 5, "epochs": 12, "iou": 0.7921}]}}]
    assert len(stale_numbers(nb, results)) == 2 and "0.95" in stale_numbers(nb, results)[0]
    # the allowed phrase exempts its own numbers only: the same value stated elsewhere is still checked
    left = stale_numbers(nb, results, {"the paper's  0.95": "paper, Fig. 9"})
    assert len(left) == 1 and "We beat 0.95" in left[0]


def test_checker_scales_fractions_and_percentages_only():
    assert found("92", [0.923]) and found("0.54", [54.29]) and found("10.2", [0.102])
    assert not found("1500", [15.0]) and not found("0.15", [1500.0])


def test_checker_skips_names_places_years_code_and_math():
    md = ("## 3. Fig. 9 sweep\n\n1. d5 l7 and C4F7 on a T4 with bf16, ResNet-50 and 3x3 kernels "
          "(Tables 1 and 2, Section 4.2, cell 22, Ronneberger et al. 2015) {cite}`he2016` "
          "in `epochs=50`, $\\alpha = 0.5$, [link](https://x.org/v2/7).\n\n```python\nx = 17\n```\n")
    assert stated_numbers(md) == []
