"""A reader's own folder through the runner, as a reader would pass it: parameters on the command line."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.data.synthetic.em import synthetic_em
from helpers.tools.run import main

ROOT = Path(__file__).resolve().parents[2]
GREY = {0: 0, 1: 85, 2: 170}  # class -> grey level written in the masks


def grey_level_folder(root: Path, n: int = 30, size: int = 64) -> Path:
    """``images/`` and ``masks/`` of generated EM crops, the classes written as grey levels 0/85/170."""
    data = synthetic_em(n, size, seed=5)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, (img, lab) in enumerate(zip(data["images"], data["labels"])):
        Image.fromarray((img * 255).round().astype(np.uint8)).save(root / "images" / f"crop_{i:02d}.png")
        Image.fromarray(np.vectorize(GREY.get)(lab).astype(np.uint8)).save(root / "masks" / f"crop_{i:02d}.png")
    return root


@pytest.mark.slow
@pytest.mark.notebooks
def test_fewshot_notebook_on_a_grey_level_folder_with_a_command_line_mask_map(tmp_path, capsys):
    folder = grey_level_folder(tmp_path / "my_set")
    out = tmp_path / "out"
    # papermill carries a dict with string keys: the notebook must take it as it arrives
    code = main(["04", "--profile", "smoke", "--output", str(out), "--no-progress", "--timeout", "600",
                 "-p", "data_source", "real", "-p", "data_root", str(folder),
                 "-p", "mask_map", '{"0": 0, "85": 1, "170": 2}',
                 "-p", "class_names", '["background", "membrane", "mitochondria"]'])
    assert code == 0, capsys.readouterr().out[-3000:]
    res = json.loads((out / "04_fewshot_pixel_relation" / "results.json").read_text())
    assert res["data_source"] == "real"
    claims = {c["id"]: c for c in res["claims"]}
    # a folder is compared with no paper table unless the reader names one
    assert all(c["paper_value"] == "+" for k, c in claims.items() if k.startswith("folder_"))


@pytest.mark.slow
@pytest.mark.notebooks
def test_fewshot_notebook_refuses_a_paper_table_with_classes_in_another_order(tmp_path, capsys):
    folder = grey_level_folder(tmp_path / "my_set")
    code = main(["04", "--profile", "smoke", "--output", str(tmp_path / "out"), "--no-progress", "--timeout", "600",
                 "-p", "data_source", "real", "-p", "data_root", str(folder),
                 "-p", "mask_map", '[[0, 0], [85, 1], [170, 2]]', "-p", "paper_table", "sstem",
                 "-p", "class_names", '["membrane", "background", "mitochondria"]'])
    assert code != 0
    log = (tmp_path / "out" / "04_fewshot_pixel_relation" / "papermill.log").read_text()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    error = summary["runs"][0]["error"] or ""
    assert "needs class_names in the table's order" in error + log
