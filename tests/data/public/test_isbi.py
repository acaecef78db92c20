"""ISBI 2012 loader (label polarity checked on the real files) and the synthetic membrane generator."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.data.public.isbi import ISBI_FILES, ISBI_SPLITS, load_isbi2012
from helpers.data.synthetic.membranes import plot_membrane_examples, synthetic_membranes

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"
SHARED_ISBI = SHARED / "isbi2012"
needs_shared = pytest.mark.skipif(not (SHARED_ISBI / "train" / "label" / "0.png").is_file(),
                                  reason="the shared ISBI 2012 copy is not on this machine")


# ----------------------------------------------------------------------------- the real files


@needs_shared
def test_label_polarity_membrane_is_positive():
    images, masks, names = load_isbi2012("all", SHARED_ISBI)
    assert images.shape == (30, 512, 512) and images.dtype == np.float32 and masks.dtype == np.uint8
    assert names[3] == "train/image/3.png"
    for i in (0, 17, 29):  # the mask is the label file's black (0) pixels
        raw = np.asarray(Image.open(SHARED_ISBI / "train" / "label" / f"{i}.png"))
        assert set(np.unique(raw)) == {0, 255}
        np.testing.assert_array_equal(masks[i], (raw == 0).astype(np.uint8))
        raw_img = np.asarray(Image.open(SHARED_ISBI / "train" / "image" / f"{i}.png"))
        np.testing.assert_array_equal(images[i], raw_img / np.float32(255))
    # Membrane = the thin minority class, and it is dark in the EM images.
    frac = masks.mean((1, 2))
    assert 0.15 < frac.min() and frac.max() < 0.3 and abs(masks.mean() - 0.2196) < 1e-3
    assert images[masks == 1].mean() + 0.15 < images[masks == 0].mean()


@needs_shared
def test_paper_split_27_3():
    x_tr, y_tr, n_tr = load_isbi2012("train", SHARED)  # the folder holding isbi2012/ works too
    x_va, y_va, n_va = load_isbi2012("val", SHARED_ISBI)
    assert len(n_tr) == 27 and len(n_va) == 3 and not set(n_tr) & set(n_va)
    assert n_va == [f"train/image/{i}.png" for i in ISBI_SPLITS["val"]]
    x_te, y_te, n_te = load_isbi2012("test", SHARED_ISBI)
    assert x_te.shape == (30, 512, 512) and y_te is None and n_te[0] == "test/image/0.png"
    _, _, n_other = load_isbi2012("val", SHARED_ISBI, val_slices=(0, 5))
    assert n_other == ["train/image/0.png", "train/image/5.png"]


@needs_shared
def test_pinned_hashes_match_the_shared_copy():
    assert len(ISBI_FILES) == 90
    for rel, sha in ISBI_FILES.items():
        assert hashlib.sha256((SHARED_ISBI / rel).read_bytes()).hexdigest() == sha, rel


@needs_shared
def test_reads_the_cache_in_helpers_data_dir(monkeypatch):
    # $HELPERS_DATA_DIR/isbi2012 holds the files: pooch checks their hashes and downloads nothing.
    monkeypatch.setenv("HELPERS_DATA_DIR", str(SHARED))
    images, masks, names = load_isbi2012("val")
    assert images.shape == (3, 512, 512) and masks.shape == (3, 512, 512)


# ----------------------------------------------------------------------------- both layouts, bad files


def _fake_slices(seed=0, size=16):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (30, size, size), dtype=np.uint8)
    labels = np.full((30, size, size), 255, np.uint8)
    labels[:, ::4] = 0  # membrane rows: 25 %
    return images, labels


def _write_pngs(root, images, labels):
    for d in ("train/image", "train/label", "test/image"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for i in range(30):
        Image.fromarray(images[i]).save(root / "train" / "image" / f"{i}.png")
        Image.fromarray(labels[i]).save(root / "train" / "label" / f"{i}.png")
        Image.fromarray(images[i]).save(root / "test" / "image" / f"{i}.png")


def test_png_and_tiff_layouts_agree(tmp_path):
    import tifffile

    images, labels = _fake_slices()
    _write_pngs(tmp_path / "png", images, labels)
    (tmp_path / "tif").mkdir()
    tifffile.imwrite(tmp_path / "tif" / "train-volume.tif", images)
    tifffile.imwrite(tmp_path / "tif" / "train-labels.tif", labels)
    tifffile.imwrite(tmp_path / "tif" / "test-volume.tif", images)
    for split in ("train", "val", "all", "test"):
        xp, yp, np_ = load_isbi2012(split, tmp_path / "png")
        xt, yt, nt = load_isbi2012(split, tmp_path / "tif")
        np.testing.assert_array_equal(xp, xt)
        if split == "test":
            assert yp is None and yt is None
        else:
            np.testing.assert_array_equal(yp, yt)
            assert yp.mean() == pytest.approx(0.25)  # the label's 0 rows are the membranes
            np.testing.assert_array_equal(yp[:, ::4], 1)
    assert nt[:2] == ["test-volume.tif[0]", "test-volume.tif[1]"]


def test_zhixuhao_test_layout(tmp_path):
    images, labels = _fake_slices()
    _write_pngs(tmp_path, images, labels)
    (tmp_path / "test" / "image").rename(tmp_path / "moved")
    for i in range(30):
        (tmp_path / "moved" / f"{i}.png").rename(tmp_path / "test" / f"{i}.png")
    x, y, names = load_isbi2012("test", tmp_path)
    assert x.shape == (30, 16, 16) and names[0] == "test/0.png"


def test_bad_files_are_named(tmp_path):
    images, labels = _fake_slices()
    _write_pngs(tmp_path, images, labels)
    (tmp_path / "train" / "label" / "5.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"5\.png.*train label"):
        load_isbi2012("train", tmp_path)
    grey = labels[5].copy()
    grey[0, 0] = 128
    Image.fromarray(grey).save(tmp_path / "train" / "label" / "5.png")
    with pytest.raises(ValueError, match=r"5\.png.*only 0 \(membrane\) and 255"):
        load_isbi2012("train", tmp_path)
    Image.fromarray(255 - labels[5]).save(tmp_path / "train" / "label" / "5.png")
    with pytest.raises(ValueError, match=r"5\.png.*inverted"):
        load_isbi2012("all", tmp_path)
    Image.fromarray(labels[5]).save(tmp_path / "train" / "label" / "5.png")
    (tmp_path / "train" / "image" / "7.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"7\.png.*PNG"):
        load_isbi2012("train", tmp_path)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "train" / "image" / "7.png")
    with pytest.raises(ValueError, match=r"7\.png.*greyscale"):
        load_isbi2012("train", tmp_path)


def test_bad_tiff_and_arguments(tmp_path):
    import tifffile

    images, labels = _fake_slices()
    tifffile.imwrite(tmp_path / "train-volume.tif", images[:10])
    with pytest.raises(ValueError, match=r"train-volume\.tif.*stack of 30"):
        load_isbi2012("train", tmp_path)
    tifffile.imwrite(tmp_path / "train-volume.tif", images)
    with pytest.raises(FileNotFoundError, match=r"train-labels\.tif"):
        load_isbi2012("train", tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_isbi2012("validation", tmp_path)
    for bad in ((), (3, 3), (30,), "ab", (True,)):
        with pytest.raises(ValueError, match="val_slices"):
            load_isbi2012("val", tmp_path, val_slices=bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_isbi2012("train", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="neither"):
        load_isbi2012("train", tmp_path / "empty")


# ----------------------------------------------------------------------------- synthetic stand-in


def test_synthetic_membranes_deterministic_and_well_formed():
    a = synthetic_membranes(3, size=96, seed=4, cell_size=20, membrane_width=(2.0, 3.0))
    b = synthetic_membranes(3, size=96, seed=4, cell_size=20, membrane_width=(2.0, 3.0))
    c = synthetic_membranes(3, size=96, seed=5, cell_size=20, membrane_width=(2.0, 3.0))
    for key in ("images", "masks", "cells", "distractors"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["images"], c["images"])
    x, m = a["images"], a["masks"]
    assert x.shape == m.shape == (3, 96, 96) and x.dtype == np.float32 and m.dtype == np.uint8
    assert 0.0 <= x.min() and x.max() <= 1.0 and set(np.unique(m)) == {0, 1}
    assert not (a["distractors"].astype(bool) & m.astype(bool)).any()  # distractors are never membrane
    assert x[m == 1].mean() + 0.1 < x[m == 0].mean()  # membranes are dark
    # the batch is not one image repeated
    assert not np.array_equal(m[0], m[1])


def test_synthetic_membrane_fraction_like_isbi():
    s = synthetic_membranes(2, size=512, seed=0)  # the defaults: ISBI's 512 x 512 and ~22 % membrane
    frac = s["masks"].mean()
    assert 0.18 < frac < 0.27, frac
    thin = synthetic_membranes(2, size=512, seed=0, membrane_width=(2.0, 2.5))["masks"].mean()
    assert thin < frac - 0.05  # the width parameter really sets the fraction


def test_synthetic_membranes_bad_arguments_and_figure():
    for kwargs in (dict(n=0), dict(n=1, size=16), dict(n=1, cell_size=5), dict(n=1, membrane_width=(5, 3)),
                   dict(n=1, membrane_width=3), dict(n=1, mitochondria=1.5), dict(n=1, noise=-1)):
        with pytest.raises(ValueError):
            synthetic_membranes(**kwargs)
    s = synthetic_membranes(2, size=64, cell_size=16, membrane_width=(2.0, 3.0))
    assert len(plot_membrane_examples(s, 2).axes) == 4
    with pytest.raises(ValueError, match="masks"):
        plot_membrane_examples({"images": s["images"]})
