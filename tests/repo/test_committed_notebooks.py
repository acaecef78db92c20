"""The committed notebooks are what the book shows: they must carry a clean full GPU run."""

import json
import re
from pathlib import Path

import pytest

from helpers.core.results import read_results
from helpers.tools.committed import overridden_parameters

ROOT = Path(__file__).resolve().parents[2]
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
    assert re.search(r'^output_dir\s*=\s*None\b', src, re.M), "the default output_dir must stay in the repository"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_keeps_its_own_parameters(path):
    """A reader's "Run all" must get the notebook's defaults, never the maintainer's run settings."""
    nb = json.loads(path.read_text())
    assert overridden_parameters(nb) == []
    notes = [c for c in nb["cells"] if "run-note" in c["metadata"].get("tags", [])]
    assert len(notes) == 1, "the run that made the outputs is stated once, in a note at the top"
    run = nb["metadata"]["papermill"]["parameters"]
    assert f"--profile {run['profile']}" in "".join(notes[0]["source"])


def test_override_detection_catches_injected_and_literal_overrides():
    base = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": 'profile = "auto"\nseed = 0'},
                      {"cell_type": "code", "metadata": {}, "source": "profile = resolve_profile(profile)"}]}
    assert overridden_parameters(base) == []
    injected = {"cells": base["cells"] + [{"cell_type": "code", "metadata": {"tags": ["injected-parameters"]},
                                           "source": 'profile = "full"'}]}
    assert overridden_parameters(injected) == ["cell 2: papermill's injected parameters"]
    literal = {"cells": base["cells"] + [{"cell_type": "code", "metadata": {}, "source": "seed = 3"}]}
    assert overridden_parameters(literal) == ["cell 2: sets seed = 3"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_carries_a_clean_full_gpu_run(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"].get("papermill", {}).get("parameters", {}).get("profile") == "full", \
        "committed outputs must come from the full profile (helpers.tools.run --profile full --in-place)"
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"], "committed with an error output"
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "remove-cell" not in c["metadata"].get("tags", [])]
    assert all(c.get("outputs") is not None for c in code)
    # nbval (the README's test command) refuses a cell with outputs but no execution count
    unrun = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and c.get("outputs")
             and c.get("execution_count") is None]
    assert not unrun, f"cells {unrun} carry outputs without an execution count ('Unrun reference cell' in nbval)"
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure in the committed outputs"
    text = json.dumps(outputs)
    for private in ("/work/", "/root/", "/home/", "/tmp/"):
        assert private not in text, f"outputs mention a path of the author's machine ({private})"
    warned = [m.group(0) for o in outputs for m in PYTHON_WARNING.finditer("".join(o.get("text", "")))]
    assert not warned, f"outputs show a Python warning a reader would take as a problem: {warned[:2]}"


# How Python's warnings module prints a warning: "path.py:21: SomeWarning: message".
PYTHON_WARNING = re.compile(r"\.py:\d+: [A-Z]\w*Warning: [^\n]{0,80}")


def test_python_warning_pattern():
    assert PYTHON_WARNING.search("x/tqdm/auto.py:21: TqdmWarning: IProgress not found. Please update")
    assert not PYTHON_WARNING.search("the loss warns when a class is missing (see Warning: in the text)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_results_match_the_notebook(path):
    res = read_results(ROOT / "results" / path.stem)
    assert res["notebook"] == path.stem and res["profile"] == "full"
    assert res["device"] != "" and "CPU" not in res["device"]
    # The notebook's last cell prints the committed results: a claims table (one line per claim with its
    # verdict) or, in notebooks not yet re-run since the table replaced it, the whole results.json.
    last = "".join("".join(o.get("text", "")) for o in cells(path)[-1].get("outputs", []))
    if last.lstrip().startswith("{") or "\n{" in last:
        printed = json.loads(last[last.index("{"):])
        assert printed == {k: v for k, v in res.items() if k != "run"}
    else:
        lines = last.splitlines()
        for claim in res["claims"]:
            row = [ln for ln in lines if ln.split() and ln.split()[0] == claim["id"]]
            assert len(row) == 1, f"{path.stem}: claim {claim['id']} is not one row of the printed table"
            assert claim["verdict"] in row[0], f"{path.stem}: {claim['id']} printed {row[0]!r}, results say {claim['verdict']}"
        assert f"results/{path.stem}/results.json" in last  # the table says where the file is
    # what the run was given is recorded beside what it measured
    assert res["run"]["parameters"] == {k: v for k, v in json.loads(path.read_text())["metadata"]["papermill"]
                                        ["parameters"].items() if k != "output_dir"}


# Credentials that must never reach the repository, by the shapes their issuers give them.
SECRET_PATTERNS = {
    "AWS access key": r"AKIA[0-9A-Z]{16}",
    "GitHub token": r"gh[pousr]_[A-Za-z0-9]{36,}",
    "Hugging Face token": r"hf_[A-Za-z0-9]{30,}",
    "private key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "Slack token": r"xox[abpr]-[A-Za-z0-9-]{10,}",
    "password in a URL": r"[a-z+]+://[^/\s:@\"']+:(?!PASSWORD@)[^/\s:@\"']+@",
}
PUBLISHED = sorted([*NOTEBOOKS, *(ROOT / "notebooks" / "drafts").glob("*.ipynb"),
                    *(ROOT / "notebooks" / "exercises").glob("*.ipynb"), *(ROOT / "results").rglob("*.json"),
                    *(ROOT / "book").glob("*.md"), ROOT / "README.md"])


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_secret_in_published_files(path):
    text = path.read_text(errors="replace")
    found = [name for name, pattern in SECRET_PATTERNS.items() if re.search(pattern, text)]
    assert not found, f"{path.relative_to(ROOT)} looks like it holds a {', '.join(found)}"


@pytest.mark.parametrize("secret", ["AKIAABCDEFGHIJKLMNOP", "ghp_" + "a1" * 18, "hf_" + "x" * 34,
                                    "-----BEGIN RSA PRIVATE KEY-----", "postgresql://bob:s3cret@db/x"])
def test_secret_patterns_catch_examples(secret):
    assert any(re.search(p, secret) for p in SECRET_PATTERNS.values())
    # the documented placeholder of the worker command is not a secret
    assert not re.search(SECRET_PATTERNS["password in a URL"], "postgresql+psycopg2://USER:PASSWORD@DBHOST:5432/DB")
