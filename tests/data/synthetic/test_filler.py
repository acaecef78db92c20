import time

import numpy as np
import pytest
from scipy.spatial import cKDTree

from helpers.data.synthetic.filler import (
    MORPHOLOGIES,
    PAPER_NAMES,
    filler_dataset,
    filler_structure,
    plot_filler_examples,
    render_plane,
    slice_images,
)


@pytest.fixture(scope="module")
def structures():
    """One structure per morphology at the defaults (1500-nm box, 15 %)."""
    return {m: filler_structure(m, seed=0) for m in MORPHOLOGIES}


def _pairs(s, factor=1.0):
    """Periodic neighbour pairs within ``factor * (r_i + r_j)`` and their centre distance / contact ratio."""
    c, r, box = s["centres"].astype(np.float64), s["radii"].astype(np.float64), s["box_nm"]
    pairs = cKDTree(c, boxsize=box).query_pairs(2 * factor * r.max(), output_type="ndarray")
    d = c[pairs[:, 0]] - c[pairs[:, 1]]
    d -= box * np.rint(d / box)
    ratio = np.sqrt((d**2).sum(1)) / (r[pairs[:, 0]] + r[pairs[:, 1]])
    keep = ratio < factor
    return pairs[keep], ratio[keep]


def _subcube_cv(s, side_nm):
    """Coefficient of variation of the filler volume in sub-cubes of about ``side_nm``."""
    k = int(round(s["box_nm"] / side_nm))
    idx = np.minimum((s["centres"] / (s["box_nm"] / k)).astype(int), k - 1)
    vol = np.zeros((k, k, k))
    np.add.at(vol, (idx[:, 0], idx[:, 1], idx[:, 2]), s["radii"].astype(np.float64) ** 3)
    return vol.std() / vol.mean()


def _unwrapped_rg(s, min_size=10):
    """(size, radius of gyration) of every aggregate with at least ``min_size`` particles."""
    c, lab, box = s["centres"].astype(np.float64), s["aggregate"], s["box_nm"]
    sizes, rg = [], []
    for label in np.flatnonzero(np.bincount(lab) >= min_size):
        pts = c[lab == label]
        d = pts - pts[0]
        pts = pts[0] + d - box * np.rint(d / box)  # aggregates are much smaller than half the box
        sizes.append(len(pts))
        rg.append(np.sqrt(((pts - pts.mean(0)) ** 2).sum(1).mean()))
    return np.array(sizes), np.array(rg)


# ---------------------------------------------------------------------------------------------- structures


def test_types_and_ranges(structures):
    for m, s in structures.items():
        assert s["morphology"] == m and s["box_nm"] == 1500.0
        c, r = s["centres"], s["radii"]
        assert c.dtype == np.float32 and r.dtype == np.float32 and c.shape == (len(r), 3)
        assert 0 <= c.min() and c.max() < 1500.0
        assert 8.0 <= r.min() and r.max() <= 14.0
        assert s["aggregate"].shape == r.shape


def test_deterministic_per_seed():
    for m in MORPHOLOGIES:
        a, b = filler_structure(m, box_nm=400.0, seed=5), filler_structure(m, box_nm=400.0, seed=5)
        c = filler_structure(m, box_nm=400.0, seed=6)
        np.testing.assert_array_equal(a["centres"], b["centres"])
        np.testing.assert_array_equal(a["radii"], b["radii"])
        assert not np.array_equal(a["centres"][:50], c["centres"][:50])
    s = filler_structure("random", box_nm=400.0, seed=5)
    x1, x2 = slice_images(s, 4, field_nm=250.0, seed=3), slice_images(s, 4, field_nm=250.0, seed=3)
    np.testing.assert_array_equal(x1, x2)
    assert not np.array_equal(x1, slice_images(s, 4, field_nm=250.0, seed=4))


def test_same_particles_for_every_morphology(structures):
    # One seed: the same radii (so the same size distribution and volume), only arranged differently.
    radii = [np.sort(s["radii"]) for s in structures.values()]
    np.testing.assert_array_equal(radii[0], radii[1])
    np.testing.assert_array_equal(radii[0], radii[2])


