"""Notebook 05's claims from per-seed values, and the sentences and tables that report them.

The sweep trains every kernel setting with several seeds (:class:`~helpers.papers.dcn_kernel_tuning.runs.DCNRuns`),
so each claim rests on per-seed values that :func:`helpers.core.claims.measured_claim` turns into an effect
with an interval:

* the paper's change (the worst branch's kernel reduced) against (4, 8, 16): paired seeds
  (:func:`seed_values`);
* "a smaller kernel gives a higher-contrast map" (data set A): per seed and per branch, the Spearman
  correlation of the branch's kernel with its map's contrast over the settings that change **that branch
  alone** (:func:`one_factor_settings`, :func:`per_seed_branch_spearman`); the seed's effect is the mean
  over branches;
* the searches: each seed's best IoU of the contrast-guided choice against Optuna's.

:func:`claim_sentence` and :func:`claims_table` print them, so the text beside the numbers comes from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from helpers.papers.dcn_kernel_tuning.runs import run_key
from helpers.papers.dcn_kernel_tuning.study import PAPER_TABLE1_BASELINE, kernel_contrast_spearman

__all__ = ["claim_sentence", "claims_table", "contrast_by_kernel", "one_factor_settings", "per_seed_branch_spearman",
           "seed_values"]


def _k3(k: Any) -> tuple[int, int, int]:
    ks = tuple(int(v) for v in k)
    if len(ks) != 3:
        raise ValueError(f"kernels must be (k1, k2, k3), got {k!r}")
    return ks  # type: ignore[return-value]


def one_factor_settings(settings: Iterable[Any], base: Sequence[int] = PAPER_TABLE1_BASELINE
                        ) -> dict[int, list[tuple[int, int, int]]]:
    """Per branch (0, 1, 2), ``base`` and the settings that differ from it in that branch's kernel alone,
    sorted by that kernel.

    Example:
        >>> s = [(4, 8, 16), (4, 8, 10), (2, 8, 16), (2, 4, 10), (4, 8, 20)]
        >>> one_factor_settings(s)
        {0: [(2, 8, 16), (4, 8, 16)], 1: [(4, 8, 16)], 2: [(4, 8, 10), (4, 8, 16), (4, 8, 20)]}
    """
    base = _k3(base)
    out: dict[int, list[tuple[int, int, int]]] = {}
    uniq = {_k3(k) for k in settings} | {base}
    for b in range(3):
        same = [k for k in uniq if all(k[i] == base[i] for i in range(3) if i != b)]
        out[b] = sorted(same, key=lambda k: k[b])
    return out


def seed_values(rows: Mapping[str, Mapping[str, Any]], kernels: Any, seeds: Sequence[int], key: str = "iou"
                ) -> np.ndarray:
    """``rows[run_key(kernels, s)][key]`` for each seed, as a float64 array (KeyError names a missing run).

    Example:
        >>> seed_values({"4-8-16_s0": {"iou": 0.7}, "4-8-16_s1": {"iou": 0.8}}, (4, 8, 16), [0, 1]).tolist()
        [0.7, 0.8]
    """
    out = []
    for s in seeds:
        k = run_key(kernels, s)
        if k not in rows:
            raise KeyError(f"no training of kernels {tuple(kernels)} with seed {s} (key {k!r})")
        out.append(rows[k][key])
    return np.asarray(out, dtype=np.float64)


def per_seed_branch_spearman(rows: Mapping[str, Mapping[str, Any]], settings: Iterable[Any], seeds: Sequence[int],
                             base: Sequence[int] = PAPER_TABLE1_BASELINE, min_points: int = 3) -> np.ndarray:
    """``(n_seeds, 3)`` Spearman correlations of branch ``b``'s kernel with F_b's contrast, per seed.

    For branch ``b`` only the settings of :func:`one_factor_settings` are used (the other two kernels held
    at ``base``), so the correlation is the paper's statement, "changing **a** branch's kernel changes **its**
    map's contrast", not mixed with the other branches' changes. A branch with fewer than ``min_points``
    such settings (or no variation in contrast) gets NaN.

    Example:
        >>> rows = {run_key(k, 0): {"contrast": [0.3 - 0.01 * k[0], 0.2, 0.4 - 0.01 * k[2]]}
        ...         for k in [(2, 8, 16), (4, 8, 16), (6, 8, 16), (4, 8, 10), (4, 8, 20)]}
        >>> per_seed_branch_spearman(rows, rows and [(2, 8, 16), (6, 8, 16), (4, 8, 10), (4, 8, 20)], [0]).tolist()
        [[-1.0, nan, -1.0]]
    """
    if min_points < 2:
        raise ValueError(f"min_points must be >= 2, got {min_points}")
    groups = one_factor_settings(settings, base)
    rho = np.full((len(seeds), 3), np.nan)
    for i, s in enumerate(seeds):
        for b in range(3):
            ks = groups[b]
            if len(ks) < min_points:
                continue
            c = np.array([rows[run_key(k, s)]["contrast"] for k in ks], dtype=np.float64)
            rho[i, b] = kernel_contrast_spearman(np.array(ks), c)[b]
    return rho


def contrast_by_kernel(rows: Mapping[str, Mapping[str, Any]], settings: Iterable[Any], seeds: Sequence[int],
                       branch: int, base: Sequence[int] = PAPER_TABLE1_BASELINE) -> tuple[np.ndarray, np.ndarray]:
    """Kernel sizes of ``branch``'s one-factor settings and F_branch's contrast ``(n_kernels, n_seeds)``.

    Example:
        >>> rows = {run_key(k, s): {"contrast": [0.1 * s, 0.2, k[2] / 100]} for k in [(4, 8, 10), (4, 8, 16)]
        ...         for s in (0, 1)}
        >>> k, c = contrast_by_kernel(rows, [(4, 8, 10)], [0, 1], 2)
        >>> k.tolist(), c.tolist()
        ([10, 16], [[0.1, 0.1], [0.16, 0.16]])
    """
    if branch not in (0, 1, 2):
        raise ValueError(f"branch must be 0, 1 or 2, got {branch!r}")
    ks = one_factor_settings(settings, base)[branch]
    c = np.array([[rows[run_key(k, s)]["contrast"][branch] for s in seeds] for k in ks], dtype=np.float64)
    return np.array([k[branch] for k in ks]), c


def _fmt(v: Any, digits: int = 4) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:+.{digits}f}"


def claim_sentence(claim: Mapping[str, Any], digits: int = 4) -> str:
    """One sentence stating a recorded claim's effect, interval and verdict.

    Example:
        >>> c = {"id": "x", "ours": 0.01, "unit": "IoU (fraction)", "verdict": "within noise",
        ...      "uncertainty": {"kind": "paired seeds", "n": 3, "low": -0.02, "high": 0.04, "confidence": 0.95}}
        >>> claim_sentence(c)
        'x: +0.0100 IoU (fraction), 95 % interval -0.0200 to +0.0400 over 3 paired seeds: within noise.'
    """
    u = claim["uncertainty"]
    conf = u.get("confidence", 0.95)
    if u.get("low") is None:
        where = f" ({claim.get('reason', 'no interval')})"
    else:
        where = (f", {conf:.0%} interval {_fmt(u['low'], digits)} to {_fmt(u['high'], digits)} over {u['n']} "
                 f"{u['kind']}").replace("%", " %")
    return f"{claim['id']}: {_fmt(claim['ours'], digits)} {claim['unit']}{where}: {claim['verdict']}."


def claims_table(claims: Sequence[Mapping[str, Any]], digits: int = 4) -> str:
    """A short plain-text table of claims: id, verdict, effect ± half-interval, unit.

    Example:
        >>> c = {"id": "x", "ours": 0.01, "unit": "IoU", "verdict": "within noise",
        ...      "uncertainty": {"low": -0.02, "high": 0.04}}
        >>> print(claims_table([c]))
        claim  verdict       effect ± interval  unit
        x      within noise  +0.0100 ± 0.0300   IoU
    """
    rows = [("claim", "verdict", "effect ± interval", "unit")]
    for c in claims:
        u = c["uncertainty"]
        eff = _fmt(c["ours"], digits)
        if u.get("low") is not None and u.get("high") is not None:
            eff += f" ± {(u['high'] - u['low']) / 2:.{digits}f}"
        rows.append((c["id"], c["verdict"], eff, c["unit"]))
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(r[i].ljust(w[i]) for i in range(4)).rstrip() for r in rows)
