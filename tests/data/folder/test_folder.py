import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.data.public.tbm import TBM_FILES, load_tbm_grain_boundaries
from helpers.data.folder import load_image_mask_folder, read_image

SHARED_TBM = Path(__file__).resolve().parents[4] / "shared" / "data" / "tbm_grain_boundaries"


def _write_pair(root: Path, stem: str, image: np.ndarray, mask: np.ndarray, ext: str = ".png") -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    if ext in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(root / "images" / f"{stem}{ext}", image)
    else:
        Image.fromarray(image).save(root / "images" / f"{stem}{ext}")
    Image.fromarray(mask).save(root / "masks" / f"{stem}.png")


def test_round_trip_png_and_tif(tmp_path):
    rng = np.random.default_rng(0)
    img8 = rng.integers(0, 256, (20, 24), dtype=np.uint8)
    img16 = rng.integers(0, 65536, (20, 24), dtype=np.uint16)
    mask = np.zeros((20, 24), np.uint8)
    mask[5:9] = 255
    _write_pair(tmp_path, "a", img8, mask)
    _write_pair(tmp_path, "b", img16, mask, ".tif")
    x, y, names = load_image_mask_folder(tmp_path)
    assert names == ["a", "b"] and x.shape == (2, 20, 24) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], img8 / 255.0, atol=1e-6)
    np.testing.assert_allclose(x[1], img16 / 65535.0, atol=1e-6)
    np.testing.assert_array_equal(y[0], mask > 127)


def test_mask_map_and_resize(tmp_path):
    mask = np.zeros((16, 16), np.uint8)
    mask[:8] = 100
    mask[8:, :8] = 200
    _write_pair(tmp_path, "m", np.full((16, 16), 50, np.uint8), mask)
    _, y, _ = load_image_mask_folder(tmp_path, mask_map={0: 0, 100: 1, 200: 2})
    assert np.bincount(y.ravel()).tolist() == [64, 128, 64]
    _, y8, _ = load_image_mask_folder(tmp_path, mask_map={0: 0, 100: 1, 200: 2}, size=8)
    assert y8.shape == (1, 8, 8) and set(np.unique(y8)) == {0, 1, 2}  # nearest keeps class values
    with pytest.raises(ValueError, match="mask_map does not map"):
        load_image_mask_folder(tmp_path, mask_map={0: 0, 100: 1})


def test_errors_name_the_problem(tmp_path):
    with pytest.raises((FileNotFoundError, ValueError), match="root"):
        load_image_mask_folder(tmp_path / "nowhere")
    _write_pair(tmp_path, "a", np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.uint8))
    with pytest.raises(ValueError, match="a.png"):
        load_image_mask_folder(tmp_path)
    os.remove(tmp_path / "masks" / "a.png")
    with pytest.raises(ValueError, match="no mask"):
        load_image_mask_folder(tmp_path)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        read_image(bad)


def test_tbm_registry_has_both_splits():
    splits = {k.split("/")[0] for k in TBM_FILES}
    assert splits == {"train", "test"}
    assert sum(k.startswith("train/images/") for k in TBM_FILES) == 64
    assert sum(k.startswith("test/images/") for k in TBM_FILES) == 16
    assert all(len(v) == 64 for v in TBM_FILES.values())


@pytest.mark.skipif(not SHARED_TBM.is_dir(), reason="no local copy of the TBM set")
def test_tbm_local_copy_matches_the_registry():
    import hashlib

    for rel, sha in list(TBM_FILES.items())[::20]:
        assert hashlib.sha256((SHARED_TBM / rel).read_bytes()).hexdigest() == sha, rel
    x, y, names = load_tbm_grain_boundaries("test", data_root=SHARED_TBM, size=64)
    assert x.shape == (16, 64, 64) and y.shape == x.shape and len(names) == 16
    assert 0.01 < y.mean() < 0.5


def test_tbm_bad_split():
    with pytest.raises(ValueError, match="split"):
        load_tbm_grain_boundaries("validation")


def test_leaf_folder_matches_synthetic_leaves_layout(tmp_path):
    """Real leaves come back with the keys, dtypes and shapes of synthetic_leaves, split without overlap."""
    from helpers.data.folder import load_leaf_folder
    from helpers.data.synthetic.scenes import synthetic_leaves

    s = synthetic_leaves(5, 48, seed=3)
    (tmp_path / "leaves").mkdir()
    for i in range(5):
        _write_pair(tmp_path, f"leaf{i}", (s["images"][i] * 255).round().astype(np.uint8), s["masks"][i] * 255)
        Image.fromarray(s["leaf"][i] * 255).save(tmp_path / "leaves" / f"leaf{i}.png")
    train, val = load_leaf_folder(tmp_path, 48, leaf_dir="leaves", val_fraction=0.4, seed=1)
    assert len(val["images"]) == 2 and len(train["images"]) == 3
    assert not set(train["names"]) & set(val["names"])
    ref = synthetic_leaves(1, 48, seed=0)
    for part in (train, val):
        for key in ("images", "masks", "leaf"):
            assert part[key].dtype == ref[key].dtype and part[key].shape[1:] == ref[key].shape[1:]
        for j, name in enumerate(part["names"]):
            i = int(name[4:])
            np.testing.assert_array_equal(part["masks"][j], s["masks"][i])
            np.testing.assert_array_equal(part["leaf"][j], s["leaf"][i])
            np.testing.assert_allclose(part["images"][j], s["images"][i], atol=0.5 / 255 + 1e-6)
    # without leaf masks the whole image is leaf: fractions are of the image
    train, _ = load_leaf_folder(tmp_path, 32, val_fraction=0.2)
    assert train["leaf"].shape == (4, 32, 32) and bool((train["leaf"] == 1).all())


def test_leaf_folder_rejects_bad_split(tmp_path):
    from helpers.data.folder import load_leaf_folder

    _write_pair(tmp_path, "only", np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="val_fraction must be between 0 and 1"):
        load_leaf_folder(tmp_path, 8, val_fraction=1.0)
    with pytest.raises(ValueError, match="needs at least 2"):
        load_leaf_folder(tmp_path, 8)