@pytest.mark.parametrize("target", [0.15, 0.08])
def test_volume_fraction_reached(structures, target):
    for m in MORPHOLOGIES:
        s = structures[m] if target == 0.15 else filler_structure(m, box_nm=600.0, volume_fraction=target, seed=2)
        assert abs(s["volume_fraction"] / target - 1) < 0.10, (m, s["volume_fraction"])
        measured = (4 / 3 * np.pi * s["radii"].astype(np.float64) ** 3).sum() / s["box_nm"] ** 3
        assert abs(measured / target - 1) < 0.10, (m, measured)


def test_no_overlaps_beyond_tolerance(structures):
    for m, s in structures.items():
        assert s["overlap_tolerance"] == pytest.approx(0.01)
        _, ratio = _pairs(s)
        assert ratio.size == 0 or ratio.min() >= 1 - s["overlap_tolerance"] - 1e-4, (m, ratio.min())


def test_contacts_and_aggregate_sizes(structures):
    # Rnd: hard spheres placed at random rarely touch; M-SBR: nearly every particle sits in a small
    # touching aggregate of 2-6; n-SBR: aggregates of tens to hundreds of particles.
    touching = {}
    for m, s in structures.items():
        pairs, _ = _pairs(s, factor=1.001)
        touching[m] = np.unique(pairs).size / len(s["radii"])
    assert touching["random"] < 0.2
    assert touching["dispersed"] > 0.95 and touching["aggregated"] > 0.95
    sizes = np.bincount(structures["dispersed"]["aggregate"])
    sizes = sizes[sizes > 0]
    in_small = sizes[(sizes >= 2) & (sizes <= 6)].sum() / sizes.sum()
    assert in_small > 0.95 and sizes.max() <= 6
    big = np.bincount(structures["aggregated"]["aggregate"])
    big = big[big > 0]
    assert np.median(big) >= 50 and big.max() >= 300


def test_aggregated_is_heterogeneous(structures):
    # Filler volume in 150-nm sub-cubes varies far more for n-SBR (branched clusters and large voids).
    cv = {m: _subcube_cv(s, 150.0) for m, s in structures.items()}
    assert cv["aggregated"] > 3 * cv["random"], cv
    assert cv["aggregated"] > 2 * cv["dispersed"], cv
    # Nearest-neighbour distances: aggregated particles touch, random ones mostly keep apart.
    nn = {}
    for m, s in structures.items():
        dist, _ = cKDTree(s["centres"].astype(np.float64), boxsize=s["box_nm"]).query(s["centres"], k=2)
        nn[m] = np.median(dist[:, 1])
    assert nn["aggregated"] < 0.9 * nn["random"], nn


def test_fractal_dimension_of_aggregates(structures):
    sizes, rg = _unwrapped_rg(structures["aggregated"])
    assert len(sizes) > 100
    df = np.polyfit(np.log(rg), np.log(sizes), 1)[0]
    assert 1.8 <= df <= 2.4, df


# ---------------------------------------------------------------------------------------------- slices


def _one_sphere(centre=(100.0, 100.0, 100.0), radius=40.0, box=200.0):
    return {"centres": np.array([centre]), "radii": np.array([radius]), "box_nm": box}


@pytest.mark.parametrize("offset, normal", [(0.0, (0, 0, 1)), (15.0, (1, 2, 2)), (30.0, (0.3, -1, 0.2))])
def test_single_sphere_cut_is_a_disc_of_the_right_radius(offset, normal):
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    field, pixels, r = 120.0, 128, 40.0
    mask = render_plane(_one_sphere(radius=r), 100.0 + offset * n, normal, field_nm=field, pixels=pixels)
    rho_px = np.sqrt(r**2 - offset**2) / (field / pixels)
    assert mask.sum() == pytest.approx(np.pi * rho_px**2, rel=0.03)
    yy, xx = np.nonzero(mask)
    assert abs(yy.mean() - (pixels - 1) / 2) < 0.5 and abs(xx.mean() - (pixels - 1) / 2) < 0.5
    # A plane beyond the sphere cuts nothing.
    assert not render_plane(_one_sphere(radius=r), 100.0 + 1.05 * r * n, normal, field_nm=field, pixels=pixels).any()


@pytest.mark.parametrize("field", [60.0, 200.0])
def test_periodic_images_are_cut_whole(field):
    # A sphere straddling the box corner shows a whole disc around the corner (both code paths:
    # a periodic tree for small fields, explicit images for a field as large as the box).
    s = _one_sphere(centre=(5.0, 195.0, 5.0), radius=20.0)
    mask = render_plane(s, (0.0, 0.0, 5.0), (0, 0, 1), field_nm=field, pixels=100)
    rho_px = 20.0 / (field / 100)
    assert mask.sum() == pytest.approx(np.pi * rho_px**2, rel=0.05)


