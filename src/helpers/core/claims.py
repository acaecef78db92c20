"""Claims as measured comparisons: an effect, its uncertainty, and a verdict computed from them.

A paper's claim ("the skip connection raises IoU when the network is deep") is tested by
comparing per-seed (or per-image) values of two runs, never by a typed-in ``True``. This module
turns those values into

* an **effect** with its unit: the mean per-seed difference ``variant - baseline``
  (or a statistic of per-image values);
* an **uncertainty**: a Student-t interval over paired seeds when both methods share seeds
  (:func:`paired_effect`), a percentile bootstrap over test images otherwise
  (:func:`bootstrap_effect`);
* a **verdict** (:func:`verdict`), one of :data:`VERDICTS`:

  - ``"reproduced"``: the effect points the way the paper says and its interval excludes zero;
  - ``"within noise"``: the interval contains zero;
  - ``"contradicted"``: the effect points against the paper and its interval excludes zero;
  - ``"not tested"``: the run was degenerate (a constant prediction, a class never predicted,
    one seed only) or the data could not test the claim. The ``degenerate`` helpers below
    (:func:`constant_prediction`, :func:`missing_classes`, :func:`identical_values`,
    :func:`nonfinite_values`, combined with :func:`degenerate`) say why.

:func:`measured_claim` puts it together into the claim record of ``results.json`` (the schema in
CONTRIBUTING.md, section 3); :meth:`helpers.core.results.Results.measured_claim` records it in a run.
Each record names where the paper says it (``quote``), whether the claim is the paper's or the
course's own question (``source``), the data it was measured on and whether it is the headline.

Example:
    >>> iou_plain = [0.70, 0.72, 0.71]          # per seed, without the skip connection
    >>> iou_skip = [0.74, 0.75, 0.76]           # same seeds, with it
    >>> e = paired_effect(iou_plain, iou_skip)
    >>> round(e.effect, 4), round(e.low, 4), round(e.high, 4), e.n
    (0.04, 0.0152, 0.0648, 3)
    >>> verdict(e.effect, e.low, e.high, "+")
    'reproduced'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helpers.core.checks import check_choice, check_integer_labels, check_number, check_positive_int, check_seed

VERDICTS = ("reproduced", "within noise", "contradicted", "not tested")
"""The four verdicts, in the scorecard's order."""

DIRECTIONS = ("+", "-")
"""Which sign of the effect ``variant - baseline`` the paper claims."""

SOURCES = ("paper", "course")
"""Who makes the claim: the paper (``quote`` says where) or the course (our own question)."""

KINDS = ("paired seeds", "seeds", "paired images", "images")
"""How the uncertainty is estimated (the ``uncertainty['kind']`` of a claim):

* ``"paired seeds"``: t-interval of per-seed differences ``variant - baseline`` (both runs share seeds);
* ``"seeds"``: t-interval of per-seed effects given directly (e.g. a value minus a threshold);
* ``"paired images"``: percentile bootstrap of per-image differences (both methods on the same images);
* ``"images"``: percentile bootstrap of per-image effects given directly, or of
  ``statistic(variant) - statistic(baseline)`` resampling each set on its own (not the same images).
"""

# Largest number of resampled values held at once by the bootstrap (memory ~ 8 bytes each).
_BOOT_CHUNK = 2_000_000


@dataclass(frozen=True)
class Effect:
    """A measured effect with its interval.

    Attributes:
        effect: the point estimate (in the unit of the values).
        low, high: the interval's ends.
        n: the number of seeds or images it rests on.
        kind: one of :data:`KINDS`.
        confidence: the interval's coverage, e.g. 0.95.
        details: how it was computed (method, bootstrap resamples and seed, statistic).
    """

    effect: float
    low: float
    high: float
    n: int
    kind: str
    confidence: float
    details: dict[str, Any] = field(default_factory=dict)

    def uncertainty(self) -> dict[str, Any]:
        """The ``uncertainty`` entry of a claim record.

        Example:
            >>> paired_effect([1.0, 2.0, 3.0], [2.0, 2.5, 4.5]).uncertainty()["kind"]
            'paired seeds'
        """
        return {"kind": self.kind, "n": self.n, "low": self.low, "high": self.high,
                "confidence": self.confidence, **self.details}


