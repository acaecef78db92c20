"""Notebooks 01, 02 and 05 on a reader's own folder: the loader-side functions (fast) and each
notebook's smoke profile through the runner, with the map given on the command line as a reader would."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.data.folder import folder_tag, is_segmentation_folder, load_binary_folder
from helpers.data.synthetic.membranes import synthetic_membranes
from helpers.data.synthetic.scenes import synthetic_leaves
from helpers.data.synthetic.sem import synthetic_sem
from helpers.papers.dcn_kernel_tuning.data import load_membrane_folder
from helpers.papers.grain_boundary_unet.data import boundary_data_layout, load_boundary_folder
from helpers.papers.pspnet_augmentation.data import load_scene_folder, pspnet_folder_root
from helpers.tools.run import main

BOUNDARY = 200  # the grey level the test folders' masks mark the foreground with (needs a map)


def write_folder(root: Path, images, masks, levels=(0, BOUNDARY)) -> Path:
    """``images/`` as 8-bit PNGs (grey or RGB), ``masks/`` with class c written as grey level ``levels[c]``."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    lut = np.asarray(levels, np.uint8)
    for i, (img, mask) in enumerate(zip(images, masks)):
        Image.fromarray((np.asarray(img) * 255).round().astype(np.uint8)).save(root / "images" / f"s{i:02d}.png")
        Image.fromarray(lut[np.asarray(mask)]).save(root / "masks" / f"s{i:02d}.png")
    return root


def sem_folder(root: Path, n: int = 20, size: int = 64) -> Path:
    s = synthetic_sem(n, size=size, treatment="mixed", seed=3)
    return write_folder(root, s["images"], s["boundaries"])


def membrane_folder(root: Path, n: int = 12, size: int = 80) -> Path:
    s = synthetic_membranes(n, size, seed=3, cell_size=20.0, membrane_width=(1.5, 2.5))
    return write_folder(root, s["images"], s["masks"])


def leaf_folder(root: Path, n: int = 24, size: int = 64) -> Path:
    s = synthetic_leaves(n, size, seed=3)
    return write_folder(root, s["images"], s["masks"])


MAP = json.dumps({"0": 0, str(BOUNDARY): 1})  # as papermill carries it: string keys


# ------------------------------------------------------------------------------ loader side (fast)

def test_binary_folder_with_a_string_key_map_and_its_record(tmp_path):
    root = sem_folder(tmp_path / "sem", n=10, size=32)
    ds = load_binary_folder(root, what="boundary", mask_map=MAP, verbose=False)
    assert ds.class_names == ["background", "boundary"]
    assert set(np.unique(ds.masks)) == {0, 1}
    rec = ds.describe()
    assert rec["root"] == str(root.resolve()) and rec["masks"]["mask_map"] == {"0": 0, str(BOUNDARY): 1}
    assert list(rec["class_shares"]) == ["background", "boundary"]


def test_binary_folder_refuses_three_classes_with_a_map_to_paste(tmp_path):
    s = synthetic_sem(10, size=32, seed=1)
    root = write_folder(tmp_path / "three", s["images"], s["boundaries"] + s["carbides"], levels=(0, 100, 200))
    with pytest.raises(ValueError, match="segments one class.*mask_map"):
        load_binary_folder(root, what="boundary", mask_map='{"0": 0, "100": 1, "200": 2}', verbose=False)


def test_folder_tag_changes_with_the_files_and_the_map(tmp_path):
    root = sem_folder(tmp_path / "sem", n=4, size=32)
    a = folder_tag(root, MAP)
    assert a == folder_tag(root, {0: 0, BOUNDARY: 1}) != folder_tag(root, {0: 0, BOUNDARY: 1, 255: 1})
    (root / "images" / "s00.png").unlink()
    (root / "masks" / "s00.png").unlink()
    assert folder_tag(root, MAP) != a


def test_grain_boundary_layouts_and_folder(tmp_path):
    root = sem_folder(tmp_path / "sem", n=20, size=48)
    assert boundary_data_layout("synthetic", root) == "synthetic"
    assert boundary_data_layout("real", None) == "tbm"
    assert boundary_data_layout("real", root) == "folder"
    (tmp_path / "tbm" / "train" / "images").mkdir(parents=True)
    assert boundary_data_layout("real", tmp_path / "tbm") == "tbm"
    (tmp_path / "other").mkdir()
    with pytest.raises(ValueError, match="neither a folder of your own .*images/ and masks/.* nor a copy of the TBM"):
        boundary_data_layout("real", tmp_path / "other")
    data = load_boundary_folder(root, size=32, mask_map=MAP, n_train=5, seed=0, verbose=False)
    (xt, yt), (xv, yv), (xs, ys) = data["train"], data["val"], data["test"]
    assert xt.shape == (5, 32, 32) and xt.dtype == yt.dtype == np.float32 and set(np.unique(yt)) <= {0.0, 1.0}
    assert len(xv) == 2 and len(xs) == 4  # the seeded 70 / 10 / 20 % split of 20 pairs, training cut to 5
    assert data["folder"]["used"] == {"train": 5, "val": 2, "test": 4}
    assert not set(data["names"]["train"]) & set(data["names"]["test"])


def test_membrane_folder_is_cropped_not_resized(tmp_path):
    root = membrane_folder(tmp_path / "em", n=10, size=40)
    data = load_membrane_folder(root, image_size=32, mask_map=MAP, n_train=4, seed=0, verbose=False)
    (xt, yt), (xv, yv) = data["train"], data["val"]
    assert xt.shape == (4, 32, 32) and yt.dtype == np.uint8 and len(xv) == 1
    full = np.asarray(Image.open(root / "images" / f"{data['names']['val'][0]}.png"), np.float32) / 255
    assert np.allclose(xv[0], full[:32, :32])  # the top-left corner at the file's pixel scale
    with pytest.raises(ValueError, match="smaller than image_size=48"):
        load_membrane_folder(root, image_size=48, mask_map=MAP, verbose=False)