def test_thick_slab_projects_the_sphere():
    # The mid-plane misses the sphere by 10 nm, but a 30-nm slab contains its centre: full radius.
    s = _one_sphere(radius=20.0)
    thin = render_plane(s, (100.0, 100.0, 110.0), (0, 0, 1), field_nm=100.0, pixels=100)
    thick = render_plane(s, (100.0, 100.0, 110.0), (0, 0, 1), field_nm=100.0, pixels=100, thickness_nm=30.0)
    assert thin.sum() == pytest.approx(np.pi * (400 - 100), rel=0.03)
    assert thick.sum() == pytest.approx(np.pi * 400, rel=0.03)


@pytest.mark.parametrize("morphology, field, tol", [("random", 500.0, 0.03), ("dispersed", 500.0, 0.03),
                                                    ("aggregated", 1000.0, 0.04)])
def test_area_fraction_equals_volume_fraction(structures, morphology, field, tol):
    s = structures[morphology]
    x = slice_images(s, 300, field_nm=field, blur_px=0.0, noise=0.0, seed=1)
    assert set(np.unique(x)) <= {np.float32(0.25), np.float32(0.8)}
    area = (x > 0.5).mean()
    assert area == pytest.approx(s["volume_fraction"], rel=tol)


def test_slice_images_look(structures):
    kw = dict(field_nm=250.0, pixels=48, seed=2)
    x = slice_images(structures["random"], 20, **kw)
    assert x.shape == (20, 48, 48) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1
    # The same seed cuts the same planes; blur and noise only change the grey values.
    clean = slice_images(structures["random"], 20, blur_px=0.0, noise=0.0, **kw)
    filler = clean > 0.5
    assert 0.05 < filler.mean() < 0.3
    assert x[filler].mean() > x[~filler].mean() + 0.3
    assert abs(np.median(x[~filler]) - 0.25) < 0.05
    assert np.std(x - slice_images(structures["random"], 20, noise=0.0, **kw)) == pytest.approx(0.05, rel=0.1)
    # A thick slab projects more filler into the image than an ideal cut.
    thick = slice_images(structures["random"], 20, thickness_nm=40.0, blur_px=0.0, noise=0.0, **kw)
    assert (thick > 0.5).mean() > 1.5 * filler.mean()


def test_heterogeneity_shows_in_slices(structures):
    # Per-slice filler fraction scatters far more for n-SBR than for Rnd at every field of view.
    for field in (250.0, 1000.0):
        spread = {m: (slice_images(structures[m], 60, field_nm=field, blur_px=0, noise=0, seed=4) > 0.5)
                  .mean(axis=(1, 2)).std() for m in ("random", "aggregated")}
        assert spread["aggregated"] > 2 * spread["random"], (field, spread)


# ---------------------------------------------------------------------------------------------- data set