def _values(x: Any, name: str, *, allow_nonfinite: bool = False) -> np.ndarray:
    """``x`` (a list, NumPy array or torch tensor of numbers) as a 1-D float64 array, checked."""
    if x is None:
        raise ValueError(f"{name} is missing")
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got {type(x).__name__}: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per seed or image), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    arr = arr.astype(np.float64)
    if not allow_nonfinite and not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr))
        raise ValueError(f"{name} contains NaN or infinite values (at positions {bad[:10].tolist()}); "
                         "a run that diverged cannot test a claim: pass degenerate_reason=nonfinite_values(...)")
    return arr


def _pair(a: Any, b: Any, name_a: str = "a", name_b: str = "b", **kw: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = _values(a, name_a, **kw), _values(b, name_b, **kw)
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have one value per shared seed or image, "
                         f"got lengths {a.size} and {b.size}")
    return a, b


def _confidence(confidence: Any) -> float:
    return check_number(confidence, "confidence", 0.0, 1.0, low_open=True, high_open=True)


def t_interval(d: Any, *, confidence: float = 0.95) -> Effect:
    """Mean of per-seed effects ``d`` with a Student-t interval (``n - 1`` degrees of freedom).

    Args:
        d: per-seed effects, at least two.
        confidence: coverage of the interval, in (0, 1).

    Returns:
        an :class:`Effect` of kind ``"seeds"``.

    Raises:
        ValueError: fewer than two values, non-finite values, or a bad confidence.

    Example:
        >>> e = t_interval([0.1, 0.3])
        >>> round(e.effect, 3), round(e.low, 3), round(e.high, 3)
        (0.2, -1.071, 1.471)
    """
    from scipy import stats

    d = _values(d, "d")
    confidence = _confidence(confidence)
    n = d.size
    if n < 2:
        raise ValueError(f"an interval over seeds needs at least 2 seeds, got {n}; with one seed the claim "
                         "is 'not tested' (measured_claim records it so)")
    mean = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    return Effect(mean, mean - half, mean + half, n, "seeds", confidence, {"method": "t"})


def paired_effect(a: Any, b: Any, *, confidence: float = 0.95) -> Effect:
    """Mean per-seed difference ``b - a`` with a paired Student-t interval.

    ``a[i]`` and ``b[i]`` must come from the same seed (same data split, same initialisation
    stream), so seed-to-seed variation cancels in the difference.

    Args:
        a: per-seed values of the baseline (e.g. IoU without the skip connection).
        b: per-seed values of the variant the paper makes a claim about.
        confidence: coverage of the interval, in (0, 1).

    Returns:
        an :class:`Effect` of kind ``"paired seeds"``; the same interval as
        ``scipy.stats.ttest_rel(b, a).confidence_interval(confidence)``.

    Raises:
        ValueError: lengths differ, fewer than two seeds, NaN/inf values, or a bad confidence.

    Example:
        >>> e = paired_effect([0.70, 0.72, 0.71], [0.69, 0.73, 0.71])
        >>> round(e.effect, 4), e.low < 0 < e.high
        (0.0, True)
    """
    a, b = _pair(a, b)
    e = t_interval(b - a, confidence=confidence)
    return Effect(e.effect, e.low, e.high, e.n, "paired seeds", e.confidence, dict(e.details))


