import json
import re
from pathlib import Path

import pytest

from helpers.core.claims import measured_claim
from helpers.tools.scorecard import (BADGE, CATEGORIES, MAX_COLUMNS, NOT_RUN, SIGN_ONLY, category, claim_data_source,
                                     claim_section, notebook_outline, scorecard_data, scorecard_markdown)

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "book" / "scorecard.md"


def _list_tables(page: str) -> list[list[list[str]]]:
    """The rows (lists of cells) of every ``list-table`` on a page."""
    tables = []
    for body in re.findall(r"```\{list-table\}\n(.*?)\n```", page, flags=re.S):
        rows: list[list[str]] = []
        for line in body.splitlines():
            if line.startswith("* - "):
                rows.append([line[4:]])
            elif line.startswith("  - "):
                rows[-1].append(line[4:])
        tables.append(rows)
    return tables


def _labels(cell: str) -> list[str]:
    """The labels of the badges in a cell, e.g. ``['sign only: holds']``."""
    return [text for _, text in re.findall(r"\{bdg-([\w-]+)\}`([^`]*)`", cell)]


def _summary_counts(cell: str) -> dict[str, int]:
    out = {}
    for text in _labels(cell):
        n, label = text.split(" ", 1)
        out[label] = int(n)
    return out


def _old(cid, ours, holds, **kw):
    return {"id": cid, "paper": f"{cid} paper", "paper_value": "+", "ours": ours, "holds": holds, **kw}


def _write(folder: Path, name: str, rec: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(rec))


@pytest.fixture
def results(tmp_path):
    """A results folder: an old-form full run with a measured claim beside, a lite run, a notebook."""
    measured = measured_claim("m_gain", paper="the skip helps", quote="Fig. 8: the skip helps",
                              paper_value="+", unit="IoU (fraction)", kind="paired seeds", data_source="synthetic",
                              baseline=[0.70, 0.72, 0.71], variant=[0.74, 0.75, 0.76], headline=True)
    noisy = measured_claim("n_gain", paper="a tiny gain", quote="Table 2", paper_value="+", unit="IoU points",
                           kind="paired seeds", data_source="real", baseline=[1.0, 2.0, 3.0], variant=[1.5, 1.5, 3.1])
    full = {"notebook": "01_nb", "profile": "full", "data_source": "synthetic", "device": "GPU X", "seconds": 12.0,
            "seed": 0, "metrics": {"tbm": {"a": 1}}, "claims": [
                _old("old_yes", 0.5, True), _old("old_no", -0.2, False), measured, noisy,
                _old("tbm_real_claim", 3.0, True), _old("isbi_not_in_metrics", 1.0, True)]}
    lite = full | {"profile": "lite", "device": "CPU (2 cores)", "seconds": 300.0, "claims": [
        _old("old_yes", -0.1, False, headline=True), _old("lite_only", 1.0, True)]}
    _write(tmp_path / "results" / "01_nb", "results.json", full)
    _write(tmp_path / "results" / "01_nb", "lite.json", lite)
    _write(tmp_path / "results" / "02_other", "results.json", full | {"notebook": "02_other", "claims": [
        _old("x", 1.0, True)]})
    nb = {"cells": [
        {"cell_type": "markdown", "source": ["# My notebook\n"]},
        {"cell_type": "markdown", "source": ["## 1. The data: × and `code`\n"]},
        {"cell_type": "code", "source": ["results.claim(\"old_yes\", paper='p', paper_value='+', ours=1, holds=True)"]},
        {"cell_type": "markdown", "source": ["```\n## not a heading\n```\n## 1. The data: × and `code`\n"]},
        {"cell_type": "code", "source": ["for m in ('a', 'b'):\n    results.claim(f\"{ds}_{m}_old_no\", ...)"]},
    ]}
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_nb.ipynb").write_text(json.dumps(nb))
    return tmp_path / "results"


