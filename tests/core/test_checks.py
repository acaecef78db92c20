import numpy as np
import pytest
import torch

from helpers.core import checks


def test_check_array_rejects_lists():
    with pytest.raises(TypeError, match="x must be a numpy array or a torch tensor"):
        checks.check_array([1, 2], "x")


@pytest.mark.parametrize("x", [np.zeros((2, 3)), torch.zeros(2, 3)])
def test_check_ndim_names_argument_and_shape(x):
    with pytest.raises(ValueError, match=r"images must be 3-D or 4-D \(N, H, W\), got shape \(2, 3\)"):
        checks.check_ndim(x, "images", (3, 4), "(N, H, W)")
    checks.check_ndim(x, "images", 2)


def test_check_same_shape():
    with pytest.raises(ValueError, match=r"image and mask must have the same shape, got \(4, 4\) and \(4, 5\)"):
        checks.check_same_shape(np.zeros((4, 4)), np.zeros((4, 5)), "image", "mask")


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_check_integer_labels(lib):
    make = np.array if lib == "numpy" else torch.tensor
    checks.check_integer_labels(make([0, 1, 2]), "mask", num_classes=3)
    with pytest.raises(ValueError, match="mask must hold integer class indices, got dtype"):
        checks.check_integer_labels(make([0.0, 1.0]), "mask", num_classes=3)
    with pytest.raises(ValueError, match=r"mask must hold class indices in \[0, 2\], found values in \[0, 3\]"):
        checks.check_integer_labels(make([0, 3]), "mask", num_classes=3)
    with pytest.raises(ValueError, match=r"found values in \[-1, 1\]"):
        checks.check_integer_labels(make([-1, 1]), "mask", num_classes=3)
    # the ignore index is allowed outside the class range
    checks.check_integer_labels(make([0, 255, 2]), "mask", num_classes=3, ignore_index=255)


def test_check_finite_and_range():
    with pytest.raises(ValueError, match="x contains NaN or infinite values"):
        checks.check_finite(np.array([0.0, np.nan]), "x")
    with pytest.raises(ValueError, match="x contains NaN"):
        checks.check_finite(torch.tensor([float("inf")]), "x")
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\], found values in \[-0.5, 1\]"):
        checks.check_range(np.array([-0.5, 1.0]), "x", 0, 1)
    checks.check_range(np.array([0.0, 1.0]), "x", 0, 1)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4", None])
def test_check_positive_int_rejects(bad):
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        checks.check_positive_int(bad, "epochs")


def test_check_choice_and_nonempty():
    with pytest.raises(ValueError, match=r"profile must be one of \['smoke', 'full'\], got 'fast'"):
        checks.check_choice("fast", "profile", ["smoke", "full"])
    with pytest.raises(ValueError, match="images is empty"):
        checks.check_nonempty(np.zeros((0, 4)), "images")


def test_check_file_and_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checks.check_file(tmp_path / "missing.png", "image")
    empty = tmp_path / "empty.png"
    empty.touch()
    with pytest.raises(ValueError, match=r"image: .*empty\.png is empty \(0 bytes\)"):
        checks.check_file(empty, "image")
    with pytest.raises(ValueError, match="is not a file"):
        checks.check_file(tmp_path, "image")
    with pytest.raises(FileNotFoundError, match="data_root: folder .* does not exist"):
        checks.check_dir(tmp_path / "nope", "data_root")
    with pytest.raises(ValueError, match="is not a folder"):
        checks.check_dir(empty, "data_root")
    assert checks.check_dir(tmp_path) == tmp_path