def _resampled_stats(x: np.ndarray, rng: np.random.Generator, n_boot: int,
                     statistic: Callable[..., Any]) -> np.ndarray:
    """``statistic`` of ``n_boot`` resamples of ``x`` (with replacement), vectorised in chunks."""
    n = x.size
    rows = max(1, _BOOT_CHUNK // n)
    out = np.empty(n_boot)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = np.asarray(statistic(x[idx], axis=1), dtype=np.float64)
    return out


def bootstrap_effect(a: Any, b: Any = None, *, paired: bool = True, n_boot: int = 10000, seed: int = 0,
                     confidence: float = 0.95, statistic: Callable[..., Any] = np.mean) -> Effect:
    """Effect over test images with a percentile-bootstrap interval (seeded, vectorised).

    * ``b is None``: the effect is ``statistic(a)``, ``a`` holding per-image effects;
      resamples of ``a``.
    * ``paired=True``: ``a[i]`` and ``b[i]`` are two methods on the same image ``i``;
      the effect is ``statistic(b - a)``, resampling images.
    * ``paired=False``: the two sets come from different images; the effect is
      ``statistic(b) - statistic(a)``, resampling each set on its own.

    Resample ``k`` draws ``n`` indices with ``numpy.random.default_rng(seed).integers(0, n, (n_boot, n))``
    (several draws in turn for large ``n``), so the same seed gives the same interval.

    Args:
        a, b: per-image values (1-D, finite, at least two each).
        paired: whether ``a`` and ``b`` are on the same images (ignored when ``b`` is None).
        n_boot: number of bootstrap resamples (at least 100).
        seed: the bootstrap's seed.
        confidence: coverage of the interval, in (0, 1).
        statistic: a NumPy reduction taking ``axis=`` (``np.mean``, ``np.median``).

    Returns:
        an :class:`Effect` of kind ``"paired images"`` (paired) or ``"images"`` (one set, or unpaired).

    Raises:
        ValueError: lengths differ when paired, fewer than two images, NaN/inf values, bad arguments.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> plain = rng.uniform(0.6, 0.8, 40)
        >>> skip = plain + 0.05 + rng.normal(0, 0.02, 40)   # the same 40 test images
        >>> e = bootstrap_effect(plain, skip, seed=0)
        >>> e.kind, 0.04 < e.low < e.effect < e.high < 0.06
        ('paired images', True)
        >>> e == bootstrap_effect(plain, skip, seed=0)       # seeded: the same interval again
        True
    """
    if not isinstance(paired, bool):
        raise ValueError(f"paired must be True or False, got {paired!r}")
    n_boot = check_positive_int(n_boot, "n_boot", 100)
    seed = check_seed(seed)
    confidence = _confidence(confidence)
    if not callable(statistic):
        raise ValueError(f"statistic must be a NumPy reduction such as np.mean, got {statistic!r}")
    rng = np.random.default_rng(seed)
    if b is None:
        x = _values(a, "a")
        kind, n = "images", x.size
        _check_two(n, "a")
        effect = float(statistic(x))
        boot = _resampled_stats(x, rng, n_boot, statistic)
    elif paired:
        a, b = _pair(a, b)
        x = b - a
        kind, n = "paired images", x.size
        _check_two(n, "a and b")
        effect = float(statistic(x))
        boot = _resampled_stats(x, rng, n_boot, statistic)
    else:
        a, b = _values(a, "a"), _values(b, "b")
        _check_two(a.size, "a")
        _check_two(b.size, "b")
        kind, n = "images", min(a.size, b.size)
        effect = float(statistic(b)) - float(statistic(a))
        boot_a = _resampled_stats(a, rng, n_boot, statistic)
        boot = _resampled_stats(b, rng, n_boot, statistic) - boot_a
    if not np.isfinite(boot).all():
        raise ValueError("the statistic gave NaN or infinite values on a resample")
    alpha = 1.0 - confidence
    low, high = (float(v) for v in np.quantile(boot, [alpha / 2, 1 - alpha / 2]))
    details = {"method": "percentile bootstrap", "n_boot": n_boot, "seed": seed,
               "statistic": getattr(statistic, "__name__", repr(statistic))}
    if kind == "images" and b is not None:
        details["n_each"] = [int(a.size), int(b.size)]
    return Effect(effect, low, high, int(n), kind, confidence, details)


def _check_two(n: int, name: str) -> None:
    if n < 2:
        raise ValueError(f"a bootstrap needs at least 2 images in {name}, got {n}")


def verdict(effect: Any, low: Any, high: Any, direction: str, *, reason: str | None = None) -> str:
    """The verdict on a claim from its effect and interval.

    Args:
        effect: the measured effect (``variant - baseline``); None or NaN means no measurement.
        low, high: the interval's ends (None or NaN: no interval, e.g. a single seed).
        direction: ``"+"`` if the paper claims a positive effect, ``"-"`` for a negative one.
        reason: why the run cannot test the claim (from :func:`degenerate`); any reason
            makes the verdict ``"not tested"``.

    Returns:
        ``"reproduced"`` (effect in the paper's direction, interval excludes zero),
        ``"contradicted"`` (effect against it, interval excludes zero), ``"within noise"``
        (interval contains zero, ends included) or ``"not tested"``.

    Raises:
        ValueError: an unknown direction, or ``low > high``.

    Example:
        >>> verdict(0.04, 0.01, 0.07, "+"), verdict(0.04, 0.01, 0.07, "-")
        ('reproduced', 'contradicted')
        >>> verdict(0.01, -0.02, 0.04, "+"), verdict(0.04, None, None, "+")
        ('within noise', 'not tested')
        >>> verdict(0.04, 0.01, 0.07, "+", reason="prediction is constant (all 0)")
        'not tested'
    """
    check_choice(direction, "direction", DIRECTIONS)
    if reason is not None:
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"reason must be a non-empty string saying why the claim is not tested, got {reason!r}")
        return "not tested"
    vals = []
    for name, v in (("effect", effect), ("low", low), ("high", high)):
        if v is None:
            return "not tested"
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name} must be a number or None, got {v!r}")
        if not math.isfinite(float(v)):
            return "not tested"
        vals.append(float(v))
    effect, low, high = vals
    if low > high:
        raise ValueError(f"the interval must have low <= high, got low={low}, high={high}")
    sign = 1.0 if direction == "+" else -1.0
    e, lo, hi = sign * effect, *sorted((sign * low, sign * high))
    if lo > 0 and e > 0:
        return "reproduced"
    if hi < 0 and e < 0:
        return "contradicted"
    return "within noise"


