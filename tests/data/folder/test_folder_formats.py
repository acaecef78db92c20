"""The folder loaders on every supported file format, map form and refusal.

Each test writes a small folder in tmp_path and compares what the loader returns with the arrays
that were written (the independent reference), never with the loader's own output.
"""

import doctest
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

import helpers.data.folder.loaders as folder_loaders_module
import helpers.data.folder.mask_maps as folder_mask_maps_module
import helpers.data.image_io as image_io_module
from helpers.data.folder import (FolderDataset, format_mask_map, load_class_folder, load_image_mask_folder,
                                 load_leaf_folder, load_segmentation_folder, parse_mask_map)
from helpers.data.image_io import read_image, read_mask

SHARED_TBM = Path(__file__).resolve().parents[4] / "shared" / "data" / "tbm_grain_boundaries"
RNG = np.random.default_rng(0)


def save(path: Path, arr: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".tif", ".tiff"):
        tifffile.imwrite(path, arr, **kw)
    else:
        Image.fromarray(arr).save(path, **kw)
    return path


def save_palette(path: Path, idx: np.ndarray, colours: list[tuple[int, int, int]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(idx.astype(np.uint8), mode="P")
    im.putpalette([c for rgb in colours for c in rgb])
    im.save(path)
    return path


def classes(h=12, w=10, k=4, seed=0) -> np.ndarray:
    """A class map with every class 0..k-1 present."""
    c = np.random.default_rng(seed).integers(0, k, (h, w))
    c.ravel()[:k] = np.arange(k)
    return c


def quiet(root, **kw) -> FolderDataset:
    kw.setdefault("fractions", {"all": 1.0})
    kw.setdefault("verbose", False)
    return load_segmentation_folder(root, **kw)


# ---------------------------------------------------------------------------------------- formats

def test_8bit_grey_png_scaled_by_255_and_binary_masks(tmp_path):
    imgs = [RNG.integers(0, 256, (12, 10), dtype=np.uint8) for _ in range(3)]
    masks = [(classes(seed=i, k=2) * 255).astype(np.uint8) for i in range(3)]
    for i, (x, m) in enumerate(zip(imgs, masks)):
        save(tmp_path / "images" / f"s{i}.png", x)
        save(tmp_path / "masks" / f"s{i}.png", m)
    ds = quiet(tmp_path)
    assert ds.images.dtype == np.float32 and ds.images.shape == (3, 12, 10)
    np.testing.assert_array_equal(ds.images, np.stack(imgs).astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(ds.masks, np.stack(masks) // 255)
    assert ds.masks.dtype == np.int64 and ds.class_names == ["background", "foreground"]
    assert ds.describe()["masks"]["mask_map"] == {"0": 0, "255": 1}


def test_rgb_jpeg_images_with_a_grey_bmp_among_them(tmp_path):
    rgb = RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    save(tmp_path / "images" / "a.jpg", rgb, quality=95)
    grey = RNG.integers(0, 256, (16, 16), dtype=np.uint8)
    save(tmp_path / "images" / "b.bmp", grey)
    for s in "ab":
        save(tmp_path / "masks" / f"{s}.png", (classes(16, 16, 2) * 255).astype(np.uint8))
    ds = quiet(tmp_path)
    assert ds.images.shape == (2, 16, 16, 3)  # one colour file: the folder is read in colour
    with Image.open(tmp_path / "images" / "a.jpg") as im:
        ref = np.asarray(im.convert("RGB"), np.float32) / 255
    np.testing.assert_allclose(ds.images[0], ref, atol=1e-7)
    np.testing.assert_allclose(ds.images[1], np.repeat(grey[..., None], 3, -1) / 255.0, atol=1e-7)
    assert ds.summary["images"]["channels"] == "rgb"
    grey_ds = quiet(tmp_path, grayscale=True)
    assert grey_ds.images.shape == (2, 16, 16)
    with Image.open(tmp_path / "images" / "a.jpg") as im:
        lum = np.asarray(im.convert("L"), np.float32) / 255
    np.testing.assert_allclose(grey_ds.images[0], lum, atol=1e-7)  # Pillow's own luminance, rounded alike


def test_16bit_png_image_is_not_saturated_and_scaled_by_65535(tmp_path):
    values = np.minimum(np.arange(41 * 100), 4000).astype(np.uint16).reshape(41, 100)  # every value 0..4000
    save(tmp_path / "images" / "a.png", values)
    save(tmp_path / "masks" / "a.png", (classes(41, 100, k=2) * 255).astype(np.uint8))
    assert read_image(tmp_path / "images" / "a.png").dtype == np.uint16
    ds = quiet(tmp_path)
    np.testing.assert_allclose(ds.images[0] * 65535, values, atol=1e-3)
    assert len(np.unique(ds.images[0])) == len(np.unique(values)) > 256  # not clipped at 255 nor stretched
    assert ds.images.max() == pytest.approx(4000 / 65535, abs=1e-7)
    assert ds.summary["images"]["dtypes"] == {"uint16": 1}
    x, _, _ = load_image_mask_folder(tmp_path)  # the earlier entry point clipped this at 255
    np.testing.assert_array_equal(x, ds.images)


def test_16bit_tiff_and_png_images_agree(tmp_path):
    values = RNG.integers(0, 65536, (9, 11), dtype=np.uint16)
    for sub, ext in (("png", ".png"), ("tif", ".tif")):
        save(tmp_path / sub / "images" / f"a{ext}", values)
        save(tmp_path / sub / "masks" / "a.png", (classes(9, 11, 2) * 255).astype(np.uint8))
    a, b = quiet(tmp_path / "png"), quiet(tmp_path / "tif")
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_allclose(a.images[0] * 65535, values, atol=5e-3)


def test_16bit_label_png_keeps_label_300(tmp_path):
    labels = np.arange(12 * 26).reshape(12, 26) % 301  # every label 0..300, 16-bit
    save(tmp_path / "images" / "a.png", np.zeros((12, 26), np.uint8))
    save(tmp_path / "masks" / "a.png", labels.astype(np.uint16))
    assert read_mask(tmp_path / "masks" / "a.png").max() == 300
    ds = quiet(tmp_path)
    np.testing.assert_array_equal(ds.masks[0], labels)
    assert ds.num_classes == 301
    # the same file with a map of a few labels
    sparse = np.where(labels == 300, 300, 0).astype(np.uint16)
    save(tmp_path / "masks" / "a.png", sparse)
    ds = quiet(tmp_path, mask_map={"0": 0, "300": 1})
    np.testing.assert_array_equal(ds.masks[0], sparse == 300)


def test_rgb_8bit_tiff_and_png_give_identical_arrays(tmp_path):
    rgb = RNG.integers(0, 256, (14, 12, 3), dtype=np.uint8)
    rgb[0, 0] = (3, 2, 1)  # a dark image: nothing to rescale by its own maximum
    rgb = rgb // 4
    mask = (classes(14, 12, 2) * 255).astype(np.uint8)
    for sub, ext, kw in (("png", ".png", {}), ("tif", ".tif", {}), ("planar", ".tif", {"planarconfig": "separate"})):
        arr = np.moveaxis(rgb, -1, 0) if sub == "planar" else rgb
        save(tmp_path / sub / "images" / f"a{ext}", arr, **({"photometric": "rgb", **kw} if ext == ".tif" else {}))
        save(tmp_path / sub / "masks" / "a.png", mask)
    # an LZW-compressed TIFF, written by Pillow (tifffile needs imagecodecs for LZW; Pillow reads it)
    (tmp_path / "lzw" / "images").mkdir(parents=True)
    Image.fromarray(rgb).save(tmp_path / "lzw" / "images" / "a.tif", compression="tiff_lzw")
    save(tmp_path / "lzw" / "masks" / "a.png", mask)
    ref = rgb.astype(np.float32) / 255
    with Image.open(tmp_path / "png" / "images" / "a.png") as im:
        grey_ref = np.asarray(im.convert("L"), np.float32) / 255
    for sub in ("png", "tif", "planar", "lzw"):
        ds = quiet(tmp_path / sub)
        np.testing.assert_array_equal(ds.images[0], ref, err_msg=sub)
        x, _, _ = load_image_mask_folder(tmp_path / sub)  # grey by default: luminance / 255, not / own maximum
        np.testing.assert_array_equal(x[0], grey_ref, err_msg=sub)


def test_palette_png_masks_read_their_index_not_their_colour(tmp_path):
    idx = classes(k=2)
    palette = [(0, 0, 0), (128, 0, 0)]  # index 1 is dark red: grey 38, below any threshold of 127
    for i in range(2):
        save(tmp_path / "images" / f"s{i}.png", np.full((12, 10), 100, np.uint8))
        save_palette(tmp_path / "masks" / f"s{i}.png", idx, palette)
    ds = quiet(tmp_path)
    np.testing.assert_array_equal(ds.masks, np.stack([idx, idx]))
    assert ds.summary["masks"]["encoding"].startswith("binary palette indices")
    _, y, _ = load_image_mask_folder(tmp_path)  # the earlier entry point too (it used to lose every lesion)
    np.testing.assert_array_equal(y[0], idx)
    # three classes as palette indices; and the same through a colour map of the palette's colours
    idx3 = classes(k=3, seed=4)
    pal3 = [(0, 0, 0), (128, 0, 0), (0, 128, 0)]
    for i in range(2):
        save_palette(tmp_path / "masks" / f"s{i}.png", idx3, pal3)
    np.testing.assert_array_equal(quiet(tmp_path).masks[1], idx3)
    by_colour = quiet(tmp_path, mask_map={"#000000": 0, "#800000": 1, "#008000": 2})
    np.testing.assert_array_equal(by_colour.masks[1], idx3)


def test_rgb_colour_masks_with_a_colour_map_in_every_form(tmp_path):
    colours = np.array([(0, 0, 0), (255, 0, 0), (0, 0, 255)], np.uint8)  # red and blue: both grey 85 once
    cls = [classes(k=3, seed=s) for s in range(3)]
    for i, c in enumerate(cls):
        save(tmp_path / "images" / f"s{i}.png", RNG.integers(0, 256, (12, 10), dtype=np.uint8))
        save(tmp_path / "masks" / f"s{i}.png", colours[c])
    forms = [
        {"#000000": 0, "#ff0000": 1, "#0000ff": 2},
        {"0,0,0": 0, "255, 0, 0": 1, "(0, 0, 255)": 2},
        [[[0, 0, 0], 0], [[255, 0, 0], 1], [[0, 0, 255], 2]],
        json.dumps([["#000000", 0], ["#FF0000", "1"], ["[0,0,255]", 2]]),
        {(0, 0, 0): 0, (255, 0, 0): 1, (0, 0, 255): 2},
    ]
    for form in forms:
        ds = quiet(tmp_path, mask_map=form)
        np.testing.assert_array_equal(ds.masks, np.stack(cls), err_msg=str(form))
    assert ds.describe()["masks"]["mask_map"] == {"#000000": 0, "#0000ff": 2, "#ff0000": 1}
    assert ds.class_values == ["#000000", "#ff0000", "#0000ff"]


def test_grey_value_map_with_string_keys_and_as_pairs(tmp_path):
    levels = np.array([0, 85, 170, 255], np.uint8)
    cls = [classes(k=4, seed=s) for s in range(4)]
    for i, c in enumerate(cls):
        save(tmp_path / "images" / f"s{i}.tif", RNG.integers(0, 256, (12, 10), dtype=np.uint8))
        save(tmp_path / "masks" / f"s{i}.png", levels[c])
    forms = [
        {"0": 0, "85": 1, "170": 2, "255": 3},  # what papermill -p mask_map delivers
        {0: 0, 85: 1, 170: 2, 255: 3},
        [[0, 0], [85, 1], [170, 2], [255, 3]],
        [["0", "0"], ["85", "1"], ["170", "2"], ["255", "3"]],
        '{"0": 0, "85": 1, "170": 2, "255": 3}',
        "{0: 0, 85: 1, 170: 2, 255: 3}",
    ]
    for form in forms:
        ds = quiet(tmp_path, mask_map=form, class_names=["bg", "a", "b", "c"])
        np.testing.assert_array_equal(ds.masks, np.stack(cls), err_msg=str(form))
    rec = ds.describe()
    json.dumps(rec)  # JSON-ready
    assert rec["masks"]["mask_map"] == {"0": 0, "85": 1, "170": 2, "255": 3}
    assert parse_mask_map(rec["masks"]["mask_map"]) == parse_mask_map(forms[0])  # the record reads back
    total = np.bincount(np.stack(cls).ravel(), minlength=4) / np.stack(cls).size
    np.testing.assert_allclose(list(rec["class_shares"].values()), total, atol=1e-6)
    assert list(rec["class_shares"]) == ["bg", "a", "b", "c"]
    # several values may share a class
    merged = quiet(tmp_path, mask_map={"0": 0, "85": 0, "170": 1, "255": 1})
    np.testing.assert_array_equal(merged.masks, np.stack(cls) >= 2)
    assert merged.class_values == [[0, 85], [170, 255]]


def test_class_index_masks_and_one_bit_masks_need_no_map(tmp_path):
    c = classes(k=3)
    save(tmp_path / "images" / "a.png", np.zeros((12, 10), np.uint8))
    save(tmp_path / "masks" / "a.png", c.astype(np.uint8))
    np.testing.assert_array_equal(quiet(tmp_path).masks[0], c)
    bits = classes(k=2, seed=9).astype(bool)
    Image.fromarray(bits).convert("1").save(tmp_path / "masks" / "a.png")
    ds = quiet(tmp_path)
    np.testing.assert_array_equal(ds.masks[0], bits)


def test_resize_is_nearest_for_masks_and_bilinear_for_images(tmp_path):
    c = np.kron(classes(6, 5, k=3), np.ones((4, 4), int))  # 24 x 20 blocks of 4 x 4
    img = np.kron(RNG.integers(0, 256, (6, 5)), np.ones((4, 4))).astype(np.uint8)
    save(tmp_path / "images" / "a.png", img)
    save(tmp_path / "masks" / "a.png", c.astype(np.uint8))
    ds = quiet(tmp_path, size=12)
    assert ds.images.shape == ds.masks.shape == (1, 12, 12)
    assert set(np.unique(ds.masks)) == {0, 1, 2}  # no in-between labels
    assert ds.original_sizes == [(24, 20)] and ds.describe()["size"] == 12
    assert 0 <= ds.images.min() and ds.images.max() <= 1


def test_real_tbm_masks_need_a_threshold(tmp_path):
    if not SHARED_TBM.is_dir():
        pytest.skip("no local copy of the TBM set")
    with pytest.raises(ValueError, match=r"hold 256 values .* threshold=127"):
        quiet(SHARED_TBM / "test")
    ds = quiet(SHARED_TBM / "test", threshold=127, size=64)
    assert len(ds) == 16 and 0.01 < ds.masks.mean() < 0.5 and ds.summary["masks"]["threshold"] == 127


# ------------------------------------------------------------------------------------------ splits

def _segmentation_folder(root: Path, n: int) -> list[str]:
    stems = [f"img{i:02d}" for i in range(n)]
    for s in stems:
        save(root / "images" / f"{s}.png", RNG.integers(0, 256, (8, 8), dtype=np.uint8))
        save(root / "masks" / f"{s}.png", (classes(8, 8, 2) * 255).astype(np.uint8))
    return stems


def test_split_files_are_followed(tmp_path):
    stems = _segmentation_folder(tmp_path, 6)
    (tmp_path / "split").mkdir()
    (tmp_path / "split" / "train.txt").write_text("# training\nimg00\nimg01.png\n\nimages/img02.png\n")
    (tmp_path / "split" / "test.txt").write_text("img04\nimg05\n")
    ds = load_segmentation_folder(tmp_path, verbose=False)
    assert {k: [ds.names[i] for i in v] for k, v in ds.splits.items()} == {
        "test": ["img04", "img05"], "train": ["img00", "img01", "img02"]}
    x, y, names = ds.arrays("test")
    assert names == ["img04", "img05"] and len(x) == len(y) == 2
    assert ds.summary["split"]["unassigned"] == 1 and ds.summary["split"]["source"] == "files"
    sub = ds.subset("train")
    assert sub.names == stems[:3] and np.array_equal(sub.images, ds.images[:3])


def test_seeded_split_is_a_partition_and_depends_on_the_seed(tmp_path):
    _segmentation_folder(tmp_path, 20)
    a = load_segmentation_folder(tmp_path, seed=1, verbose=False)
    b = load_segmentation_folder(tmp_path, seed=1, verbose=False)
    c = load_segmentation_folder(tmp_path, seed=2, verbose=False)
    assert {k: len(v) for k, v in a.splits.items()} == {"train": 14, "val": 2, "test": 4}
    assert np.array_equal(np.sort(np.concatenate(list(a.splits.values()))), np.arange(20))
    assert all(np.array_equal(a.splits[k], b.splits[k]) for k in a.splits)
    assert any(not np.array_equal(a.splits[k], c.splits[k]) for k in a.splits)


def test_report_names_pairs_sizes_classes_and_split(tmp_path, capsys):
    _segmentation_folder(tmp_path, 10)
    ds = load_segmentation_folder(tmp_path, fractions={"train": 0.8, "test": 0.2})
    out = capsys.readouterr().out
    assert "10 image/mask pairs" in out and "8x8 (10)" in out and "train 8, test 2" in out
    assert "background" in out and "foreground" in out and out.strip() == ds.report()


# --------------------------------------------------------------------------------- classification

def test_class_folder_labels_names_and_stratified_split(tmp_path):
    written = {}
    for cls, n in (("pores", 6), ("cracks", 4), ("inclusions", 5)):
        for i in range(n):
            x = RNG.integers(0, 256, (9, 9, 3), dtype=np.uint8)
            save(tmp_path / cls / f"{cls[0]}{i}.png", x)
            written[f"{cls}/{cls[0]}{i}"] = x
    ds = load_class_folder(tmp_path, fractions={"train": 0.5, "test": 0.5}, verbose=False)
    assert ds.class_names == ["cracks", "inclusions", "pores"]
    assert ds.labels.dtype == np.int64 and np.bincount(ds.labels).tolist() == [4, 5, 6]
    for i, name in enumerate(ds.names):
        assert ds.class_names[ds.labels[i]] == name.split("/")[0]
        np.testing.assert_array_equal(ds.images[i], written[name] / np.float32(255))
    per_split = ds.summary["split"]["class_counts"]
    assert all(min(v.values()) >= 2 for v in per_split.values())  # every class on both sides
    assert ds.describe()["class_counts"] == {"cracks": 4, "inclusions": 5, "pores": 6}
    ordered = load_class_folder(tmp_path, classes=["pores", "cracks"], verbose=False, min_per_split=0)
    assert ordered.class_names == ["pores", "cracks"] and set(ordered.labels.tolist()) == {0, 1}
    assert ordered.summary["ignored_folders"] == ["inclusions"]


def test_class_folder_split_files_by_stem_or_class_path(tmp_path):
    for cls in ("a", "b"):
        for i in range(3):
            save(tmp_path / cls / f"{cls}{i}.png", np.full((4, 4), 10 * i, np.uint8))
    (tmp_path / "split").mkdir()
    (tmp_path / "split" / "train.txt").write_text("a0\na1\nb/b0\nb/b1.png\n")
    (tmp_path / "split" / "test.txt").write_text("a2\nb2\n")
    ds = load_class_folder(tmp_path, verbose=False)
    assert [ds.names[i] for i in ds.splits["test"]] == ["a/a2", "b/b2"]
    assert len(ds.splits["train"]) == 4 and ds.class_names == ["a", "b"]  # split/ is not a class


# ---------------------------------------------------------------------------------------- refusals

def test_refuses_unmatched_stems_on_both_sides(tmp_path):
    _segmentation_folder(tmp_path, 3)
    (tmp_path / "masks" / "img02.png").unlink()
    save(tmp_path / "masks" / "stray.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"1 image\(s\) .* have no mask .*'img02'.*1 mask\(s\) .* no image, e\.g\. \['stray'\]"):
        load_segmentation_folder(tmp_path, verbose=False)


def test_refuses_a_mask_value_outside_the_map(tmp_path):
    save(tmp_path / "images" / "a.png", np.zeros((4, 4), np.uint8))
    save(tmp_path / "masks" / "a.png", np.array([[0, 85, 170, 200]] * 4, np.uint8))
    with pytest.raises(ValueError, match=r"mask .*a\.png has values \[200\] that mask_map does not map"):
        quiet(tmp_path, mask_map={"0": 0, "85": 1, "170": 2})


def test_refuses_a_colour_outside_the_map(tmp_path):
    m = np.zeros((4, 4, 3), np.uint8)
    m[0, 0] = (255, 0, 0)
    m[1, 1] = (0, 0, 255)
    save(tmp_path / "images" / "a.png", np.zeros((4, 4), np.uint8))
    save(tmp_path / "masks" / "a.png", m)
    with pytest.raises(ValueError, match=r"a\.png has colours that mask_map does not map: #0000ff \(1 px\)"):
        quiet(tmp_path, mask_map={"#000000": 0, "#ff0000": 1})
    with pytest.raises(ValueError, match=r"colour-coded \(RGB\).*mask_map=\{\"#000000\": 0, \"#0000ff\": 1, \"#ff0000\": 2\}"):
        quiet(tmp_path)  # no map: refused, not averaged to grey
    with pytest.raises(ValueError, match=r"colour-coded .* but mask_map maps grey values"):
        quiet(tmp_path, mask_map={"0": 0, "85": 1})


def test_refuses_multivalued_masks_without_a_map_and_its_example_map_works(tmp_path):
    c = classes(k=4)
    save(tmp_path / "images" / "a.png", np.zeros((12, 10), np.uint8))
    save(tmp_path / "masks" / "a.png", np.array([0, 85, 170, 255], np.uint8)[c])
    with pytest.raises(ValueError, match=r"hold 4 values \[0, 85, 170, 255\]") as err:
        quiet(tmp_path)
    with pytest.raises(ValueError, match=r"hold 4 values"):
        load_image_mask_folder(tmp_path)  # the earlier entry point no longer binarises them
    suggested = str(err.value).split("-p mask_map '")[1].split("'")[0]
    np.testing.assert_array_equal(quiet(tmp_path, mask_map=suggested).masks[0], c)


def test_refuses_an_empty_class_folder(tmp_path):
    save(tmp_path / "full" / "a.png", np.zeros((4, 4), np.uint8))
    save(tmp_path / "full" / "b.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here")
    with pytest.raises(ValueError, match=r"class folder .*empty holds no images"):
        load_class_folder(tmp_path, verbose=False)
    (tmp_path / "empty" / "notes.txt").unlink()
    (tmp_path / "empty").rmdir()
    with pytest.raises(ValueError, match=r"at least 2"):
        load_class_folder(tmp_path, verbose=False)


def test_refuses_a_split_too_small_for_the_method(tmp_path):
    _segmentation_folder(tmp_path, 5)
    with pytest.raises(ValueError, match=r"split too small: 'train' has 3 but needs at least 4"):
        load_segmentation_folder(tmp_path, min_per_split={"train": 4}, verbose=False)
    with pytest.raises(ValueError, match=r"names split\(s\) \['validation'\]"):
        load_segmentation_folder(tmp_path, min_per_split={"validation": 1}, verbose=False)
    (tmp_path / "split").mkdir()
    (tmp_path / "split" / "train.txt").write_text("img00\nimg01\n")
    (tmp_path / "split" / "test.txt").write_text("img02\n")
    with pytest.raises(ValueError, match=r"'train' has 2 but needs at least 4 \(split files in"):
        load_segmentation_folder(tmp_path, min_per_split={"train": 4}, verbose=False)


def test_refuses_bad_split_files(tmp_path):
    _segmentation_folder(tmp_path, 3)
    (tmp_path / "split").mkdir()
    (tmp_path / "split" / "train.txt").write_text("img00\nimg09\n")
    with pytest.raises(ValueError, match=r"train\.txt lists 1 name\(s\) with no image .*'img09'"):
        load_segmentation_folder(tmp_path, verbose=False)
    (tmp_path / "split" / "train.txt").write_text("img00\nimg01\n")
    (tmp_path / "split" / "val.txt").write_text("img01\n")
    with pytest.raises(ValueError, match=r"'img01' is listed in both"):
        load_segmentation_folder(tmp_path, verbose=False)


def test_refuses_what_it_would_read_wrongly(tmp_path):
    save(tmp_path / "images" / "a.tif", np.zeros((3, 4, 4), np.uint8), photometric="minisblack")
    save(tmp_path / "masks" / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"a\.tif holds an array of shape \(3, 4, 4\).*one 2-D image per file"):
        quiet(tmp_path)
    save(tmp_path / "images" / "a.tif", np.full((4, 4), 7.5, np.float32))
    with pytest.raises(ValueError, match=r"a\.tif holds floating-point pixels in \[7\.5, 7\.5\]"):
        quiet(tmp_path)
    save(tmp_path / "images" / "a.tif", np.zeros((4, 4), np.uint8))
    save(tmp_path / "images" / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"two files with the stem 'a'"):
        quiet(tmp_path)
    (tmp_path / "images" / "a.png").unlink()
    save(tmp_path / "masks" / "a.png", np.array([[0, 1, 2, 3]] * 4, np.uint8))
    with pytest.raises(ValueError, match=r"class_names must name the 4 classes"):
        quiet(tmp_path, class_names=["bg", "fg"])
    with pytest.raises(FileNotFoundError, match=r"mask folder: folder .*labels does not exist"):
        quiet(tmp_path, mask_dir="labels")


@pytest.mark.parametrize("bad, message", [
    ({3: -1}, r"both integers >= 0, got \{3: -1\}"),
    ({"0": 0, "255": 2}, r"without gaps; .* class\(es\) \[1\]"),
    ({"0": 0, "#ff0000": 1}, r"mixes grey values and RGB colours"),
    ([[0, 0], ["0", 1]], r"gives the mask value 0 two classes, 0 and 1"),
    ([[0, 0, 1]], r"must hold pairs \[value, class\]"),
    ({"red": 1}, r"got \{'red': 1\}"),
    ("0 -> background", r"cannot read '0 -> background' as a map"),
    ({}, r"mask_map is empty"),
    (3, r"must be a dict, a list of \[value, class\] pairs"),
])
def test_parse_mask_map_refuses(bad, message):
    with pytest.raises(ValueError, match=message):
        parse_mask_map(bad)


def test_parse_mask_map_forms_and_round_trip():
    assert parse_mask_map(None) is None and parse_mask_map("None") is None
    grey = parse_mask_map({"0": 0, 85: "1", "170": 2, 255.0: 3})
    assert grey == {0: 0, 85: 1, 170: 2, 255: 3}
    colour = parse_mask_map({"#FF0000": 1, "0 0 0": 0})
    assert colour == {(0, 0, 0): 0, (255, 0, 0): 1}
    for m in (grey, colour):
        assert parse_mask_map(format_mask_map(m)) == m
        assert parse_mask_map(json.dumps(format_mask_map(m))) == m


# ----------------------------------------------------------------------------- earlier entry points

def test_leaf_folder_reads_palette_lesion_masks(tmp_path):
    lesion = [classes(16, 16, 2, seed=s) for s in range(4)]
    for i, m in enumerate(lesion):
        save(tmp_path / "images" / f"leaf{i}.jpg", RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8))
        save_palette(tmp_path / "masks" / f"leaf{i}.png", m, [(0, 0, 0), (128, 0, 0)])
    train, val = load_leaf_folder(tmp_path, 16, val_fraction=0.25)
    for part in (train, val):
        for name, m in zip(part["names"], part["masks"]):
            np.testing.assert_array_equal(m, lesion[int(name[4:])])
    *_, summary = load_leaf_folder(tmp_path, 16, val_fraction=0.25, return_summary=True)
    json.dumps(summary)
    assert summary["split"]["counts"] == {"train": 3, "val": 1} and summary["masks"]["mask_map"] == {"0": 0, "1": 1}
    assert summary["masks"]["encoding"].startswith("binary palette indices")


@pytest.mark.parametrize("module", [image_io_module, folder_mask_maps_module, folder_loaders_module],
                         ids=["image_io", "folder.mask_maps", "folder.loaders"])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_two_values_other_than_0_1_or_0_255_are_not_guessed(tmp_path):
    save(tmp_path / "images" / "a.png", np.zeros((4, 4), np.uint8))
    save(tmp_path / "masks" / "a.png", np.array([[0, 2, 0, 2]] * 4, np.uint8))  # classes 0 and 2, or binary?
    with pytest.raises(ValueError, match=r"hold 2 values \[0, 2\]"):
        quiet(tmp_path)
    np.testing.assert_array_equal(quiet(tmp_path, mask_map=[[0, 0], [2, 1]]).masks[0], [[0, 1, 0, 1]] * 4)


SHARED_SSTEM = Path(__file__).resolve().parents[4] / "shared" / "data" / "drosophila_sstem" / "stack1"


@pytest.mark.skipif(not SHARED_SSTEM.is_dir(), reason="no local copy of the ssTEM set")
def test_real_sstem_label_maps_need_their_map(tmp_path):
    """The merged ssTEM label PNGs hold 9 grey levels: refused without a map, read exactly with one."""
    for i in ("00", "01"):
        (tmp_path / "images").mkdir(exist_ok=True)
        (tmp_path / "masks").mkdir(exist_ok=True)
        (tmp_path / "images" / f"{i}.tif").symlink_to(SHARED_SSTEM / "raw" / f"{i}.tif")
        (tmp_path / "masks" / f"{i}.png").symlink_to(SHARED_SSTEM / "labels" / f"labels000000{i}.png")
    with pytest.raises(ValueError, match=r"hold 9 values \[0, 32, 64, 96, 128, 159, 191, 223, 255\]") as err:
        quiet(tmp_path)
    suggested = str(err.value).split("-p mask_map '")[1].split("'")[0]
    ds = quiet(tmp_path, mask_map=suggested)
    raw = np.asarray(Image.open(SHARED_SSTEM / "labels" / "labels00000001.png"))
    levels = [0, 32, 64, 96, 128, 159, 191, 223, 255]
    np.testing.assert_array_equal(ds.masks[1], np.searchsorted(levels, raw))
    np.testing.assert_array_equal(ds.images[0], tifffile.imread(SHARED_SSTEM / "raw" / "00.tif") / np.float32(255))
