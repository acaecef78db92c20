"""Planar sections through a filler structure, rendered as microscope-like images.

Slices: a plane has a unit normal uniform on the sphere and a point uniform in the box; the field of
view is a ``field_nm`` square centred on that point, spanned by an orthonormal in-plane basis. A pixel
is filler if its 3D position lies inside a sphere (periodic images included), i.e. a sphere at
distance ``d`` from the plane cuts a disc of radius ``sqrt(r^2 - d^2)``. With ``thickness_nm > 0``
the image is the projection of a slab of that thickness (a TEM section): a sphere whose centre lies
in the slab shows its full radius. Filler is bright (0.8) on dark rubber (0.25), then a Gaussian
blur and Gaussian noise are applied. Because pixels sample points, the mean filler area fraction of
many slices equals the volume fraction (stereology: A_A = V_V).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from helpers.core.checks import check_number, check_positive_int
from helpers.data.synthetic.filler.packing import _unit_vectors

_FILLER, _RUBBER = 0.8, 0.25


def _check_structure(structure: Any) -> None:
    if not isinstance(structure, dict) or any(k not in structure for k in ("centres", "radii", "box_nm")):
        raise ValueError("structure must be a dict with 'centres', 'radii' and 'box_nm' (see filler_structure)")
    c, r = np.asarray(structure["centres"]), np.asarray(structure["radii"])
    if c.ndim != 2 or c.shape[1] != 3 or r.shape != (len(c),):
        raise ValueError(f"structure centres must be (M, 3) and radii (M,), got {c.shape} and {r.shape}")


def _plane_basis(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal in-plane vectors ``u, v`` with ``u x v = normal``."""
    helper = np.eye(3)[int(np.argmin(np.abs(normal)))]
    u = np.cross(normal, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(normal, u)


def _check_slicing(structure: dict[str, Any], field_nm: float, pixels: int,
                   thickness_nm: float) -> tuple[float, float, int, float]:
    """The checked ``(box, field, pixels, half slab thickness)`` of a cut through ``structure``."""
    _check_structure(structure)
    box = check_number(structure["box_nm"], "structure['box_nm']", 0.0, np.inf, low_open=True, high_open=True)
    field = check_number(field_nm, "field_nm", 0.0, np.inf, low_open=True, high_open=True)
    if field > box:
        raise ValueError(f"field_nm ({field:g}) must not exceed the structure's box_nm ({box:g})")
    pixels = check_positive_int(pixels, "pixels", minimum=8)
    return box, field, pixels, check_number(thickness_nm, "thickness_nm", 0.0, box / 4) / 2


class _Slicer:
    """A structure's spheres in a k-d tree, for fast plane cuts with periodic images.

    A sphere can reach the field only if its centre lies within ``reach`` (half the field's diagonal
    plus the largest radius plus half the slab) of the field centre. If ``reach`` is under half the
    box, a periodic tree and minimum-image displacements suffice; otherwise the periodic images near
    the box are tiled explicitly into an ordinary tree.
    """

    def __init__(self, structure: dict[str, Any], field_nm: float, pixels: int, thickness_nm: float):
        self.box, self.field, self.pixels, self.half_t = _check_slicing(structure, field_nm, pixels, thickness_nm)
        c = np.mod(np.asarray(structure["centres"], np.float64), self.box)
        c[c >= self.box] = 0.0
        r = np.asarray(structure["radii"], np.float64)
        rmax = float(r.max()) if len(r) else 0.0
        self.reach = self.field / np.sqrt(2) + rmax + self.half_t
        self.periodic = self.reach < self.box / 2
        if self.periodic:
            self.centres, self.radii = c, r
            self.tree = cKDTree(c, boxsize=self.box) if len(c) else None
        else:
            k = int(np.ceil(self.reach / self.box))
            steps = np.arange(-k, k + 1, dtype=np.float64) * self.box
            shifts = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), -1).reshape(-1, 3)
            allc = (c[None] + shifts[:, None]).reshape(-1, 3)
            allr = np.tile(r, len(shifts))
            near = np.all((allc > -self.reach) & (allc < self.box + self.reach), axis=1)
            self.centres, self.radii = allc[near], allr[near]
            self.tree = cKDTree(self.centres) if len(self.centres) else None

    def render(self, point: np.ndarray, normal: np.ndarray, idx: Any = None) -> np.ndarray:
        """Boolean filler mask ``(pixels, pixels)`` of the field centred on ``point`` (rows along v).

        ``idx``: the tree's indices of the spheres within ``reach`` of ``point``, if already known.
        """
        P = self.pixels
        out = np.zeros((P, P), bool)
        if self.tree is None:
            return out
        if idx is None:
            idx = self.tree.query_ball_point(point, self.reach)
        idx = np.asarray(idx, np.int64)
        if len(idx) == 0:
            return out
        d = self.centres[idx] - point
        if self.periodic:
            d -= self.box * np.rint(d / self.box)  # minimum image
        r = self.radii[idx]
        h = np.abs(d @ normal)
        near = np.flatnonzero(h < r + self.half_t)        # spheres the plane (or the slab) cuts
        d, r, h = d[near], r[near], np.maximum(h[near] - self.half_t, 0.0)
        u, v = _plane_basis(normal)
        rho2 = r * r - h * h                               # squared radius of the cut disc
        rho = np.sqrt(np.maximum(rho2, 0.0))
        pix = self.field / P
        # Disc centres in pixel units (pixel i has its centre at i), radius in pixel units.
        ci, cj = (d @ u) / pix + P / 2 - 0.5, (d @ v) / pix + P / 2 - 0.5
        rp2 = rho2 / pix**2
        rp = rho / pix
        # Rows each disc covers (strictly inside), clipped to the image.
        j0 = np.maximum(np.floor(cj - rp).astype(np.int64) + 1, 0)
        j1 = np.minimum(np.ceil(cj + rp).astype(np.int64) - 1, P - 1)
        rows = np.maximum(j1 - j0 + 1, 0)
        if rows.sum() == 0:
            return out
        disc = np.repeat(np.arange(len(rows)), rows)
        j = j0[disc] + np.arange(len(disc)) - np.repeat(np.cumsum(rows) - rows, rows)
        w2 = rp2[disc] - (j - cj[disc]) ** 2
        ok = w2 > 0
        disc, j, w = disc[ok], j[ok], np.sqrt(w2[ok])
        # Columns strictly inside |i - ci| < w on that row: paint a run via a difference array.
        i0 = np.maximum(np.floor(ci[disc] - w).astype(np.int64) + 1, 0)
        i1 = np.minimum(np.ceil(ci[disc] + w).astype(np.int64) - 1, P - 1)
        run = i0 <= i1
        j, i0, i1 = j[run], i0[run], i1[run]
        diff = (np.bincount(j * (P + 1) + i0, minlength=P * (P + 1))
                - np.bincount(j * (P + 1) + i1 + 1, minlength=P * (P + 1)))
        return np.cumsum(diff.reshape(P, P + 1), axis=1)[:, :P] > 0