# --------------------------------------------------------------------------- degenerate runs
# Each helper returns a reason (a sentence) when the run cannot test a claim, else None.


def _np(x: Any, name: str) -> np.ndarray:
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return arr


def constant_prediction(pred: Any, *, name: str = "prediction") -> str | None:
    """A reason when every value of ``pred`` (a label map, scores, class ids) is the same, else None.

    A segmentation that predicts background everywhere scores a "result" that tests nothing.

    Example:
        >>> constant_prediction(np.zeros((2, 4, 4), dtype=int))
        'prediction is constant (every value is 0)'
        >>> constant_prediction(np.eye(3)) is None
        True
    """
    arr = _np(pred, name)
    lo, hi = arr.min(), arr.max()
    if lo == hi:
        return f"{name} is constant (every value is {lo.item():g})"
    return None


def missing_classes(pred: Any, num_classes: int, *, name: str = "prediction") -> str | None:
    """A reason naming the classes in ``[0, num_classes)`` that ``pred`` never predicts, else None.

    Example:
        >>> missing_classes(np.array([[0, 0], [2, 0]]), 3)
        'prediction never predicts class 1 of 0..2'
        >>> missing_classes(np.array([0, 1, 2]), 3) is None
        True
    """
    num_classes = check_positive_int(num_classes, "num_classes", 2)
    arr = _np(pred, name)
    check_integer_labels(arr, name, num_classes)
    seen = np.bincount(arr.ravel().astype(np.int64), minlength=num_classes)
    missing = np.flatnonzero(seen == 0).tolist()
    if missing:
        which = ", ".join(str(c) for c in missing)
        return f"{name} never predicts class{'es' if len(missing) > 1 else ''} {which} of 0..{num_classes - 1}"
    return None


