"""The committed notebooks are what the book shows: they must carry a clean full GPU run."""

import json
import re
from pathlib import Path

import pytest

from helpers.results import read_results

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def cells(path):
    return json.loads(path.read_text())["cells"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_contract_cells(path):
    cs = cells(path)
    tags = [c.get("metadata", {}).get("tags", []) for c in cs]
    assert "remove-cell" in tags[0], "first cell must be the Colab install cell tagged remove-cell"
    params = [c for c, t in zip(cs, tags) if "parameters" in t]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    src = "".join(params[0]["source"])
    for name in ("profile", "data_source", "data_root", "seed", "output_dir"):
        assert re.search(rf"^{name}\s*=", src, re.M), f"parameters cell lacks {name}"
    assert re.search(r'^profile\s*=\s*"auto"', src, re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_carries_a_clean_full_gpu_run(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"].get("papermill", {}).get("parameters", {}).get("profile") == "full", \
        "committed outputs must come from the full profile (helpers.run --profile full --in-place)"
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"], "committed with an error output"
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "remove-cell" not in c["metadata"].get("tags", [])]
    assert all(c.get("outputs") is not None for c in code)
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure in the committed outputs"
    text = json.dumps(outputs)
    for private in ("/work/", "/root/", "/home/", "/tmp/"):
        assert private not in text, f"outputs mention a path of the author's machine ({private})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_results_match_the_notebook(path):
    res = read_results(ROOT / "results" / path.stem)
    assert res["notebook"] == path.stem and res["profile"] == "full"
    assert res["device"] != "" and "CPU" not in res["device"]
    # The results.json printed by the notebook's last cell is the committed one.
    last = "".join("".join(o.get("text", "")) for o in cells(path)[-1].get("outputs", []))
    assert json.loads(last[last.index("{"):]) == res
