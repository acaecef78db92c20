"""Hard spheres in a periodic cubic box: the packing every filler morphology is built in.

Radii are drawn from a truncated lognormal law until they fill the planned volume; :class:`_Packing`
keeps the placed spheres in a cell list, answers overlap queries (minimum-image distances; conflicts
inside a batch of proposals found with a periodic :class:`scipy.spatial.cKDTree`, the earlier proposal
winning) and places spheres by random sequential addition, relaxing the contact tolerance when
placement stalls near the packing limit.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

_CONTACT_TOL = 0.01          # centres may approach (1 - tol) * (r_i + r_j)
_TOL_STEP = 0.05             # tolerance increase after two stalled placement rounds ...
_STALL_RATE = 0.01           # ... rounds in which fewer than this fraction of random proposals were free


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
