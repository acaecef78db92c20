"""PASCAL VOC 2012 as notebook 02 reads it, on a tiny folder in VOC's own layout (offline)."""

import numpy as np
import pytest
from PIL import Image

from helpers.data.public.voc import VOC_CLASSES, load_voc2012


def write_voc_layout(root, n=6, size=(40, 30)):
    """n image/mask pairs as VOC ships them: JPEGs, palette-PNG class masks with a 255 border, the split file."""
    base = root / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (base / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    palette = [0] * 768
    palette[3:6] = [128, 0, 0]                     # VOC's colour for class 1; index 255 is white
    palette[765:768] = [224, 224, 192]
    names, masks = [], {}
    for i in range(n):
        name = f"2007_{i:06d}"
        w, h = size
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(base / "JPEGImages" / f"{name}.jpg")
        mask = np.zeros((h, w), np.uint8)
        mask[5:20, 5:25] = 1 + i % 20              # a class 1..20 block
        mask[5:20, 25] = 255                       # VOC's "ignore" border
        png = Image.fromarray(mask, mode="P")
        png.putpalette(palette)
        png.save(base / "SegmentationClass" / f"{name}.png")
        names.append(name)
        masks[name] = mask
    (base / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(names) + "\n")
    return masks


def test_reads_a_voc_layout_folder_keeping_class_indices_and_the_ignore_border(tmp_path):
    masks = write_voc_layout(tmp_path)
    (x_train, y_train), (x_val, y_val), names = load_voc2012(tmp_path, n_train=4, n_val=2, size=32, seed=0)
    assert names == list(VOC_CLASSES) and len(names) == 21
    assert x_train.shape == (4, 32, 32, 3) and x_val.shape == (2, 32, 32, 3) and x_train.dtype == np.float32
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert y_train.shape == (4, 32, 32) and y_train.dtype == np.uint8
    # the palette index is the class (not a grey level), the 255 border survives nearest-neighbour resizing
    true_classes = {int(m.max(where=m < 255, initial=0)) for m in masks.values()}
    got = [set(np.unique(m).tolist()) for m in np.concatenate([y_train, y_val])]
    assert all(s <= {0, 255} | true_classes for s in got)
    assert all(255 in s and len(s - {0, 255}) == 1 for s in got)
    assert {next(iter(s - {0, 255})) for s in got} == true_classes  # six images, six different classes


def test_the_split_is_seeded_and_disjoint(tmp_path):
    write_voc_layout(tmp_path)
    a = load_voc2012(tmp_path, n_train=4, n_val=2, size=32, seed=0)
    b = load_voc2012(tmp_path, n_train=4, n_val=2, size=32, seed=0)
    c = load_voc2012(tmp_path, n_train=4, n_val=2, size=32, seed=3)
    np.testing.assert_array_equal(a[0][0], b[0][0])
    train_ids = {int(np.unique(m[m < 255]).max()) for m in a[0][1]}
    val_ids = {int(np.unique(m[m < 255]).max()) for m in a[1][1]}
    assert not train_ids & val_ids
    assert {int(np.unique(m[m < 255]).max()) for m in c[0][1]} != train_ids or not np.array_equal(a[0][0], c[0][0])


def test_refuses_more_images_than_the_split_holds(tmp_path):
    write_voc_layout(tmp_path)
    with pytest.raises(ValueError, match="exceeds the 6 images"):
        load_voc2012(tmp_path, n_train=5, n_val=2, size=32)