def test_committed_scorecard_is_current():
    assert PAGE.read_text() == scorecard_markdown(ROOT / "results"), "run: python -m helpers.tools.scorecard"


def test_old_form_claims_are_never_reproduced(results):
    assert category(_old("a", 1.0, True)) == "sign only: holds" and category(None) == NOT_RUN
    assert category({"id": "a", "holds": True, "verdict": "within noise"}) == "within noise"
    with pytest.raises(ValueError):
        category({"id": "a", "holds": True, "verdict": "holds"})
    rows = {r["id"]: r for b in scorecard_data(results) for r in b["rows"]}
    assert rows["old_yes"]["full"] == "sign only: holds" and rows["old_yes"]["lite"] == "sign only: fails"
    assert rows["m_gain"]["full"] == "reproduced" and rows["n_gain"]["full"] == "within noise"
    assert rows["lite_only"]["full"] == NOT_RUN and rows["m_gain"]["lite"] == NOT_RUN
    page = scorecard_markdown(results)
    for table in _list_tables(page)[1:]:
        for row in table[1:]:
            for cell in row[1:]:
                labels = _labels(cell)
                assert len(labels) == 1 and labels[0] in CATEGORIES, cell
                if "unit not recorded" in cell:  # an old-form claim
                    assert labels[0] in SIGN_ONLY, cell


def test_committed_old_claims_show_as_sign_only():
    """Every committed claim without a verdict is labelled sign only, never reproduced."""
    rows = {(b["notebook"], r["id"]): r for b in scorecard_data(ROOT / "results") for r in b["rows"]}
    for path in sorted((ROOT / "results").glob("*/results.json")) + sorted((ROOT / "results").glob("*/lite.json")):
        rec = json.loads(path.read_text())
        profile = "lite" if path.name == "lite.json" else "full"
        for claim in rec["claims"]:
            label = rows[(rec["notebook"], claim["id"])][profile]
            if "verdict" in claim:
                assert label == claim["verdict"]
            else:
                assert label == ("sign only: holds" if claim["holds"] else "sign only: fails"), (path, claim["id"])


def test_summary_counts_equal_the_rows(results):
    for page in (scorecard_markdown(results), PAGE.read_text()):
        tables = _list_tables(page)
        summary, sections = tables[0], tables[1:]
        assert summary[0] == ["notebook", "full (GPU)", "lite (CPU)"]
        assert len(summary) == 1 + len(sections) + 1  # header, one row per notebook, the total
        total = {"full": {}, "lite": {}}
        for row, claims in zip(summary[1:-1], sections):
            for col, profile in ((1, "full"), (2, "lite")):
                labels = [_labels(r[col])[0] for r in claims[1:]]
                expected = {c: labels.count(c) for c in CATEGORIES if labels.count(c)}
                assert _summary_counts(row[col]) == expected, (row, expected)
                for c, n in expected.items():
                    total[profile][c] = total[profile].get(c, 0) + n
        assert _summary_counts(summary[-1][1]) == total["full"] and _summary_counts(summary[-1][2]) == total["lite"]


def test_tables_are_narrow_and_every_value_has_a_unit(results):
    for page in (scorecard_markdown(results), PAGE.read_text()):
        assert "|---" not in page  # no pipe table: list tables with fixed widths only
        for widths in re.findall(r":widths: ([\d ]+)", page):
            assert len(widths.split()) <= MAX_COLUMNS and sum(map(int, widths.split())) == 100
        for table in _list_tables(page):
            assert all(len(row) <= MAX_COLUMNS for row in table)
        for table in _list_tables(page)[1:]:
            for row in table[1:]:
                for cell in row[1:]:
                    if _labels(cell) != [NOT_RUN]:
                        assert "unit not recorded" in cell or re.search(r"\d \S", cell), cell
        assert all(f"bdg-{BADGE[c]}" for c in CATEGORIES)


