"""Synthetic 3D silica-filler structures in rubber: the paper's three morphologies.

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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from helpers.core.checks import check_choice, check_number
from helpers.data.synthetic.filler.packing import _Packing, _draw_radii, _unit_vectors

MORPHOLOGIES = ("random", "dispersed", "aggregated")
#: The names the paper uses for the three classes.
PAPER_NAMES = {"random": "Rnd", "dispersed": "M-SBR", "aggregated": "n-SBR"}

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