def render_plane(structure: dict[str, Any], point: Any, normal: Any, field_nm: float, pixels: int = 64,
                 *, thickness_nm: float = 0.0) -> np.ndarray:
    """Binary filler mask of one plane: no blur, no noise.

    Args:
        structure: a dict with ``centres``, ``radii``, ``box_nm`` (as from :func:`filler_structure`).
        point: 3D centre of the field of view in nm (wrapped into the periodic box).
        normal: plane normal (any length but zero).
        field_nm: side of the square field of view in nm (at most ``box_nm``).
        pixels: image side in pixels (>= 8); pixel centres sample the plane.
        thickness_nm: slab thickness; 0 is an ideal cut (see the module docstring).

    Returns:
        bool ``(pixels, pixels)``: True where the pixel centre lies in filler.

    Example:
        A sphere of radius 30 nm cut 18 nm from its centre shows a disc of radius 24 nm:

        >>> one = {"centres": np.array([[100.0, 100.0, 100.0]]), "radii": np.array([30.0]), "box_nm": 200.0}
        >>> mask = render_plane(one, (100, 100, 118), (0, 0, 1), field_nm=100.0, pixels=64)
        >>> mask.shape, round(float(mask.sum() * (100 / 64) ** 2 / (np.pi * 24**2)), 2)
        ((64, 64), 0.99)
    """
    slicer = _Slicer(structure, field_nm, pixels, thickness_nm)
    point = np.mod(np.asarray(point, np.float64).reshape(3), slicer.box)
    normal = np.asarray(normal, np.float64).reshape(3)
    norm = np.linalg.norm(normal)
    if not np.isfinite(norm) or norm == 0:
        raise ValueError(f"normal must be a non-zero 3-vector, got {normal}")
    return slicer.render(point, normal / norm)


def slice_images(structure: dict[str, Any], n: int, *, field_nm: float = 500.0, pixels: int = 64,
                 thickness_nm: float = 0.0, blur_px: float = 0.7, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """Microscope-like images of ``n`` random planar sections through a filler structure.

    Args:
        structure: the dict returned by :func:`filler_structure`.
        n: number of slices.
        field_nm: side of the square field of view in nm (the paper: 250, 500, 1000); at most the box.
        pixels: image side in pixels (>= 8).
        thickness_nm: slab thickness (0: ideal cut; > 0: projection through a TEM section).
        blur_px: Gaussian blur sigma in pixels (0: none).
        noise: standard deviation of the additive Gaussian noise.
        seed: the same seed gives the same planes and noise.

    Returns:
        float32 ``(n, pixels, pixels)`` in [0, 1]: filler ~0.8 on rubber ~0.25, blurred, noisy.

    Example:
        >>> from helpers.data.synthetic.filler.structure import filler_structure
        >>> s = filler_structure("random", box_nm=400.0, seed=0)
        >>> x = slice_images(s, 3, field_nm=250.0, pixels=32, seed=2)
        >>> x.shape, x.dtype, bool(0 <= x.min() and x.max() <= 1)
        ((3, 32, 32), dtype('float32'), True)
    """
    n = check_positive_int(n, "n")
    blur_px = check_number(blur_px, "blur_px", 0.0, 50.0)
    noise = check_number(noise, "noise", 0.0, 1.0)
    slicer = _Slicer(structure, field_nm, pixels, thickness_nm)
    rng = np.random.default_rng(seed)
    normals = _unit_vectors(rng, n)
    points = rng.uniform(0.0, slicer.box, (n, 3))
    images = np.empty((n, slicer.pixels, slicer.pixels), np.float32)
    near = slicer.tree.query_ball_point(points, slicer.reach) if slicer.tree is not None else [None] * n
    for i in range(n):
        images[i] = np.where(slicer.render(points[i], normals[i], near[i]), _FILLER, _RUBBER)
    if blur_px > 0:
        images = ndimage.gaussian_filter(images, (0, blur_px, blur_px), mode="reflect")
    if noise > 0:
        images += rng.normal(0.0, noise, images.shape).astype(np.float32)
    return np.clip(images, 0.0, 1.0, out=images)