def test_each_run_is_described_once_per_notebook(results):
    page = scorecard_markdown(results)
    assert page.count("GPU X") == 2 and page.count("CPU (2 cores)") == 1  # 01_nb full and lite, 02_other full
    assert "**full**: synthetic data, GPU X, seed 0, 12 s. **lite**: synthetic data, CPU (2 cores), seed 0, 300 s." in page
    assert "**lite**: not run yet" in page  # 02_other
    committed = PAGE.read_text()
    for rec in map(json.loads, map(Path.read_text, (ROOT / "results").glob("*/results.json"))):
        assert committed.count(f"(`{rec['notebook']}`). **full**: {rec['data_source']} data, {rec['device']},") == 1


def test_claim_data_source(results):
    run = {"data_source": "synthetic", "metrics": {"tbm": {}}}
    assert claim_data_source({"id": "tbm_x"}, run) == "real (tbm)"  # a public data set the run measured
    assert claim_data_source({"id": "isbi_x"}, run) == "synthetic"  # named, but not in the run's metrics
    assert claim_data_source({"id": "tbm_x", "data_source": "synthetic"}, run) == "synthetic"  # the claim says
    page = scorecard_markdown(results)
    row = next(line for line in page.splitlines() if "`tbm_real_claim`" in line)
    cells = page.split(row, 1)[1].splitlines()[1:3]  # full, lite
    assert "**data: real (tbm)**" in cells[0] and cells[1].strip() == "- {bdg-muted-line}`not run`"
    assert "**data: real**" in next(line for line in page.split("`n_gain`", 1)[1].splitlines()[1:3])
    assert "**data:" not in page.split("`old_yes`", 1)[1].splitlines()[1]
    # The committed TBM claim of notebook 01 is on real micrographs inside a synthetic run.
    committed = PAGE.read_text().split("`tbm_unet_vs_deeplabv3plus`", 1)[1].splitlines()
    assert "**data: real (tbm)**" in committed[1]


def test_claims_link_to_their_notebook_section(results, tmp_path):
    outline = notebook_outline(tmp_path / "notebooks" / "01_nb.ipynb")
    assert outline["title"] == "My notebook"
    assert claim_section("old_yes", outline) == ("1. The data: × and code", "1-the-data--and-code")
    # the second heading of the same text gets MyST's unique slug; an f-string id is found by its end
    assert claim_section("tbm_a_old_no", outline) == ("1. The data: × and code", "1-the-data--and-code-1")
    assert claim_section("nowhere", outline) is None
    page = scorecard_markdown(results)
    assert "[§ 1. The data: × and code](../notebooks/01_nb.ipynb#1-the-data--and-code)" in page
    assert "[notebook](../notebooks/01_nb.ipynb)" in page  # a claim whose cell is not found
    assert "## 01 · My notebook" in page and "## 02 · 02_other" in page  # no notebook file: its name
    committed = PAGE.read_text()
    claims = [r for t in _list_tables(committed)[1:] for r in t[1:]]
    assert claims and all(re.search(r"\]\(\.\./notebooks/\w+\.ipynb(#[\w-]+)?\)", r[0]) for r in claims)
    assert sum("#" in r[0].split("](", 1)[1] for r in claims) == len(claims)  # every committed claim: its section


def test_headline_and_course_marks(results):
    page = scorecard_markdown(results)
    assert "★ **m_gain paper**" not in page and "★ **the skip helps**" in page  # measured headline
    assert "★ **old_yes paper**" in page  # headline in the lite run only
    course = measured_claim("q", paper="our own question", quote="asked by the course", paper_value="+",
                            unit="s", kind="seeds", data_source="synthetic", effects=[1.0, 1.2, 0.9], source="course")
    rec = json.loads((results / "02_other" / "results.json").read_text())
    rec["claims"].append(course)
    (results / "02_other" / "results.json").write_text(json.dumps(rec))
    assert "**our own question** (our question, not the paper's)" in scorecard_markdown(results)


def test_missing_results():
    with pytest.raises(FileNotFoundError):
        scorecard_markdown(ROOT / "no-such-folder")
