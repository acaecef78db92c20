import json
from pathlib import Path

import pytest

from helpers.tools.scorecard import scorecard_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_committed_scorecard_is_current():
    page = (ROOT / "book" / "scorecard.md").read_text()
    assert page == scorecard_markdown(ROOT / "results"), "run: python -m helpers.tools.scorecard"


def test_scorecard_lists_every_claim_full_and_lite(tmp_path):
    rec = {"notebook": "nb", "profile": "full", "data_source": "synthetic", "device": "GPU", "seconds": 1.0,
           "seed": 0, "metrics": {}, "claims": [
               {"id": "a", "paper": "x | y", "paper_value": "+", "ours": 0.5, "holds": True, "headline": True},
               {"id": "b", "paper": "z", "paper_value": 1.0, "ours": None, "holds": False}]}
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "results.json").write_text(json.dumps(rec))
    page = scorecard_markdown(tmp_path)
    assert "| ★ `a` | x / y | + | 0.5 (holds) | - |" in page and "| `b` | z | 1 | - (**fails**) | - |" in page
    assert "lite: not run yet" in page
    assert "Full profile: 1 of 2 claims hold. Lite profile: 0 of 0 claims hold." in page
    lite = rec | {"profile": "lite", "device": "CPU (x86_64, 2 cores)", "seconds": 600.0, "claims": [
        {"id": "a", "paper": "x | y", "paper_value": "+", "ours": -0.25, "holds": False, "headline": True}]}
    (tmp_path / "nb" / "lite.json").write_text(json.dumps(lite))
    page = scorecard_markdown(tmp_path)
    assert "| ★ `a` | x / y | + | 0.5 (holds) | -0.25 (**fails**) |" in page
    assert "| `b` | z | 1 | - (**fails**) | not run |" in page
    assert "- lite: synthetic data, CPU (x86_64, 2 cores), seed 0, 600 s" in page
    assert "Lite profile: 0 of 1 claims hold." in page
    with pytest.raises(FileNotFoundError):
        scorecard_markdown(tmp_path / "none")
