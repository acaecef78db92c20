"""Synthetic 3D silica-filler structures in rubber and the 2D slices the filler paper classifies.

The paper classifies 2D slices of 3D filler structures into three classes: end-modified SBR
(**M-SBR**, well dispersed, small aggregates), unmodified SBR (**n-SBR**, large branched aggregates)
and randomly placed particles (**Rnd**). Its structures are not public, so the course builds all
three here and cuts them the way the paper does: planes at random positions and orientations,
square fields of view of (250 nm)^2, (500 nm)^2 or (1000 nm)^2.

Design:

* **One particle population for every class.** Polydisperse spheres, radii from a lognormal law
  truncated to ``radius_nm`` (median ``sqrt(lo * hi)``, log-spread ``ln(hi / lo) / 4``; 8-14 nm by
  default, i.e. 16-28 nm silica primary particles), drawn *first* from the seeded generator until
  their summed volume reaches ``volume_fraction * box^3``. With one seed the three morphologies
  therefore hold exactly the same radii and the same volume fraction (15 % by default, about 95 000
  spheres in the default 1500-nm box); only the arrangement differs, which is what makes small
  fields of view hard to tell apart.
* **Periodic cubic box** of side ``box_nm`` (1500 nm, so a 1000-nm field still fits), hard spheres:
  two centres may not come closer than ``(1 - tol) * (r_i + r_j)`` with ``tol = 0.01`` (touching
  particles of an aggregate sit exactly at contact, so ``volume_fraction`` is exact). Overlap checks
  use a cell list (cells at least one largest diameter wide, the 27 neighbouring cells searched,
  minimum-image distances); conflicts inside a batch of simultaneous proposals are found with a
  periodic :class:`scipy.spatial.cKDTree` and the earlier proposal wins. Random sequential addition
  of hard spheres jams near 0.38 and slows down well before; whenever fewer than 1 % of random
  proposals are free in two rounds running, ``tol`` grows by 0.05 (returned as
  ``overlap_tolerance``). At the default 15 % this never happens; at 0.3-0.5 it does, and the
  generator takes several seconds to tens of seconds.
* ``"random"`` (Rnd): random sequential addition. Every sphere gets a uniform random centre;
  rejected ones are redrawn until all are placed.
* ``"dispersed"`` (M-SBR): aggregates of 2-6 particles (uniform, mean 4), each a random walk of
  touching spheres grown in place (the next particle touches the previous one in a random direction;
  after 8 failed tries it may touch any member). The aggregates' first particles are placed as
  hard-ish objects: random sequential addition with an exclusion sphere per aggregate, sized so that
  the exclusion spheres fill 20 % of the box (radius about 19 nm at the defaults), which spreads the
  small aggregates evenly.
* ``"aggregated"`` (n-SBR): large branched fractal aggregates, sizes lognormal (median 150
  particles, log-spread 0.6, clipped to 30-600), grown in place from random seeds by tunable
  particle-cluster aggregation (Filippov, Zurita & Rosner 2000): each new particle touches a random
  existing particle of its aggregate, at the distance from the aggregate's centre of mass that keeps
  ``N = k_f (R_g / a)^D_f`` with ``D_f = 2.2`` and ``k_f = 2.0`` (``a`` the median radius; ``k_f = 2``
  makes a touching pair exact); the contact point is random on the circle where that distance is
  met, and overlaps are rejected and retried. The realised fractal dimension (N against R_g over the
  aggregates) is 2.2. Fractal aggregates are sparse inside but, at the same 15 % loading, they
  gather the silica into branched clusters a few hundred nm across and leave large particle-free
  voids: the filler is heterogeneous well beyond the particle scale.
* Growth is vectorised over aggregates: every step proposes new particles for all unfinished
  aggregates at once (n-SBR: up to an eighth of an aggregate's size per step). An aggregate that
  fails 20 steps in a row continues from a new free seed (so the planned volume fraction is always
  reached; this splits a few per cent of the aggregates); an n-SBR aggregate that fails 10 steps
  in a row drops the fractal-law distance and attaches anywhere on its members.

Slices: a plane has a unit normal uniform on the sphere and a point uniform in the box; the field of
view is a ``field_nm`` square centred on that point, spanned by an orthonormal in-plane basis. A pixel
is filler if its 3D position lies inside a sphere (periodic images included), i.e. a sphere at
distance ``d`` from the plane cuts a disc of radius ``sqrt(r^2 - d^2)``. With ``thickness_nm > 0``
the image is the projection of a slab of that thickness (a TEM section): a sphere whose centre lies
in the slab shows its full radius. Filler is bright (0.8) on dark rubber (0.25), then a Gaussian
blur and Gaussian noise are applied. Because pixels sample points, the mean filler area fraction of
many slices equals the volume fraction (stereology: A_A = V_V).

Every random number comes from one ``np.random.default_rng(seed)``, so a seed gives the same
structure, the same slices and the same data set.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..checks import check_choice, check_number, check_positive_int, check_seed
from ..sweeps import config_key

MORPHOLOGIES = ("random", "dispersed", "aggregated")
#: The names the paper uses for the three classes.
PAPER_NAMES = {"random": "Rnd", "dispersed": "M-SBR", "aggregated": "n-SBR"}

_CONTACT_TOL = 0.01          # centres may approach (1 - tol) * (r_i + r_j)
_TOL_STEP = 0.05             # tolerance increase after two stalled placement rounds ...
_STALL_RATE = 0.01           # ... rounds in which fewer than this fraction of random proposals were free
_DISPERSED_SIZES = (2, 6)    # particles per M-SBR aggregate (uniform)
_DISPERSED_EXCLUSION = 0.20  # volume fraction filled by the aggregates' exclusion spheres
_WALK_FAILS = 8              # after this many failures a walk may attach to any member
_AGGREGATED_MEDIAN = 150     # n-SBR aggregate size: lognormal median ...
_AGGREGATED_SIGMA = 0.6      # ... log-spread ...
_AGGREGATED_SIZES = (30, 600)  # ... clipped to this range
_AGGREGATED_DF = 2.2         # fractal dimension D_f ...
_AGGREGATED_KF = 2.0         # ... and prefactor k_f of the n-SBR aggregates: N = k_f (R_g / a)^D_f
_PARENT_TRIES = 6            # n-SBR: random members tried per proposal for one that reaches the target distance
_DEAD_FAILS = 6              # a member that failed this often as a parent is treated as buried
_FREE_AFTER = 10             # n-SBR: failures after which the fractal-law distance is dropped
_MAX_FAILS = 20              # consecutive growth failures before an aggregate moves to a new seed
_FILLER, _RUBBER = 0.8, 0.25


def _unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` directions uniform on the unit sphere."""
    z = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2 * np.pi, n)
    s = np.sqrt(1.0 - z * z)
    return np.column_stack([s * np.cos(phi), s * np.sin(phi), z])


