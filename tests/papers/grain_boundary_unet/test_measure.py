import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.draw import disk

from helpers.papers.grain_boundary_unet.measure import (betti_error, boundary_skeleton, carbide_boundary_ratio, relative_error,
                             skeleton_graph_stats, skeleton_length)


@given(st.integers(2, 40), st.integers(1, 3))
@settings(max_examples=25, deadline=None)
def test_straight_line_of_n_pixels_has_length_n_minus_1(n, row):
    line = np.zeros((5, 45), bool)
    line[row, 2:2 + n] = True
    assert skeleton_length(line, estimator="freeman") == n - 1
    assert skeleton_length(line.T, estimator="freeman") == n - 1


def test_diagonal_and_units():
    diag = np.eye(11, dtype=bool)
    assert skeleton_length(diag, estimator="freeman") == pytest.approx(10 * math.sqrt(2))
    assert skeleton_length(diag, pixel_size=0.5, estimator="freeman") == pytest.approx(5 * math.sqrt(2))
    assert skeleton_length(diag) == pytest.approx(0.948 * 10 * math.sqrt(2))


def test_kulpa_is_unbiased_over_orientations_and_freeman_is_not():
    from skimage.draw import line as draw_line

    rng = np.random.default_rng(0)
    ratios = {"kulpa": [], "freeman": []}
    for theta in rng.uniform(0, np.pi, 200):
        img = np.zeros((128, 128), bool)
        r0, c0 = 64 - 50 * np.sin(theta), 64 - 50 * np.cos(theta)
        r1, c1 = 64 + 50 * np.sin(theta), 64 + 50 * np.cos(theta)
        rr, cc = draw_line(int(round(r0)), int(round(c0)), int(round(r1)), int(round(c1)))
        img[rr, cc] = True
        true = math.hypot(round(r1) - round(r0), round(c1) - round(c0))
        for est in ratios:
            ratios[est].append(skeleton_length(img, estimator=est) / true)
    assert abs(np.mean(ratios["kulpa"]) - 1) < 0.015
    assert np.mean(ratios["freeman"]) - 1 > 0.03
    with pytest.raises(ValueError, match="estimator"):
        skeleton_length(img, estimator="euclid")


def test_circle_centre_line_within_five_percent():
    ring = np.zeros((201, 201), bool)
    ring[disk((100, 100), 63)] = True
    ring[disk((100, 100), 57)] = False  # a band 6 px wide around radius 60
    measured = skeleton_length(ring, from_mask=True)
    assert abs(relative_error(measured, 2 * math.pi * 60)) < 5


def test_thick_band_length_is_its_centre_line():
    band = np.zeros((21, 60), bool)
    band[7:14, 5:55] = True  # 7 px thick, 50 px long
    assert abs(skeleton_length(band, from_mask=True) - 49) <= 8  # the medial axis forks only at the ends
    assert boundary_skeleton(band)[10, 10:50].all()


def test_carbide_ratio_half_and_bounds():
    b = np.zeros((9, 42), bool)
    b[3:6, 1:41] = True
    c = np.zeros_like(b)
    assert carbide_boundary_ratio(b, c)["ratio"] == 0
    c[:, 1:21] = True
    r = carbide_boundary_ratio(b, c, tolerance=0)
    assert r["ratio"] == pytest.approx(0.5, abs=0.06) and r["carbide_count"] == 1
    assert carbide_boundary_ratio(b, np.ones_like(b))["ratio"] == pytest.approx(1.0)
    assert carbide_boundary_ratio(np.zeros_like(b), c)["ratio"] == 0.0


def test_ring_is_one_loop_without_ends_and_a_gap_adds_two_ends():
    ring = np.zeros((40, 40), bool)
    ring[disk((20, 20), 14)] = True
    ring[disk((20, 20), 11)] = False
    s = skeleton_graph_stats(ring)
    assert (s["betti0"], s["betti1"], s["endpoints"]) == (1, 1, 0)
    broken = ring.copy()
    broken[:, 18:23][:10] = False  # cut the top of the ring
    s = skeleton_graph_stats(broken)
    assert (s["betti1"], s["endpoints"]) == (0, 2)
    e = betti_error(broken, ring)
    assert e["betti1"] == 1 and e["endpoints"] == 2


def test_grid_of_boundaries_counts_enclosed_grains():
    grid = np.zeros((40, 40), bool)
    grid[[0, 13, 26, 39], :] = True
    grid[:, [0, 13, 26, 39]] = True  # 3 x 3 closed cells
    s = skeleton_graph_stats(grid, thin=False)
    assert s["betti0"] == 1 and s["betti1"] == 9
    plus = np.zeros((21, 21), bool)
    plus[10, 2:19] = True
    plus[2:19, 10] = True
    s = skeleton_graph_stats(plus, thin=False)
    assert s["endpoints"] == 4 and s["junctions"] == 1 and s["edges"] == 4


def test_relative_error():
    assert relative_error(110, 100) == pytest.approx(10)
    assert relative_error(0, 0) == 0 and relative_error(1, 0) == math.inf


@pytest.mark.parametrize("bad, match", [(np.zeros((2, 3, 3)), r"\(H, W\)"), (np.full((3, 3), 2), "binary"),
                                        (np.full((3, 3), np.nan), "binary")])
def test_bad_masks(bad, match):
    with pytest.raises(ValueError, match=match):
        skeleton_length(bad)


def test_mismatched_shapes_and_negative_arguments():
    with pytest.raises(ValueError, match="shape"):
        carbide_boundary_ratio(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="tolerance"):
        carbide_boundary_ratio(np.zeros((4, 4)), np.zeros((4, 4)), tolerance=-1)
    with pytest.raises(ValueError, match="pixel_size"):
        skeleton_length(np.zeros((4, 4)), pixel_size=0)
