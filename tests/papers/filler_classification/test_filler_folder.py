"""Notebook 03 on a folder of your own: balanced splits, pixel values kept, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from helpers.papers.filler_classification.data import folder_train_sizes, load_filler_folder


def _class_folder(root, counts, *, size=20, dtype=np.uint8, value=None):
    rng = np.random.default_rng(0)
    for c, n in counts.items():
        (root / c).mkdir(parents=True)
        for i in range(n):
            top = np.iinfo(dtype).max
            img = np.full((size, size), value, dtype) if value is not None else rng.integers(0, top, (size, size), dtype=dtype)
            Image.fromarray(img).save(root / c / f"{c}{i:02d}.png")
    return root


def test_splits_are_balanced_and_disjoint(tmp_path):
    root = _class_folder(tmp_path / "f", {"a": 20, "b": 11, "c": 30})
    d = load_filler_folder(root, pixels=16, verbose=False)
    assert d["class_names"] == ["a", "b", "c"]
    for split in ("train", "val", "test"):
        x, y = d[split]
        assert x.shape[1:] == (16, 16) and x.dtype == np.float32 and y.dtype == np.int64
        counts = np.bincount(y, minlength=3)
        assert counts.min() == counts.max() > 0  # the same number per class
    assert d["max_train"] == np.bincount(d["train"][1]).min() and d["n_eval"] == np.bincount(d["test"][1]).min()
    # class b (11 images, 70 % train) limits the training set to its share
    assert d["max_train"] <= 8
    # no image in two splits: compare the arrays themselves (random images are unique)
    flat = {s: {x.tobytes() for x in d[s][0]} for s in ("train", "val", "test")}
    assert not (flat["train"] & flat["test"]) and not (flat["train"] & flat["val"]) and not (flat["val"] & flat["test"])


def test_sixteen_bit_images_are_scaled_by_their_dtype_not_clipped(tmp_path):
    root = _class_folder(tmp_path / "f", {"a": 10, "b": 10}, dtype=np.uint16, value=4000)
    d = load_filler_folder(root, pixels=20, verbose=False)
    x = d["train"][0]
    assert np.allclose(x, 4000 / 65535, atol=1e-4)  # 8-bit reading would give 1.0 (clipped at 255)


def test_refuses_a_class_too_small_for_a_split(tmp_path):
    root = _class_folder(tmp_path / "f", {"big": 20, "tiny": 2})
    with pytest.raises(ValueError, match="tiny"):
        load_filler_folder(root, pixels=16, verbose=False)


def test_refuses_a_folder_of_loose_images(tmp_path):
    (tmp_path / "f").mkdir()
    for i in range(4):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "f" / f"{i}.png")
    with pytest.raises(ValueError, match="sub-folder"):
        load_filler_folder(tmp_path / "f", pixels=8, verbose=False)


def test_train_sizes_for_a_folder():
    assert folder_train_sizes(100) == [25, 100]
    assert folder_train_sizes(5) == [5]
    with pytest.raises(ValueError, match="1..10"):
        folder_train_sizes(10, [5, 20])


def _texture_folder(root, n=14, size=48):
    """Three learnable classes: horizontal stripes, vertical stripes, dots."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    for c in ("horizontal", "vertical", "dots"):
        (root / c).mkdir(parents=True)
        for i in range(n):
            phase, freq = rng.uniform(0, 6.28), rng.uniform(0.3, 0.6)
            img = {"horizontal": np.sin(freq * yy + phase), "vertical": np.sin(freq * xx + phase),
                   "dots": (rng.random((size, size)) > 0.9) * 2 - 1.0}[c]
            img = np.clip(img * 0.4 + 0.5 + rng.normal(0, 0.1, (size, size)), 0, 1)
            Image.fromarray((img * 255).astype(np.uint8)).save(root / c / f"{c}_{i:02d}.png")
    return root


@pytest.mark.slow
@pytest.mark.notebooks
def test_notebook_runs_on_a_class_folder(tmp_path, capsys):
    import json
    from pathlib import Path

    from helpers.tools.run import main

    root = Path(__file__).resolve().parents[3]
    folder = _texture_folder(tmp_path / "textures")
    out = tmp_path / "out"
    code = main([str(root / "notebooks" / "03_filler_classification_hpo.ipynb"), "--profile", "smoke",
                 "--output", str(out), "--no-progress", "--timeout", "900",
                 "-p", "data_source", "real", "-p", "data_root", str(folder)])
    assert code == 0, capsys.readouterr().out[-3000:]
    res = json.loads((out / "03_filler_classification_hpo" / "results.json").read_text())
    assert res["data_source"] == "real"
    assert res["metrics"]["folder"]["n"] == 42
    assert res["metrics"]["folder"]["class_names"] == ["dots", "horizontal", "vertical"]
    claims = {c["id"]: c for c in res["claims"]}
    # one folder is one field of view: the field claim cannot be tested, and says why
    assert claims["table1_larger_field_more_correct"]["verdict"] == "not tested"
    assert "one field of view" in claims["table1_larger_field_more_correct"]["reason"]
    assert all(c["verdict"] in ("reproduced", "within noise", "contradicted", "not tested") for c in claims.values())


def test_draft_notebook_refuses_real_data_without_a_folder(tmp_path, capsys):
    """No public set exists for this paper: 'real' without data_root must say so, not fall back silently."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    nb = json.loads((root / "notebooks" / "03_filler_classification_hpo.ipynb").read_text())
    setup = next("".join(c["source"]) for c in nb["cells"] if "requested_train_sizes = train_sizes" in "".join(c["source"]))
    head = setup.split("requested_train_sizes")[0]
    with pytest.raises(ValueError, match="needs data_root"):
        exec(head.split("profile = resolve_profile(profile)")[1], {"data_source": "real", "data_root": None})