def _draw_radii(rng: np.random.Generator, target_volume: float, lo: float, hi: float) -> np.ndarray:
    """Truncated-lognormal radii, drawn until their summed sphere volume reaches ``target_volume``."""
    median, sigma = np.sqrt(lo * hi), np.log(hi / lo) / 4.0
    out: list[np.ndarray] = []
    total = 0.0
    while total < target_volume:
        n = int(1.2 * (target_volume - total) / (4 / 3 * np.pi * median**3)) + 16
        r = np.exp(rng.normal(np.log(median), sigma, n)) if sigma > 0 else np.full(n, median)
        r = r[(r >= lo) & (r <= hi)]
        out.append(r)
        total += float((4 / 3 * np.pi * r**3).sum())
    radii = np.concatenate(out)
    cum = np.cumsum(4 / 3 * np.pi * radii**3)
    return radii[: int(np.searchsorted(cum, target_volume)) + 1]


class _Packing:
    """Spheres in a periodic box with a cell list for overlap queries.

    Cells are at least one largest diameter wide, so an overlapping pair lies in neighbouring cells.
    Each cell keeps its spheres' centres (float32, in the cell-major array ``cpos``) and radii; a
    query visits the 27 neighbouring cells slot by slot, testing only occupied slots, with
    minimum-image distances.
    """

    _FAR = 1e7  # centre of an empty slot: never within reach

    def __init__(self, box: float, rmax: float, capacity: int = 1024, tol: float = _CONTACT_TOL):
        self.box, self.rmax, self.tol = float(box), float(rmax), float(tol)
        self.n = max(1, int(box // (2 * rmax)))  # (below 3 cells the 27 neighbours repeat: harmless)
        self.cell = self.box / self.n
        self.cpos = np.full((self.n**3, 2, 3), self._FAR, np.float32)
        self.crad = np.zeros((self.n**3, 2), np.float32)
        self.counts = np.zeros(self.n**3, np.int32)
        self._neighbours = ((np.arange(self.n)[:, None] + np.array([-1, 0, 1])) % self.n).astype(np.int32)
        self.pos = np.zeros((capacity, 3))
        self.rad = np.zeros(capacity)
        self.label = np.zeros(capacity, np.int64)
        self.size = 0

    def _cell_ijk(self, p: np.ndarray) -> np.ndarray:
        return np.minimum((p * (1.0 / self.cell)).astype(np.int64), self.n - 1)

    def _flat(self, ijk: np.ndarray) -> np.ndarray:
        return (ijk[..., 0] * self.n + ijk[..., 1]) * self.n + ijk[..., 2]

    def wrap(self, p: np.ndarray) -> np.ndarray:
        p = np.mod(p, self.box)
        p[p >= self.box] = 0.0  # np.mod of a tiny negative number can round up to box
        return p

    def _hits_existing(self, p: np.ndarray, r: np.ndarray) -> np.ndarray:
        out = np.zeros(len(p), bool)
        if self.size == 0 or len(p) == 0:
            return out
        n, width = self.n, self.cpos.shape[1]
        ijk = self._cell_ijk(p).astype(np.int32)
        nx, ny, nz = (self._neighbours[ijk[:, k]] for k in range(3))  # (B, 3) each, wrapped
        nb = ((nx[:, :, None, None] * n + ny[:, None, :, None]) * n + nz[:, None, None, :]).reshape(-1)
        cnt = self.counts[nb]
        p32, r32 = p.astype(np.float32), r.astype(np.float32)
        cpos, crad = self.cpos.reshape(-1, 3), self.crad.reshape(-1)
        box, inv, scale = np.float32(self.box), np.float32(1.0 / self.box), np.float32(1.0 - self.tol)
        for slot in range(int(cnt.max())):  # slot by slot: the occupied (candidate, neighbour cell) pairs
            sel = np.flatnonzero(cnt > slot)
            cand = sel // 27
            where = nb[sel] * width + slot
            d = cpos[where] - p32[cand]
            d -= box * np.rint(d * inv)  # minimum image
            lim = (crad[where] + r32[cand]) * scale
            out[cand[np.einsum("ij,ij->i", d, d) < lim * lim]] = True
        return out

    def _hits_batch(self, p: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Proposals that conflict with an *earlier* proposal of the same batch."""
        out = np.zeros(len(p), bool)
        if len(p) < 2:
            return out
        pairs = cKDTree(p, boxsize=self.box).query_pairs(2 * self.rmax, output_type="ndarray")
        if len(pairs) == 0:
            return out
        i, j = pairs[:, 0], pairs[:, 1]
        d = p[i] - p[j]
        d -= self.box * np.rint(d / self.box)
        lim = (r[i] + r[j]) * (1.0 - self.tol)
        bad = np.einsum("ij,ij->i", d, d) < lim * lim
        out[np.maximum(i, j)[bad]] = True
        return out

    def free(self, p: np.ndarray, r: np.ndarray) -> np.ndarray:
        """True where a proposed sphere overlaps neither a placed sphere nor an earlier proposal."""
        if self.tol >= 1.0:
            return np.ones(len(p), bool)
        ok = np.flatnonzero(~self._hits_existing(p, r))
        # Batch conflicts only among those still in the running (earlier one wins).
        ok = ok[~self._hits_batch(p[ok], r[ok])]
        out = np.zeros(len(p), bool)
        out[ok] = True
        return out

    def add(self, p: np.ndarray, r: np.ndarray, label: np.ndarray) -> np.ndarray:
        """Append spheres; returns their indices."""
        k = len(p)
        if self.size + k > len(self.pos):
            cap = max(2 * len(self.pos), self.size + k)
            for name in ("pos", "rad", "label"):
                old = getattr(self, name)
                new = np.zeros((cap, *old.shape[1:]), old.dtype)
                new[: self.size] = old[: self.size]
                setattr(self, name, new)
        idx = np.arange(self.size, self.size + k)
        self.pos[idx], self.rad[idx], self.label[idx] = p, r, label
        self.size += k
        if k == 0:
            return idx
        cid = self._flat(self._cell_ijk(p))
        order = np.argsort(cid, kind="stable")
        sc = cid[order]
        first = np.r_[True, sc[1:] != sc[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(k), 0))
        slot = self.counts[sc] + np.arange(k) - start
        width = self.cpos.shape[1]
        if slot.max() >= width:
            extra = int(slot.max()) + 1 - width
            self.cpos = np.concatenate([self.cpos, np.full((len(self.cpos), extra, 3), self._FAR, np.float32)], 1)
            self.crad = np.concatenate([self.crad, np.zeros((len(self.crad), extra), np.float32)], 1)
        self.cpos[sc, slot] = p[order]
        self.crad[sc, slot] = r[order]
        starts = np.flatnonzero(first)
        self.counts[sc[starts]] += np.diff(np.r_[starts, k]).astype(np.int32)
        return idx

    def place_random(self, r: np.ndarray, label: np.ndarray, rng: np.random.Generator,
                     exclusion: _Packing | None = None, exclusion_radius: float = 0.0) -> np.ndarray:
        """Random sequential addition of all spheres ``r``; returns their indices in input order.

        Each round proposes a random centre for every sphere still waiting (several per sphere once
        few are left; the first free one wins). With ``exclusion``, each centre must also keep
        ``2 * exclusion_radius`` from the centres already in ``exclusion`` (and is added there too).
        """
        out = np.empty(len(r), np.int64)
        pending = np.arange(len(r))
        stalls = 0
        while len(pending):
            reps = max(1, min(64, 4096 // len(pending)))
            cand = np.tile(pending, reps)
            p = self.wrap(rng.uniform(0.0, self.box, (len(cand), 3)))
            ok = self.free(p, r[cand])
            if exclusion is not None:
                ok &= exclusion.free(p, np.full(len(p), exclusion_radius))
            rate = float(ok.mean())
            if reps > 1:  # keep the first free proposal of each sphere
                okr = ok.reshape(reps, -1)
                first = np.argmax(okr, axis=0)
                chosen = okr[first, np.arange(len(pending))]
                sel = first[chosen] * len(pending) + np.flatnonzero(chosen)
                ok = np.zeros_like(ok)
                ok[sel] = True
            which = cand[ok]
            if exclusion is not None:
                exclusion.add(p[ok], np.full(len(which), exclusion_radius), label[which])
            out[which] = self.add(p[ok], r[which], label[which])
            # Stalled (near the packing limit): relax the hard-sphere rule a little.
            stalls = stalls + 1 if rate < _STALL_RATE else 0
            if stalls >= 2:
                stalls = 0
                for pk in (self, exclusion):
                    if pk is not None:
                        pk.tol = min(1.0, pk.tol + _TOL_STEP)
            placed = np.zeros(len(r), bool)
            placed[which] = True
            pending = pending[~placed[pending]]
        return out


def _grow(pack: _Packing, radii: np.ndarray, sizes: np.ndarray, seeds: np.ndarray, walk: bool,
          rng: np.random.Generator) -> None:
    """Grow aggregates in place from their placed first particles.

    ``radii`` holds every planned radius, aggregate after aggregate (``sizes`` of them each; it is
    reordered within an aggregate as particles are placed); ``seeds`` the indices in ``pack`` of the
    first particles.

    ``walk=True`` (M-SBR): one proposal per aggregate and step, touching the last particle in a
    random direction (a random walk of touching spheres).

    ``walk=False`` (n-SBR): tunable particle-cluster aggregation (Filippov et al. 2000). A new
    particle touches a random member and lies at the distance ``G`` from the aggregate's centre of
    mass that keeps the aggregate on the fractal law ``N = k_f (R_g / a)^D_f``; it sits on the circle
    where the sphere of radius ``G`` around the centre meets the contact sphere of the member (``G``
    clipped to the nearest reachable distance). Each step places up to an eighth of the aggregate's
    size (at least 4), proposing more when the last step's acceptance was low; members that failed often as
    parents count as buried and are not drawn again.
    """
    n_agg = len(sizes)
    offset = np.r_[0, np.cumsum(sizes)[:-1]]
    members = np.full((n_agg, int(sizes.max())), -1, np.int64)
    members[:, 0] = seeds
    mcount = np.ones(n_agg, np.int64)       # members of the current (possibly relocated) aggregate
    placed = np.ones(n_agg, np.int64)       # planned particles placed so far
    fails = np.zeros(n_agg, np.int64)
    blocked = np.zeros(len(radii), np.int64)  # failed proposals per particle (as a parent)
    label = np.arange(n_agg)
    next_label = n_agg
    # Unwrapped member positions and per-aggregate sums (centre of mass, radius of gyration).
    upos = np.zeros((len(radii), 3))
    upos[seeds] = pack.pos[seeds]
    s1, s2 = pack.pos[seeds].copy(), (pack.pos[seeds] ** 2).sum(1)
    a_median = float(np.exp(np.log(radii).mean()))
    active = np.flatnonzero(placed < sizes)
    accept = 1.0  # acceptance of the last step: cluster growth proposes enough to place its share
    while len(active):
        a = active
        remaining = sizes[a] - placed[a]
        if walk:
            m = np.ones(len(a), np.int64)
        else:
            want = np.minimum(remaining, np.maximum(4, mcount[a] // 8))
            m = np.ceil(want / max(accept, 0.05) * max(1.0, 256 / want.sum())).astype(np.int64)
            m = np.minimum(m, 16 * want)
        rep = np.repeat(a, m)
        j = np.arange(len(rep)) - np.repeat(np.cumsum(m) - m, m)     # proposal number within its aggregate
        # Proposal j tries the j-th pending radius of its aggregate (cycling through this step's share).
        where = offset[rep] + placed[rep] + j % np.repeat(remaining if walk else want, m)
        rn = radii[where]
        direction = _unit_vectors(rng, len(rep))
        if walk:
            slot = mcount[a] - 1
            anywhere = fails[a] >= _WALK_FAILS
            slot[anywhere] = (rng.random(int(anywhere.sum())) * mcount[a][anywhere]).astype(np.int64)
            parent = members[a, slot]
            contact = pack.rad[parent] + rn
            up = upos[parent] + contact[:, None] * direction
        else:
            # Distance from the centre of mass that keeps N = k_f (R_g / a)^D_f after this step's k
            # additions; a little jitter, growing with failures, keeps crowded aggregates from jamming.
            n_now = mcount[rep].astype(np.float64)
            k = np.repeat(want, m).astype(np.float64)
            centre = s1[rep] / n_now[:, None]
            rg2 = np.maximum(s2[rep] / n_now - (centre**2).sum(1), 0.0)
            target = (n_now + k) * a_median**2 * ((n_now + k) / _AGGREGATED_KF) ** (2 / _AGGREGATED_DF)
            g = np.sqrt(np.maximum(target - n_now * rg2, 0.0) / k * (n_now + k) / n_now)
            g *= np.exp(rng.normal(0.0, 1.0, len(rep)) * (0.05 + 0.05 * fails[rep]))
            # Parent: the first of a few random members that is not buried and can reach distance g
            # (else the first one not buried; proposals without one are dropped).
            tries = members[rep[:, None], (rng.random((len(rep), _PARENT_TRIES)) * n_now[:, None]).astype(np.int64)]
            alive = blocked[tries] < _DEAD_FAILS
            dist = np.sqrt(((upos[tries] - centre[:, None, :]) ** 2).sum(2))
            reach = np.abs(dist - g[:, None]) <= pack.rad[tries] + rn[:, None]
            pick = np.where((alive & reach).any(1), np.argmax(alive & reach, 1), np.argmax(alive, 1))
            keep = alive.any(1)
            parent = tries[np.arange(len(rep)), pick]
            m = np.bincount(np.searchsorted(a, rep[keep]), minlength=len(a))
            fails[a[m == 0]] = _MAX_FAILS  # nothing left to attach to: move on at once
            rep, where, rn, parent, direction, g, centre = (
                v[keep] for v in (rep, where, rn, parent, direction, g, centre))
            fails_r = fails[rep]
            contact = pack.rad[parent] + rn
            e = upos[parent] - centre
            d = np.sqrt((e**2).sum(1))
            # After _FREE_AFTER failures the distance is free: plain attachment in a random direction.
            g = np.where(fails_r >= _FREE_AFTER, d + contact * (2 * rng.random(len(rep)) - 1), g)
            g = np.clip(g, np.abs(d - contact), d + contact)
            safe = d > 1e-6 * contact
            e_hat = np.where(safe[:, None], e / np.where(safe, d, 1.0)[:, None], direction)
            t = np.where(safe, (g**2 + d**2 - contact**2) / (2 * np.where(safe, d, 1.0)), 0.0)
            rho = np.sqrt(np.maximum(g**2 - t**2, 0.0))
            perp = direction - (direction * e_hat).sum(1)[:, None] * e_hat
            perp /= np.maximum(np.sqrt((perp**2).sum(1)), 1e-12)[:, None]
            up = np.where(safe[:, None], centre + t[:, None] * e_hat + rho[:, None] * perp,
                          upos[parent] + contact[:, None] * direction)
        p = pack.wrap(up.copy())
        ok = pack.free(p, rn)
        accept = float(ok.mean()) if len(ok) else 0.0
        if not walk:
            hit, times = np.unique(parent[~ok], return_counts=True)
            blocked[hit] += times
            # Each pending radius is used once: keep its first free proposal.
            first = np.zeros_like(ok)
            first[np.flatnonzero(ok)[np.unique(where[ok], return_index=True)[1]]] = True
            ok = first
        good = rep[ok]
        n_ok = np.bincount(good, minlength=n_agg)
        rank = np.arange(len(good)) - np.repeat(np.cumsum(n_ok[a]) - n_ok[a], n_ok[a])
        new = pack.add(p[ok], rn[ok], label[good])
        members[good, mcount[good] + rank] = new
        upos[new] = up[ok]
        for axis in range(3):
            s1[:, axis] += np.bincount(good, up[ok][:, axis], minlength=n_agg)
        s2 += np.bincount(good, (up[ok] ** 2).sum(1), minlength=n_agg)
        if not walk:  # used radii move to the front of each aggregate's pending window (stable partition)
            win = np.repeat(offset[a] + placed[a], want) + (
                np.arange(int(want.sum())) - np.repeat(np.cumsum(want) - want, want))
            used = np.zeros(len(radii), bool)
            used[where[ok]] = True
            radii[win] = radii[win[np.lexsort((win, ~used[win], np.repeat(a, want)))]]
        mcount += n_ok
        placed += n_ok
        fails[a] = np.where(n_ok[a] > 0, 0, np.minimum(fails[a] + 1, _MAX_FAILS))
        stuck = a[fails[a] >= _MAX_FAILS]
        if len(stuck):  # continue the aggregate from a new free seed
            label[stuck] = np.arange(next_label, next_label + len(stuck))
            next_label += len(stuck)
            seed_idx = pack.place_random(radii[offset[stuck] + placed[stuck]], label[stuck], rng)
            members[stuck, 0] = seed_idx
            upos[seed_idx] = pack.pos[seed_idx]
            s1[stuck], s2[stuck] = pack.pos[seed_idx], (pack.pos[seed_idx] ** 2).sum(1)
            mcount[stuck] = 1
            placed[stuck] += 1
            fails[stuck] = 0
        active = np.flatnonzero(placed < sizes)


def _split_sizes(n_particles: int, sizes: np.ndarray) -> np.ndarray:
    """Cut ``sizes`` so they sum to ``n_particles`` (the last aggregate takes the remainder)."""
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, n_particles))
    out = sizes[: k + 1].copy()
    out[-1] = n_particles - (cum[k - 1] if k else 0)
    return out[out > 0]


def filler_structure(morphology: str, *, box_nm: float = 1500.0, volume_fraction: float = 0.15,
                     radius_nm: tuple[float, float] = (8.0, 14.0), seed: int = 0) -> dict[str, Any]:
    """Polydisperse silica spheres in a periodic cubic box, arranged as one of the paper's classes.

    Args:
        morphology: ``"random"`` (Rnd), ``"dispersed"`` (M-SBR) or ``"aggregated"`` (n-SBR); see the
            module docstring for how each is built.
        box_nm: side of the periodic cube in nm (at least 10 maximum radii).
        volume_fraction: summed sphere volume over box volume, in (0, 0.5].
        radius_nm: ``(smallest, largest)`` particle radius in nm (truncated lognormal in between).
        seed: the same seed gives the same structure (and the same radii for every morphology).

    Returns:
        ``centres`` float32 ``(M, 3)`` in ``[0, box_nm)``; ``radii`` float32 ``(M,)``; ``aggregate``
        int64 ``(M,)`` aggregate labels (every sphere its own for ``"random"``); ``box_nm``;
        ``volume_fraction`` achieved (overlaps counted twice, they are tiny);
        ``overlap_tolerance`` (centres keep at least ``(1 - tol) * (r_i + r_j)``); ``morphology``.

    Example:
        >>> s = filler_structure("aggregated", box_nm=400.0, seed=1)
        >>> s["centres"].shape[1], s["centres"].dtype, round(s["volume_fraction"], 2)
        (3, dtype('float32'), 0.15)
    """
    check_choice(morphology, "morphology", MORPHOLOGIES)
    volume_fraction = check_number(volume_fraction, "volume_fraction", 0.0, 0.5, low_open=True)
    try:
        lo, hi = (float(v) for v in radius_nm)
    except (TypeError, ValueError):
        raise ValueError(f"radius_nm must be a pair (smallest, largest) of radii in nm, got {radius_nm!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"radius_nm must satisfy 0 < smallest <= largest, got {radius_nm!r}")
    box_nm = check_number(box_nm, "box_nm", 0.0, np.inf, low_open=True, high_open=True)
    if box_nm < 10 * hi:
        raise ValueError(f"box_nm must be at least 10 largest radii ({10 * hi:g} nm), got {box_nm:g}")
    rng = np.random.default_rng(seed)
    radii = _draw_radii(rng, volume_fraction * box_nm**3, lo, hi)
    n = len(radii)
    pack = _Packing(box_nm, hi, capacity=n)
    if morphology == "random":
        pack.place_random(radii, np.arange(n), rng)
    else:
        if morphology == "dispersed":
            sizes = rng.integers(_DISPERSED_SIZES[0], _DISPERSED_SIZES[1] + 1, n)
        else:
            sizes = np.exp(rng.normal(np.log(_AGGREGATED_MEDIAN), _AGGREGATED_SIGMA, n // _AGGREGATED_SIZES[0] + 1))
            sizes = np.clip(np.rint(sizes), *_AGGREGATED_SIZES).astype(np.int64)
        sizes = _split_sizes(n, sizes)
        first = np.r_[0, np.cumsum(sizes)[:-1]]
        labels = np.arange(len(sizes))
        if morphology == "dispersed":
            # Exclusion spheres (radius a) of all aggregates fill _DISPERSED_EXCLUSION of the box.
            a = max(hi, (_DISPERSED_EXCLUSION * box_nm**3 / (len(sizes) * 4 / 3 * np.pi)) ** (1 / 3))
            excl = _Packing(box_nm, a, capacity=len(sizes))
            seeds = pack.place_random(radii[first], labels, rng, exclusion=excl, exclusion_radius=a)
        else:
            seeds = pack.place_random(radii[first], labels, rng)
        _grow(pack, radii, sizes, seeds, walk=morphology == "dispersed", rng=rng)
    m = pack.size
    r = pack.rad[:m]
    return {
        "centres": np.minimum(pack.pos[:m].astype(np.float32), np.nextafter(np.float32(box_nm), np.float32(0))),
        "radii": r.astype(np.float32),
        "aggregate": pack.label[:m].copy(),
        "box_nm": float(box_nm),
        "volume_fraction": float((4 / 3 * np.pi * r**3).sum() / box_nm**3),
        "overlap_tolerance": float(pack.tol),
        "morphology": morphology,
    }


# ----------------------------------------------------------------------------------------------------------
# Slicing


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


_BLOCK = 200  # slices per parallel task; block seeds do not depend on the number of workers
_STRUCTURES: dict[tuple[Any, ...], dict[str, Any]] = {}  # built structures, reused by later data sets
_STRUCTURES_KEPT = 64


def _build_structure(args: tuple[str, int, dict[str, Any]]) -> dict[str, Any]:
    morph, seed, kwargs = args
    return filler_structure(morph, seed=seed, **kwargs)


def _slice_block(args: tuple[dict[str, Any], int, float, int, int, dict[str, Any]]) -> np.ndarray:
    structure, n, field_nm, pixels, seed, kwargs = args
    return slice_images(structure, n, field_nm=field_nm, pixels=pixels, seed=seed, **kwargs)


def _pool_map(fn: Any, tasks: list[Any], workers: int) -> list[Any]:
    """``map`` in ``workers`` processes (forkserver: safe in a kernel that already runs torch threads)."""
    if workers <= 1 or len(tasks) <= 1:
        return [fn(a) for a in tasks]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=mp.get_context(method)) as pool:
        return list(pool.map(fn, tasks))


def filler_dataset(n_per_class: int, *, field_nm: float, pixels: int = 64, seed: int = 0,
                   structures_per_class: int = 2, structure_kwargs: dict[str, Any] | None = None,
                   workers: int = 1, **slice_kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """A shuffled, labelled set of slices of the three morphologies.

    Args:
        n_per_class: slices per class.
        field_nm: side of the field of view in nm (the paper's 250, 500 or 1000).
        pixels: image side in pixels.
        seed: the same seed gives the same structures, slices and order (whatever ``workers`` is).
        structures_per_class: independent 3D structures per class; the slices are shared out evenly.
        structure_kwargs: extra arguments of :func:`filler_structure` (``box_nm``, ``volume_fraction``,
            ``radius_nm``).
        workers: processes that build structures and cut slices (a (1000 nm)^2 field costs about
            10 ms per 64-px slice on one core, so tens of thousands of slices want several).
        **slice_kwargs: extra arguments of :func:`slice_images` (``thickness_nm``, ``blur_px``, ``noise``).

    Returns:
        ``images`` float32 ``(3 * n_per_class, pixels, pixels)`` and ``labels`` int64 in
        ``MORPHOLOGIES`` order (0 random/Rnd, 1 dispersed/M-SBR, 2 aggregated/n-SBR).

    Example:
        >>> x, y = filler_dataset(4, field_nm=250.0, pixels=32, structures_per_class=1,
        ...                       structure_kwargs={"box_nm": 400.0})
        >>> x.shape, y.dtype, np.bincount(y).tolist()
        ((12, 32, 32), dtype('int64'), [4, 4, 4])
    """
    n_per_class = check_positive_int(n_per_class, "n_per_class")
    structures_per_class = check_positive_int(structures_per_class, "structures_per_class")
    workers = check_positive_int(workers, "workers")
    structure_kwargs = dict(structure_kwargs or {})
    for bad in ("morphology", "seed"):
        if bad in structure_kwargs:
            raise ValueError(f"structure_kwargs must not set {bad!r}; it is chosen per structure")
    for bad in ("n", "seed", "field_nm", "pixels"):
        if bad in slice_kwargs:
            raise ValueError(f"slice_kwargs must not set {bad!r}")
    rng = np.random.default_rng(check_seed(seed))
    plan = []  # (class, structure seed, slice seed, slices) per structure
    for c in range(len(MORPHOLOGIES)):
        counts = np.full(structures_per_class, n_per_class // structures_per_class)
        counts[: n_per_class % structures_per_class] += 1
        for m in counts:
            s_seed, i_seed = (int(v) for v in rng.integers(0, 2**31, 2))
            if m:
                plan.append((c, s_seed, i_seed, int(m)))
    # The structures depend on the seed, not on the field of view: data sets of several fields from one
    # seed share them, and building them is the slow part for small fields.
    keys = [(MORPHOLOGIES[c], s, config_key(structure_kwargs)) for c, s, _, _ in plan]
    missing = sorted({k for k in keys if k not in _STRUCTURES})
    built = dict(zip(missing, _pool_map(_build_structure, [(m, sd, structure_kwargs) for m, sd, _ in missing],
                                        workers)))
    structures = [built[k] if k in built else _STRUCTURES[k] for k in keys]
    for k, s in built.items():
        if len(_STRUCTURES) >= _STRUCTURES_KEPT:
            _STRUCTURES.pop(next(iter(_STRUCTURES)))
        _STRUCTURES[k] = s
    # Check the cut before any worker is busy for minutes.
    _check_slicing(structures[0], field_nm, pixels, slice_kwargs.get("thickness_nm", 0.0))
    tasks, labels = [], []
    for (c, _, i_seed, m), structure in zip(plan, structures):
        sizes = [min(_BLOCK, m - j) for j in range(0, m, _BLOCK)]
        seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(i_seed).spawn(len(sizes))]
        tasks += [(structure, k, float(field_nm), pixels, s, slice_kwargs) for k, s in zip(sizes, seeds)]
        labels.append(np.full(m, c, np.int64))
    x, y = np.concatenate(_pool_map(_slice_block, tasks, workers)), np.concatenate(labels)
    order = rng.permutation(len(y))
    return x[order], y[order]


def plot_filler_examples(field_sizes: tuple[float, ...] = (250, 500, 1000), pixels: int = 64, seed: int = 0):
    """One slice per class (rows) and field of view (columns), like the paper's example figure.

    Args:
        field_sizes: fields of view in nm (each at most the default 1500-nm box).
        pixels: image side in pixels.
        seed: the same seed gives the same figure.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    field_sizes = tuple(field_sizes)
    if not field_sizes:
        raise ValueError("field_sizes must name at least one field of view")
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(MORPHOLOGIES), len(field_sizes), figsize=(2.4 * len(field_sizes) + 0.6, 7.6),
                             squeeze=False)
    for i, morph in enumerate(MORPHOLOGIES):
        s = filler_structure(morph, seed=int(rng.integers(0, 2**31)))
        for j, f in enumerate(field_sizes):
            img = slice_images(s, 1, field_nm=float(f), pixels=pixels, seed=int(rng.integers(0, 2**31)))[0]
            ax = axes[i, j]
            ax.imshow(img, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"({f:g} nm)$^2$", fontsize=10)
            if j == 0:
                ax.set_ylabel(f"{PAPER_NAMES[morph]}\n({morph})", fontsize=10)
    fig.tight_layout()
    return fig
