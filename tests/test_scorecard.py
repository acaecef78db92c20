import json
from pathlib import Path

import pytest

from helpers.scorecard import scorecard_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_committed_scorecard_is_current():
    page = (ROOT / "book" / "scorecard.md").read_text()
    assert page == scorecard_markdown(ROOT / "results"), "run: python -m helpers.scorecard"


def test_scorecard_lists_every_claim(tmp_path):
    rec = {"notebook": "nb", "profile": "full", "data_source": "synthetic", "device": "GPU", "seconds": 1.0,
           "seed": 0, "metrics": {}, "claims": [
               {"id": "a", "paper": "x | y", "paper_value": "+", "ours": 0.5, "holds": True},
               {"id": "b", "paper": "z", "paper_value": 1.0, "ours": None, "holds": False}]}
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "results.json").write_text(json.dumps(rec))
    page = scorecard_markdown(tmp_path)
    assert "| nb | `a` | x / y | + | 0.5 | yes |" in page and "| nb | `b` | z | 1 | - | **no** |" in page
    assert "1 of 2 claims hold." in page
    with pytest.raises(FileNotFoundError):
        scorecard_markdown(tmp_path / "none")
