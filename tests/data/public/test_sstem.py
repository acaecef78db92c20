"""ssTEM loader (class encoding checked against the dataset's own label files) and the synthetic EM generator."""

import hashlib
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.data.public.sstem import (SSTEM_FILES, SSTEM_SPLITS, load_sstem, load_sstem_unlabelled,
                                sstem_classes_from_labels, sstem_classes_from_masks)
from helpers.data.synthetic.em import plot_em_examples, synthetic_em


def _shared_sstem() -> Path:
    env = os.environ.get("HELPERS_DATA_DIR")
    if env and (Path(env) / "drosophila_sstem" / "stack1").is_dir():
        return Path(env) / "drosophila_sstem"
    return Path(__file__).resolve().parents[4] / "shared" / "data" / "drosophila_sstem"


SHARED = _shared_sstem()
needs_data = pytest.mark.skipif(not (SHARED / "stack1").is_dir(), reason="no local copy of the ssTEM set")


# ----------------------------------------------------------------------------- the registry and the split


def test_registry_and_split():
    assert len(SSTEM_FILES) == 100 and all(re.fullmatch("[0-9a-f]{64}", v) for v in SSTEM_FILES.values())
    for kind in ("stack1/raw/", "stack1/membranes/", "stack1/mitochondria/", "stack1/labels/", "stack2/raw/"):
        assert sum(k.startswith(kind) for k in SSTEM_FILES) == 20
    slices = [set(v) for v in SSTEM_SPLITS.values()]
    assert set().union(*slices) == set(range(20)) and sum(map(len, slices)) == 20  # disjoint: split by slice
    assert [16 * len(SSTEM_SPLITS[s]) for s in ("train", "val", "test")] == [192, 48, 80]  # the paper's crops


def test_class_rules():
    mem = np.array([[1, 1, 0, 0]], bool)
    mito = np.array([[255, 0, 3, 0]], np.uint8)  # a faint anti-aliased value still counts
    assert sstem_classes_from_masks(mem, mito).tolist() == [[1, 1, 2, 0]]  # membrane wins
    merged = np.array([[0, 32, 64, 96, 128, 159, 191, 223, 255]], np.uint8)
    assert sstem_classes_from_labels(merged).tolist() == [[1, 1, 1, 1, 1, 0, 2, 0, 0]]
    with pytest.raises(ValueError, match="values"):
        sstem_classes_from_labels(np.array([[7]], np.uint8))
    with pytest.raises(ValueError, match="same shape"):
        sstem_classes_from_masks(mem, mito[:, :2])


# ----------------------------------------------------------------------------- against the real files


@needs_data
def test_local_copy_matches_the_registry():
    for rel, sha in list(SSTEM_FILES.items())[::9]:
        assert hashlib.sha256((SHARED / rel).read_bytes()).hexdigest() == sha, rel


@needs_data
def test_class_encoding_against_the_label_files():
    x, y, names = load_sstem("all", data_root=SHARED, crop_size=1024)  # whole slices
    assert x.shape == y.shape == (20, 1024, 1024) and y.dtype == np.uint8 and x.dtype == np.float32
    assert names[0] == "stack1/00_y0_x0"
    for i in range(20):
        merged = np.asarray(Image.open(SHARED / f"stack1/labels/labels{i:08d}.png"))
        mem = np.asarray(Image.open(SHARED / f"stack1/membranes/{i:02d}.png")) != 0
        cls = y[i]
        assert np.array_equal(cls == 1, mem), i  # class 1 is the membrane mask
        assert (cls[merged <= 128] == 1).all(), i  # every merged membrane value is class 1
        assert set(np.unique(merged[cls == 1]).tolist()) <= {0, 32, 64, 96, 128, 159, 223}, i
        assert set(np.unique(merged[cls == 0]).tolist()) <= {159, 223, 255}, i
        # Mitochondria agree with the merged files' 191 on all but 2 pixels (slice 00) of 20 slices.
        assert ((cls == 2) != (merged == 191)).sum() <= (2 if i == 0 else 0), i
    frac = np.bincount(y.ravel(), minlength=3) / y.size
    assert 0.70 < frac[0] < 0.78 and 0.18 < frac[1] < 0.23 and 0.04 < frac[2] < 0.07


@needs_data
def test_crops_split_and_names():
    import tifffile

    x, y, names = load_sstem("val", data_root=SHARED.parent)  # the parent folder works too
    assert x.shape == (48, 256, 256) and y.shape == x.shape and len(names) == 48
    assert 0.0 <= x.min() and x.max() <= 1.0 and set(np.unique(y).tolist()) <= {0, 1, 2}
    raw = tifffile.imread(SHARED / "stack1/raw/13.tif")
    j = names.index("stack1/13_y512_x768")
    np.testing.assert_array_equal(x[j], raw[512:768, 768:1024] / np.float32(255))
    xl, yl, _ = load_sstem("val", data_root=SHARED, source="labels")
    np.testing.assert_array_equal(xl, x)
    assert (yl[y == 2] == 2).mean() > 0.999 and (yl == 1).sum() < (y == 1).sum()  # narrower membranes


@needs_data
def test_unlabelled_stack():
    x, names = load_sstem_unlabelled(data_root=SHARED, crop_size=512)
    assert x.shape == (80, 512, 512) and names[0] == "stack2/00_y0_x0" and x.dtype == np.float32