def identical_values(*arrays: Any, names: tuple[str, ...] | None = None) -> str | None:
    """A reason when the values of some array are all identical (e.g. every seed scored IoU 0), else None.

    Useful on per-seed metrics of one method: no spread between seeds means the seed did not
    change the run (or every run collapsed to the same value), so there is no noise to judge
    an effect against.

    Example:
        >>> identical_values([0.0, 0.0, 0.0], [0.5, 0.6, 0.7], names=("iou_plain", "iou_skip"))
        'iou_plain: all 3 values are 0'
        >>> identical_values([0.1, 0.2]) is None
        True
    """
    if names is not None and len(names) != len(arrays):
        raise ValueError(f"names must name each array: got {len(names)} names for {len(arrays)} arrays")
    names = names or tuple(f"values[{i}]" for i in range(len(arrays)))
    reasons = []
    for x, name in zip(arrays, names):
        arr = _np(x, name).astype(np.float64).ravel()
        if arr.size >= 2 and np.all(arr == arr[0]):
            reasons.append(f"{name}: all {arr.size} values are {arr[0]:g}")
    return "; ".join(reasons) or None


def nonfinite_values(*arrays: Any, names: tuple[str, ...] | None = None) -> str | None:
    """A reason when some array holds NaN or infinite values (a run that diverged), else None.

    Example:
        >>> nonfinite_values([0.7, float("nan")], names=("iou",))
        'iou: 1 of 2 values are NaN or infinite'
    """
    if names is not None and len(names) != len(arrays):
        raise ValueError(f"names must name each array: got {len(names)} names for {len(arrays)} arrays")
    names = names or tuple(f"values[{i}]" for i in range(len(arrays)))
    reasons = []
    for x, name in zip(arrays, names):
        arr = _np(x, name).astype(np.float64)
        bad = int((~np.isfinite(arr)).sum())
        if bad:
            reasons.append(f"{name}: {bad} of {arr.size} values are NaN or infinite")
    return "; ".join(reasons) or None


def degenerate(*reasons: str | None) -> str | None:
    """Combine the helpers' answers: the reasons given, joined by ``"; "``, or None if there are none.

    Example:
        >>> p = np.zeros((4, 4), dtype=int)
        >>> degenerate(constant_prediction(p), missing_classes(p, 2))
        'prediction is constant (every value is 0); prediction never predicts class 1 of 0..1'
        >>> degenerate(None, None) is None
        True
    """
    for r in reasons:
        if r is not None and (not isinstance(r, str) or not r.strip()):
            raise ValueError(f"each reason must be None or a non-empty string, got {r!r}")
    return "; ".join(r for r in reasons if r) or None