def test_membrane_folder_split_files(tmp_path):
    root = membrane_folder(tmp_path / "em", n=6, size=32)
    (root / "split").mkdir()
    (root / "split" / "train.txt").write_text("s00\ns01\ns02\ns03\n")
    (root / "split" / "val.txt").write_text("s04\ns05\n")
    data = load_membrane_folder(root, image_size=32, mask_map=MAP, verbose=False)
    assert data["names"] == {"train": ["s00", "s01", "s02", "s03"], "val": ["s04", "s05"]}
    assert data["folder"]["split"]["source"] == "files"


def test_scene_folder_and_the_leaf_root_alias(tmp_path):
    root = leaf_folder(tmp_path / "leaves", n=12, size=32)
    assert pspnet_folder_root("synthetic", None, None) is None
    assert pspnet_folder_root("real", tmp_path / "voc_here", None) is None  # VOC, as before
    assert pspnet_folder_root("real", root, None) == root
    assert pspnet_folder_root("synthetic", None, root) == root  # leaf_root: the earlier name of data_root
    with pytest.raises(ValueError, match="leaf_root"):
        pspnet_folder_root("real", tmp_path / "elsewhere", root)
    data = load_scene_folder(root, image_size=32, mask_map=MAP, class_names='["healthy", "lesion"]', seed=0,
                             verbose=False)
    (xt, yt), (xv, yv) = data["train"], data["val"]
    assert xt.shape == (9, 32, 32, 3) and yt.dtype == np.uint8 and len(xv) == 3
    assert data["class_names"] == ["healthy", "lesion"] and data["folder"]["class_names"] == ["healthy", "lesion"]
    assert is_segmentation_folder(root)


# ------------------------------------------------------------------------- the notebooks (slow)

def run_notebook(number, folder, out, *extra):
    return main([number, "--profile", "smoke", "--output", str(out), "--no-progress", "--timeout", "900",
                 "-p", "data_source", "real", "-p", "data_root", str(folder), "-p", "mask_map", MAP, *extra])


def printed(out, name):
    """What the executed notebook printed and displayed (its outputs, not its code)."""
    nb = json.loads((out / name / f"{name}.ipynb").read_text())
    return json.dumps([o for c in nb["cells"] for o in c.get("outputs", [])])


def folder_results(out, name, folder):
    res = json.loads((out / name / "results.json").read_text())
    assert res["data_source"] == "real"
    rec = res["metrics"]["data_folder"]
    assert rec["root"] == str(folder.resolve()) and rec["masks"]["mask_map"] == {"0": 0, str(BOUNDARY): 1}
    return res


@pytest.mark.slow
@pytest.mark.notebooks
def test_grain_boundary_notebook_on_a_folder(tmp_path, capsys):
    folder = sem_folder(tmp_path / "my_sem")
    code = run_notebook("01", folder, tmp_path / "out")
    assert code == 0, capsys.readouterr().out[-3000:]
    res = folder_results(tmp_path / "out", "01_grain_boundary_unet", folder)
    assert res["metrics"]["data_folder"]["used"] == {"train": 12, "val": 2, "test": 4}
    claims = {c["id"]: c for c in res["claims"]}
    assert claims["unet_beats_deeplabv3plus"]["paper_value"] == "+"  # not the paper's 72.2 vs 69.8
    assert "tbm" not in res["metrics"]  # the TBM section is not run on a reader's folder
    assert "TBM section skipped: data_root is your folder" in printed(tmp_path / "out", "01_grain_boundary_unet")


@pytest.mark.slow
@pytest.mark.notebooks
def test_dcn_notebook_on_a_folder(tmp_path, capsys):
    folder = membrane_folder(tmp_path / "my_em", n=12, size=80)
    code = run_notebook("05", folder, tmp_path / "out")
    assert code == 0, capsys.readouterr().out[-3000:]
    res = folder_results(tmp_path / "out", "05_dcn_kernel_tuning", folder)
    claims = {c["id"]: c for c in res["claims"]}
    assert claims["kernel_change_raises_iou"]["paper_value"] == "+"  # not the paper's +0.0505 on data B
    assert all(r["paper_iou"] is None and r["paper_delta"] is None for r in res["metrics"]["table1"])
    assert res["metrics"]["rank_correlation_with_paper"] is None
    shown = printed(tmp_path / "out", "05_dcn_kernel_tuning")
    assert "our IoU (membrane)" in shown  # Table 1 of this run ...
    assert "paper IoU (data B)" not in shown and "the paper on data B" not in shown  # ... without the paper's


@pytest.mark.slow
@pytest.mark.notebooks
def test_pspnet_notebook_on_a_leaf_folder(tmp_path, capsys):
    folder = leaf_folder(tmp_path / "my_leaves")
    code = run_notebook("02", folder, tmp_path / "out", "-p", "class_names", '["healthy", "lesion"]',
                        "-p", "backbone_weights", "None")
    assert code == 0, capsys.readouterr().out[-3000:]
    res = folder_results(tmp_path / "out", "02_pspnet_augmentation", folder)
    assert res["metrics"]["data_folder"]["class_names"] == ["healthy", "lesion"]
    assert res["metrics"]["leaf_folder"]["root"] == str(folder.resolve())  # the one-class part ran on it too