def test_filler_dataset():
    kw = dict(field_nm=250.0, pixels=32, structures_per_class=2, structure_kwargs={"box_nm": 500.0})
    x, y = filler_dataset(10, seed=3, **kw)
    assert x.shape == (30, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [10, 10, 10]
    assert not np.array_equal(y, np.sort(y))  # shuffled
    x2, y2 = filler_dataset(10, seed=3, **kw)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = filler_dataset(10, seed=4, **kw)
    assert not np.array_equal(x, x3)
    assert len(PAPER_NAMES) == 3 and [PAPER_NAMES[m] for m in MORPHOLOGIES] == ["Rnd", "M-SBR", "n-SBR"]


def test_filler_dataset_is_the_same_with_worker_processes(monkeypatch):
    # Slices are cut in blocks whose seeds do not depend on how many processes cut them.
    import helpers.data.synthetic.filler.dataset as filler

    monkeypatch.setattr(filler, "_BLOCK", 7)  # several blocks per structure, so order matters
    kw = dict(field_nm=250.0, pixels=24, seed=5, structures_per_class=1, structure_kwargs={"box_nm": 300.0})
    x1, y1 = filler_dataset(16, workers=1, **kw)
    monkeypatch.setattr(filler, "_pool_map", lambda fn, tasks, workers: list(reversed(
        [fn(a) for a in reversed(tasks)])))  # a pool computes tasks in any order; results keep theirs
    x2, y2 = filler_dataset(16, workers=3, **kw)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


def test_filler_dataset_in_real_processes():
    kw = dict(field_nm=250.0, pixels=24, seed=6, structures_per_class=2, structure_kwargs={"box_nm": 300.0})
    x1, y1 = filler_dataset(6, workers=1, **kw)
    x2, y2 = filler_dataset(6, workers=2, **kw)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


def test_filler_dataset_labels_follow_morphologies():
    # Label 2 (aggregated) must carry the heterogeneous slices, label 0 (random) the uniform ones.
    x, y = filler_dataset(60, field_nm=250.0, pixels=32, seed=0, blur_px=0.0, noise=0.0,
                          structure_kwargs={"box_nm": 700.0})
    frac = (x > 0.5).mean(axis=(1, 2))
    assert frac[y == 2].std() > 2 * frac[y == 0].std()


def test_plot_filler_examples():
    fig = plot_filler_examples(field_sizes=(250, 1000), pixels=32, seed=1)
    axes = fig.axes
    assert len(axes) == 6
    assert axes[0].get_title() == "(250 nm)$^2$" and "Rnd" in axes[0].get_ylabel()
    assert "n-SBR" in axes[4].get_ylabel()


# ---------------------------------------------------------------------------------------------- speed


def _best_cpu_seconds(fn, repeats=3, good_enough=None):
    best = np.inf
    for _ in range(repeats):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
        if good_enough is not None and best < good_enough:
            break
    return best


@pytest.mark.parametrize("morphology", MORPHOLOGIES)
def test_structure_speed(morphology):
    # The aggregated structure takes 1.2-2.9 s of CPU on the 2-core CI machine depending on its load;
    # a per-particle Python loop (the regression this guards against) takes well over ten times that.
    seconds = _best_cpu_seconds(lambda: filler_structure(morphology, seed=11), good_enough=4.0)
    assert seconds < 4.0, f"{morphology}: {seconds:.2f} s CPU"


def test_slice_speed(structures):
    n = 300
    seconds = _best_cpu_seconds(lambda: slice_images(structures["aggregated"], n, field_nm=500.0, pixels=64))
    assert n / seconds >= 200, f"{n / seconds:.0f} slices/s"


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, name", [
    ({"morphology": "clustered"}, "morphology"),
    ({"volume_fraction": 0.0}, "volume_fraction"),
    ({"volume_fraction": 0.6}, "volume_fraction"),
    ({"volume_fraction": -0.1}, "volume_fraction"),
    ({"radius_nm": (14.0, 8.0)}, "radius_nm"),
    ({"radius_nm": 10.0}, "radius_nm"),
    ({"box_nm": 100.0}, "box_nm"),
])
def test_bad_structure_arguments(kwargs, name):
    kwargs = {"morphology": "random", "box_nm": 400.0, **kwargs}
    with pytest.raises(ValueError, match=name):
        filler_structure(kwargs.pop("morphology"), **kwargs)


@pytest.mark.parametrize("kwargs, name", [
    ({"field_nm": 500.0}, "field_nm"),
    ({"pixels": 7}, "pixels"),
    ({"n": 0}, "^n must"),
    ({"noise": -1.0}, "noise"),
    ({"thickness_nm": -5.0}, "thickness_nm"),
])
def test_bad_slice_arguments(kwargs, name):
    s = _one_sphere()  # box 200 nm
    kwargs = {"n": 2, "field_nm": 100.0, **kwargs}
    with pytest.raises(ValueError, match=name):
        slice_images(s, kwargs.pop("n"), **kwargs)


def test_bad_other_arguments():
    with pytest.raises(ValueError, match="normal"):
        render_plane(_one_sphere(), (0, 0, 0), (0, 0, 0), field_nm=50.0)
    with pytest.raises(ValueError, match="structure"):
        slice_images({"centres": np.zeros((2, 3))}, 2)
    with pytest.raises(ValueError, match="n_per_class"):
        filler_dataset(0, field_nm=250.0)
    with pytest.raises(ValueError, match="field_nm"):
        filler_dataset(2, field_nm=800.0, structure_kwargs={"box_nm": 400.0})