# --------------------------------------------------------------------------- the claim record


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _finite_or_none(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def measured_claim(id: str, *, paper: str, quote: str, paper_value: str | float, unit: str, kind: str,
                   data_source: str, baseline: Any = None, variant: Any = None, effects: Any = None,
                   direction: str | None = None, source: str = "paper", headline: bool = False,
                   degenerate_reason: str | None = None, confidence: float = 0.95, n_boot: int = 10000,
                   seed: int = 0, statistic: Callable[..., Any] = np.mean) -> dict[str, Any]:
    """A claim record (the ``claims`` entry of ``results.json``) computed from measured values.

    Give either ``baseline`` and ``variant`` (the effect is ``variant - baseline``: the variant is
    what the paper claims about) or ``effects`` (per-seed or per-image effects already taken,
    e.g. a value minus the chance level). ``kind`` (one of :data:`KINDS`) says how:

    ============== ============================ ========================================
    kind           values                       interval
    ============== ============================ ========================================
    paired seeds   baseline, variant (by seed)  t over per-seed differences
    seeds          effects (one per seed)       t over the effects
    paired images  baseline, variant (by image) bootstrap of per-image differences
    images         effects; or baseline and     bootstrap of the effects; or of
                   variant on different images  statistic(variant) - statistic(baseline)
    ============== ============================ ========================================

    The verdict is ``"not tested"`` with ``reason`` when ``degenerate_reason`` is given (then
    values may be omitted or non-finite) or when there is a single seed/image (no interval).

    Args:
        id: the claim's id, e.g. ``"fig8_residual_helps_when_deep"``.
        paper: the claim in a few words.
        quote: where the paper says it, in its own words (``"Fig. 8: ..."``); for a course
            question, what it is asked about.
        paper_value: the paper's number, or the sign of its claim (``"+"``/``"-"``).
        unit: the effect's unit, e.g. ``"IoU (fraction)"``.
        kind: one of :data:`KINDS`.
        data_source: the data measured on (``"synthetic"``, ``"real"``, or a data set's name).
        baseline, variant, effects: the measured values (lists, NumPy arrays or tensors, 1-D).
        direction: the sign the paper claims; defaults to ``paper_value`` when that is ``"+"``/``"-"``.
        source: ``"paper"`` (the paper makes the claim) or ``"course"`` (our own question).
        headline: the paper's main result (never a course question).
        degenerate_reason: why the run cannot test the claim (see :func:`degenerate`).
        confidence, n_boot, seed, statistic: passed to :func:`paired_effect` / :func:`bootstrap_effect`.

    Returns:
        the claim dict: ``id, source, paper, quote, paper_value, direction, ours, unit, uncertainty,
        verdict, holds, headline, data_source`` (and ``reason`` when not tested);
        ``holds == (verdict == "reproduced")``.

    Raises:
        ValueError: a missing or malformed field, values that do not fit ``kind``, unequal lengths,
            NaN values without a ``degenerate_reason``, an unknown direction, kind or source.

    Example:
        >>> c = measured_claim("fig8_residual_helps_when_deep", paper="IoU gain with skip at depth>=3",
        ...     quote="Fig. 8: the residual connections improve IoU for the deeper networks",
        ...     paper_value="+", unit="IoU (fraction)", kind="paired seeds", data_source="synthetic",
        ...     baseline=[0.70, 0.72, 0.71], variant=[0.74, 0.75, 0.76], headline=True)
        >>> c["verdict"], c["holds"], round(c["ours"], 3), c["uncertainty"]["n"]
        ('reproduced', True, 0.04, 3)
        >>> measured_claim("one_seed", paper="p", quote="Tab. 2", paper_value="+", unit="IoU",
        ...     kind="paired seeds", data_source="synthetic", baseline=[0.7], variant=[0.8])["reason"]
        'a single seed (n=1): no interval to judge the effect against noise'
    """
    id, paper, quote, unit, data_source = (_text(v, k) for k, v in (
        ("id", id), ("paper", paper), ("quote", quote), ("unit", unit), ("data_source", data_source)))
    check_choice(kind, "kind", KINDS)
    check_choice(source, "source", SOURCES)
    if isinstance(paper_value, bool) or not isinstance(paper_value, (str, int, float, np.integer, np.floating)):
        raise ValueError(f"claim {id!r}: paper_value must be the paper's number or the sign of its claim, "
                         f"got {paper_value!r}")
    if isinstance(paper_value, (np.integer, np.floating)):
        paper_value = paper_value.item()
    if direction is None:
        if paper_value not in DIRECTIONS:
            raise ValueError(f"claim {id!r}: give direction='+' or '-' (the sign the paper claims); "
                             f"it can only be taken from paper_value when that is '+' or '-', got {paper_value!r}")
        direction = paper_value
    check_choice(direction, "direction", DIRECTIONS)
    if not isinstance(headline, bool):
        raise ValueError(f"claim {id!r}: headline must be a bool, got {headline!r}")
    if headline and source == "course":
        raise ValueError(f"claim {id!r}: a headline claim is the paper's main result; a course question "
                         "(source='course') cannot be one")
    if degenerate_reason is not None:
        _text(degenerate_reason, "degenerate_reason")

    paired_kind = kind in ("paired seeds", "paired images")
    given = effects is not None, baseline is not None, variant is not None
    if given[0] and (given[1] or given[2]):
        raise ValueError(f"claim {id!r}: give either effects or baseline and variant, not both")
    if given[1] != given[2]:
        raise ValueError(f"claim {id!r}: baseline and variant go together (the effect is variant - baseline)")
    if paired_kind and given[0]:
        raise ValueError(f"claim {id!r}: kind={kind!r} compares baseline and variant by "
                         f"{kind.split()[1][:-1]}; for effects already taken use kind="
                         f"{kind.split()[1]!r}")
    if kind == "seeds" and given[1]:
        raise ValueError(f"claim {id!r}: kind='seeds' takes effects; for two methods on the same seeds "
                         "use kind='paired seeds'")
    if not any(given) and degenerate_reason is None:
        raise ValueError(f"claim {id!r}: no values given (baseline and variant, or effects); "
                         "a claim the data cannot test needs degenerate_reason")

    lenient = degenerate_reason is not None
    ours: float | None = None
    n = 0
    if given[0]:
        x = _values(effects, "effects", allow_nonfinite=lenient)
        n = x.size
        ours = float(np.mean(x)) if kind == "seeds" else float(statistic(x))
    elif given[1]:
        if kind == "images":
            a = _values(baseline, "baseline", allow_nonfinite=lenient)
            b = _values(variant, "variant", allow_nonfinite=lenient)
            n = min(a.size, b.size)
            ours = float(statistic(b)) - float(statistic(a))
        else:
            a, b = _pair(baseline, variant, "baseline", "variant", allow_nonfinite=lenient)
            n = a.size
            ours = float(np.mean(b - a)) if kind == "paired seeds" else float(statistic(b - a))
    ours = _finite_or_none(ours)

    reason = degenerate_reason
    unc: dict[str, Any] = {"kind": kind, "n": int(n), "low": None, "high": None}
    if reason is None and n < 2:
        unit_name = "seed" if "seeds" in kind else "image"
        reason = f"a single {unit_name} (n=1): no interval to judge the effect against noise"
    if reason is None:
        if kind == "paired seeds":
            e = paired_effect(baseline, variant, confidence=confidence)
        elif kind == "seeds":
            e = t_interval(effects, confidence=confidence)
        elif kind == "paired images":
            e = bootstrap_effect(baseline, variant, paired=True, n_boot=n_boot, seed=seed,
                                 confidence=confidence, statistic=statistic)
        elif given[0]:
            e = bootstrap_effect(effects, n_boot=n_boot, seed=seed, confidence=confidence, statistic=statistic)
        else:
            e = bootstrap_effect(baseline, variant, paired=False, n_boot=n_boot, seed=seed,
                                 confidence=confidence, statistic=statistic)
        ours = e.effect
        unc = e.uncertainty()
    v = verdict(ours, unc["low"], unc["high"], direction, reason=reason)
    record: dict[str, Any] = {
        "id": id, "source": source, "paper": paper, "quote": quote, "paper_value": paper_value,
        "direction": direction, "ours": ours, "unit": unit, "uncertainty": unc,
        "verdict": v, "holds": v == "reproduced", "headline": headline, "data_source": data_source,
    }
    if v == "not tested":
        record["reason"] = reason
    return record
