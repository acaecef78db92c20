import numpy as np
import pytest

from helpers.data import synthetic_shapes


def test_deterministic_per_seed():
    a = synthetic_shapes(5, size=32, seed=4)
    b = synthetic_shapes(5, size=32, seed=4)
    c = synthetic_shapes(5, size=32, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("num_classes", [2, 3, 5])
def test_statistics(num_classes):
    x, y = synthetic_shapes(200, size=48, num_classes=num_classes, noise=0.0, seed=0)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() >= 0 and x.max() <= 1
    counts = np.bincount(y.ravel(), minlength=num_classes)
    assert len(counts) == num_classes and (counts > 0).all()  # every class occurs
    assert 0.5 < counts[0] / counts.sum() < 0.95  # background dominates, shapes are visible
    # Without noise each class has its own brightness: class means are increasing.
    means = [x[y == c].mean() for c in range(num_classes)]
    assert all(m1 < m2 for m1, m2 in zip(means[1:], means[2:]))


def test_shapes_match_their_class_geometry():
    # odd classes are discs, even classes squares: a square fills its bounding box more.
    from scipy import ndimage

    _, y = synthetic_shapes(300, size=64, num_classes=3, max_shapes=1, noise=0.0, seed=1)
    fill = {1: [], 2: []}
    for m in y:
        for c in (1, 2):
            obj = m == c
            if obj.sum() > 50:
                sl = ndimage.find_objects(obj.astype(int))[0]
                box = obj[sl]
                if box.shape[0] == box.shape[1] and all(s.start > 0 and s.stop < 64 for s in sl):
                    fill[c].append(box.mean())
    assert np.mean(fill[1]) == pytest.approx(np.pi / 4, abs=0.05)
    assert np.mean(fill[2]) > 0.97


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n must be an integer >= 1"),
    ({"n": 2, "size": 8}, "size must be an integer >= 16"),
    ({"n": 2, "num_classes": 1}, "num_classes must be an integer >= 2"),
    ({"n": 2, "num_classes": 9}, r"num_classes must be in \[2, 8\]"),
    ({"n": 2, "noise": -0.1}, r"noise must be in \[0, 1\]"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic_shapes(**kwargs)