@needs_data
def test_download_path_reads_the_cache(monkeypatch):
    # data_root=None goes through pooch, which finds the files in $HELPERS_DATA_DIR and checks their hashes.
    monkeypatch.setenv("HELPERS_DATA_DIR", str(SHARED.parent))
    x, y, _ = load_sstem("test", crop_size=512)
    assert x.shape == (20, 512, 512)


# ----------------------------------------------------------------------------- wrong or missing files


def _fake_root(tmp_path: Path, slices=SSTEM_SPLITS["val"]) -> Path:
    import tifffile

    rng = np.random.default_rng(0)
    for sub in ("stack1/raw", "stack1/membranes", "stack1/mitochondria"):
        (tmp_path / sub).mkdir(parents=True)
    for i in slices:
        tifffile.imwrite(tmp_path / f"stack1/raw/{i:02d}.tif", rng.integers(0, 256, (1024, 1024), dtype=np.uint8))
        Image.fromarray(rng.random((1024, 1024)) < 0.2).save(tmp_path / f"stack1/membranes/{i:02d}.png")
        Image.fromarray(((rng.random((1024, 1024)) < 0.05) * 255).astype(np.uint8)).save(
            tmp_path / f"stack1/mitochondria/{i:02d}.png")
    return tmp_path


def test_fake_copy_is_read(tmp_path):
    x, y, _ = load_sstem("val", data_root=_fake_root(tmp_path))
    assert x.shape == (48, 256, 256) and set(np.unique(y).tolist()) == {0, 1, 2}


def test_missing_file_is_named(tmp_path):
    root = _fake_root(tmp_path)
    (root / "stack1/mitochondria/13.png").unlink()
    with pytest.raises(FileNotFoundError, match="mitochondria/13.png"):
        load_sstem("val", data_root=root)


def test_corrupt_file_is_named(tmp_path):
    root = _fake_root(tmp_path)
    (root / "stack1/raw/12.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(ValueError, match=r"12\.tif.*8-bit 1024 x 1024"):
        load_sstem("val", data_root=root)


def test_wrong_size_is_named(tmp_path):
    root = _fake_root(tmp_path)
    Image.fromarray(np.zeros((512, 512), np.uint8)).save(root / "stack1/membranes/14.png")
    with pytest.raises(ValueError, match=r"membranes/14\.png has shape \(512, 512\).*1024 x 1024"):
        load_sstem("val", data_root=root)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_sstem("validation", data_root=tmp_path)
    with pytest.raises(ValueError, match="source"):
        load_sstem("val", data_root=tmp_path, source="merged")
    with pytest.raises(ValueError, match="crop_size must divide"):
        load_sstem("val", data_root=tmp_path, crop_size=300)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_sstem("val", data_root=tmp_path / "nowhere")


@needs_data
def test_copy_of_one_split_suffices(tmp_path):
    for i in SSTEM_SPLITS["val"]:
        for rel in (f"stack1/raw/{i:02d}.tif", f"stack1/membranes/{i:02d}.png", f"stack1/mitochondria/{i:02d}.png"):
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(SHARED / rel, tmp_path / rel)
    assert load_sstem("val", data_root=tmp_path)[0].shape == (48, 256, 256)
    with pytest.raises(FileNotFoundError, match="stack1/raw/00.tif"):
        load_sstem("train", data_root=tmp_path)


# ----------------------------------------------------------------------------- synthetic EM


def test_synthetic_em_is_deterministic():
    a, b = synthetic_em(3, size=64, seed=5), synthetic_em(3, size=64, seed=5)
    np.testing.assert_array_equal(a["images"], b["images"])
    np.testing.assert_array_equal(a["labels"], b["labels"])
    c = synthetic_em(3, size=64, seed=6)
    assert not np.array_equal(a["labels"], c["labels"])


def test_synthetic_em_class_balance_like_sstem():
    s = synthetic_em(12, size=256, seed=0)
    x, y = s["images"], s["labels"]
    assert x.dtype == np.float32 and y.dtype == np.uint8 and x.shape == y.shape == (12, 256, 256)
    assert 0.0 <= x.min() and x.max() <= 1.0
    frac = np.bincount(y.ravel(), minlength=3) / y.size
    assert len(frac) == 3
    assert 0.15 < frac[1] < 0.27, frac  # ssTEM: 20 % membrane
    assert 0.02 < frac[2] < 0.08, frac  # ssTEM: 5 % mitochondria
    # Every image has all three classes, and membranes/mitochondria are darker than the cytoplasm.
    assert all(set(np.unique(yi).tolist()) == {0, 1, 2} for yi in y)
    means = [x[y == c].mean() for c in range(3)]
    assert means[1] < means[2] < means[0]


def test_synthetic_em_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        synthetic_em(1, size=16)
    with pytest.raises(ValueError, match="n must"):
        synthetic_em(0)
    with pytest.raises(ValueError, match="cells"):
        synthetic_em(1, cells=(10, 5))
    with pytest.raises(ValueError, match="noise"):
        synthetic_em(1, noise=-0.1)
    with pytest.raises(ValueError, match="membrane_width"):
        synthetic_em(1, membrane_width="wide")


def test_plot_em_examples():
    fig = plot_em_examples(synthetic_em(3, size=64, seed=0), n=2)
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="labels"):
        plot_em_examples({"images": np.zeros((1, 8, 8))})
