"""helpers.core.claims against independent references: SciPy's t-tests and bootstrap, hand-computed cases."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from helpers.core import claims
from helpers.core.claims import (
    KINDS,
    VERDICTS,
    bootstrap_effect,
    constant_prediction,
    degenerate,
    identical_values,
    measured_claim,
    missing_classes,
    nonfinite_values,
    paired_effect,
    t_interval,
    verdict,
)

RNG = np.random.default_rng(2024)
A5 = RNG.uniform(0.6, 0.8, 5)
B5 = A5 + RNG.normal(0.03, 0.01, 5)


# --------------------------------------------------------------------------- paired t over seeds


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_paired_effect_matches_scipy_ttest_rel(confidence):
    e = paired_effect(A5, B5, confidence=confidence)
    ref = stats.ttest_rel(B5, A5).confidence_interval(confidence_level=confidence)
    assert e.kind == "paired seeds" and e.n == 5 and e.confidence == confidence
    assert e.effect == pytest.approx(np.mean(B5 - A5), abs=1e-15)
    assert (e.low, e.high) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_paired_effect_by_hand_with_t_ppf():
    a, b = [0.70, 0.72, 0.71], [0.74, 0.75, 0.76]   # differences 0.04, 0.03, 0.05: sd 0.01
    half = stats.t.ppf(0.975, 2) * 0.01 / math.sqrt(3)
    e = paired_effect(a, b)
    assert (e.effect, e.low, e.high) == pytest.approx((0.04, 0.04 - half, 0.04 + half), abs=1e-12)
    assert e.uncertainty() == {"kind": "paired seeds", "n": 3, "low": e.low, "high": e.high,
                               "confidence": 0.95, "method": "t"}


def test_paired_effect_two_seeds_and_tensors():
    e = paired_effect(torch.tensor([1.0, 2.0]), torch.tensor([1.5, 2.1]))
    ref = stats.ttest_rel([1.5, 2.1], [1.0, 2.0]).confidence_interval()
    assert (e.low, e.high) == pytest.approx((ref.low, ref.high), rel=1e-6)


def test_t_interval_matches_scipy_ttest_1samp():
    d = B5 - A5
    e = t_interval(d, confidence=0.9)
    ref = stats.ttest_1samp(d, 0.0).confidence_interval(confidence_level=0.9)
    assert e.kind == "seeds" and (e.low, e.high) == pytest.approx((ref.low, ref.high), abs=1e-12)


@pytest.mark.parametrize("a, b, message", [
    ([0.1, 0.2, 0.3], [0.1, 0.2], "lengths 3 and 2"),
    ([0.1, float("nan")], [0.1, 0.2], "NaN or infinite"),
    ([0.1, 0.2], [0.1, float("inf")], "NaN or infinite"),
    ([0.1], [0.2], "at least 2 seeds, got 1"),
    ([], [], "a is empty"),
    ([[0.1, 0.2]], [[0.1, 0.2]], "must be 1-D"),
    (["x", "y"], ["x", "y"], "must hold numbers"),
])
def test_paired_effect_bad_input(a, b, message):
    with pytest.raises(ValueError, match=message):
        paired_effect(a, b)


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1, float("nan"), "0.95"])
def test_bad_confidence(confidence):
    with pytest.raises(ValueError, match="confidence"):
        paired_effect([0.1, 0.2], [0.2, 0.3], confidence=confidence)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_effect([0.1, 0.2], confidence=confidence)


# --------------------------------------------------------------------------- bootstrap over images


def _bootstrap_by_loop(x, n_boot, seed, confidence=0.95, stat=np.mean):
    """The percentile bootstrap written out resample by resample (the reference)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    means = [stat([x[i] for i in row]) for row in idx]
    alpha = 1 - confidence
    return np.quantile(means, [alpha / 2, 1 - alpha / 2])


def test_bootstrap_two_values_by_hand():
    # Resample means of [0, 1] are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4: the 95 % interval is
    # [0, 1], the 40 % interval (quantiles 0.3 and 0.7) is [0.5, 0.5].
    e = bootstrap_effect([0.0, 1.0], n_boot=10000, seed=0)
    assert (e.effect, e.low, e.high, e.n, e.kind) == (0.5, 0.0, 1.0, 2, "images")
    e = bootstrap_effect([0.0, 1.0], n_boot=10000, seed=0, confidence=0.4)
    assert (e.low, e.high) == (0.5, 0.5)


def test_bootstrap_tiny_case_matches_loop_and_is_seeded():
    x = [0.1, 0.4, 0.35, 0.9]
    e = bootstrap_effect(x, n_boot=200, seed=7)
    assert (e.low, e.high) == pytest.approx(tuple(_bootstrap_by_loop(x, 200, 7)), abs=1e-12)
    assert e == bootstrap_effect(x, n_boot=200, seed=7)
    other = bootstrap_effect(x, n_boot=200, seed=8)
    assert (e.low, e.high) != (other.low, other.high)
    assert e.details == {"method": "percentile bootstrap", "n_boot": 200, "seed": 7, "statistic": "mean"}


def test_bootstrap_paired_is_bootstrap_of_differences():
    a, b = [0.5, 0.6, 0.7, 0.8, 0.55], [0.52, 0.66, 0.71, 0.85, 0.58]
    e = bootstrap_effect(a, b, n_boot=300, seed=3)
    d = np.subtract(b, a)
    assert e.kind == "paired images" and e.effect == pytest.approx(d.mean())
    assert (e.low, e.high) == pytest.approx(tuple(_bootstrap_by_loop(d, 300, 3)), abs=1e-12)


def test_bootstrap_unpaired_resamples_each_set():
    a, b = [0.5, 0.6, 0.7], [0.7, 0.8, 0.75, 0.9]
    e = bootstrap_effect(a, b, paired=False, n_boot=150, seed=1)
    rng = np.random.default_rng(1)
    ia = rng.integers(0, 3, size=(150, 3))
    ib = rng.integers(0, 4, size=(150, 4))
    diffs = np.array(b)[ib].mean(1) - np.array(a)[ia].mean(1)
    assert e.kind == "images" and e.n == 3 and e.details["n_each"] == [3, 4]
    assert e.effect == pytest.approx(np.mean(b) - np.mean(a))
    assert (e.low, e.high) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])), abs=1e-12)


def test_bootstrap_close_to_scipy_percentile_bootstrap():
    x = np.random.default_rng(5).normal(0.05, 0.1, 60)
    e = bootstrap_effect(x, n_boot=20000, seed=0)
    ref = stats.bootstrap((x,), np.mean, method="percentile", n_resamples=20000,
                          rng=np.random.default_rng(1)).confidence_interval
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert abs(e.low - ref.low) < 0.05 * se and abs(e.high - ref.high) < 0.05 * se


def test_paired_bootstrap_narrower_than_unpaired_on_correlated_images():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.3, 0.9, 50)           # images differ a lot; the method adds ~0.02 to each
    b = a + 0.02 + rng.normal(0, 0.005, 50)
    p = bootstrap_effect(a, b, seed=0)
    u = bootstrap_effect(a, b, paired=False, seed=0)
    assert p.low > 0 and u.low < 0 < u.high and (p.high - p.low) < (u.high - u.low) / 5


def test_bootstrap_chunks_draw_in_turn(monkeypatch):
    monkeypatch.setattr(claims, "_BOOT_CHUNK", 10)       # 2 resamples of 5 images per draw
    x = np.array([0.1, 0.5, 0.2, 0.8, 0.4])
    e = bootstrap_effect(x, n_boot=101, seed=2)
    rng = np.random.default_rng(2)
    idx = np.concatenate([rng.integers(0, 5, size=(min(2, 101 - s), 5)) for s in range(0, 101, 2)])
    ref = np.quantile(x[idx].mean(1), [0.025, 0.975])
    assert (e.low, e.high) == pytest.approx(tuple(ref), abs=1e-12)


def test_bootstrap_median_statistic():
    x = [0.0, 0.0, 1.0, 1.0, 1.0]
    e = bootstrap_effect(x, statistic=np.median, n_boot=500, seed=0)
    assert e.effect == 1.0 and e.low == 0.0 and e.high == 1.0 and e.details["statistic"] == "median"


@pytest.mark.parametrize("kwargs, message", [
    (dict(a=[0.1, 0.2], b=[0.1]), "lengths 2 and 1"),
    (dict(a=[0.1]), "at least 2 images"),
    (dict(a=[0.1, 0.2], b=[0.3], paired=False), "at least 2 images in b"),
    (dict(a=[0.1, float("nan")]), "NaN"),
    (dict(a=[0.1, 0.2], n_boot=10), "n_boot must be an integer >= 100"),
    (dict(a=[0.1, 0.2], n_boot=1000.0), "n_boot must be an integer"),
    (dict(a=[0.1, 0.2], seed=-1), "seed must be a non-negative integer"),
    (dict(a=[0.1, 0.2], paired="yes"), "paired must be True or False"),
    (dict(a=[0.1, 0.2], statistic="mean"), "statistic must be a NumPy reduction"),
])
def test_bootstrap_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_effect(**kwargs)


# --------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize("effect, low, high, direction, expected", [
    (0.04, 0.01, 0.07, "+", "reproduced"),       # clearly positive, paper says +
    (-0.04, -0.07, -0.01, "-", "reproduced"),    # clearly negative, paper says -
    (-0.04, -0.07, -0.01, "+", "contradicted"),
    (0.04, 0.01, 0.07, "-", "contradicted"),
    (0.01, -0.02, 0.04, "+", "within noise"),    # straddles zero
    (-0.01, -0.02, 0.04, "-", "within noise"),
    (0.03, 0.0, 0.06, "+", "within noise"),      # an interval that touches zero does not exclude it
    (-0.03, -0.06, 0.0, "+", "within noise"),
    (0.0, 0.0, 0.0, "+", "within noise"),        # identical methods
    (0.04, None, None, "+", "not tested"),       # no interval (one seed)
    (None, None, None, "-", "not tested"),
    (float("nan"), 0.01, 0.07, "+", "not tested"),
    (np.float32(0.04), np.float64(0.01), 0.07, "+", "reproduced"),
])
def test_verdict_cases(effect, low, high, direction, expected):
    assert verdict(effect, low, high, direction) == expected


def test_verdict_reason_means_not_tested():
    assert verdict(0.04, 0.01, 0.07, "+", reason="prediction is constant (every value is 0)") == "not tested"


@pytest.mark.parametrize("args, kwargs, message", [
    ((0.04, 0.01, 0.07, "up"), {}, "direction must be one of"),
    ((0.04, 0.07, 0.01, "+"), {}, "low <= high"),
    (("big", 0.01, 0.07, "+"), {}, "effect must be a number"),
    ((0.04, 0.01, 0.07, "+"), {"reason": ""}, "reason must be a non-empty string"),
])
def test_verdict_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        verdict(*args, **kwargs)


# --------------------------------------------------------------------------- degenerate runs


def test_constant_prediction():
    assert constant_prediction(np.ones((3, 8, 8), dtype=np.uint8)) == "prediction is constant (every value is 1)"
    assert constant_prediction(torch.zeros(2, 4), name="scores") == "scores is constant (every value is 0)"
    assert constant_prediction(np.arange(4)) is None


def test_missing_classes():
    pred = np.array([[0, 3], [3, 0]])
    assert missing_classes(pred, 4) == "prediction never predicts classes 1, 2 of 0..3"
    assert missing_classes(torch.tensor([0, 1, 1]), 2) is None
    with pytest.raises(ValueError, match=r"class indices in \[0, 1\]"):
        missing_classes(np.array([0, 2]), 2)
    with pytest.raises(ValueError, match="integer class indices"):
        missing_classes(np.array([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match="num_classes"):
        missing_classes(np.array([0, 1]), 1)
    with pytest.raises(ValueError, match="is empty"):
        missing_classes(np.array([], dtype=int), 2)


def test_identical_and_nonfinite_values():
    assert identical_values([0.5, 0.5], [0.1, 0.2], names=("a", "b")) == "a: all 2 values are 0.5"
    assert identical_values([0.5]) is None  # a single value has no spread to judge
    assert nonfinite_values([1.0, float("inf")], [float("nan")] * 2) == (
        "values[0]: 1 of 2 values are NaN or infinite; values[1]: 2 of 2 values are NaN or infinite")
    assert nonfinite_values([1.0, 2.0]) is None
    with pytest.raises(ValueError, match="names must name each array"):
        identical_values([1.0], [2.0], names=("a",))


def test_degenerate_combines_reasons():
    assert degenerate(None, "a", None, "b") == "a; b"
    assert degenerate() is None
    with pytest.raises(ValueError, match="non-empty string"):
        degenerate("")


# --------------------------------------------------------------------------- the claim record

COMMON = dict(paper="IoU gain with skip at depth>=3", quote="Fig. 8: residual connections help deep U-Nets",
              paper_value="+", unit="IoU (fraction)", data_source="synthetic")


def test_measured_claim_schema_and_reproduced():
    c = measured_claim("fig8", kind="paired seeds", baseline=A5, variant=B5, headline=True, **COMMON)
    ref = stats.ttest_rel(B5, A5).confidence_interval()
    assert list(c) == ["id", "source", "paper", "quote", "paper_value", "direction", "ours", "unit",
                       "uncertainty", "verdict", "holds", "headline", "data_source"]
    assert c["verdict"] == "reproduced" and c["holds"] is True and c["source"] == "paper"
    assert c["ours"] == pytest.approx(np.mean(B5 - A5))
    u = c["uncertainty"]
    assert u["kind"] == "paired seeds" and u["n"] == 5
    assert (u["low"], u["high"]) == pytest.approx((ref.low, ref.high))


@pytest.mark.parametrize("shift, expected", [(0.05, "reproduced"), (-0.05, "contradicted"), (0.0, "within noise")])
@pytest.mark.parametrize("kind", KINDS)
def test_measured_claim_verdicts_for_every_kind(kind, shift, expected):
    rng = np.random.default_rng(11)
    n = 6 if "seeds" in kind else 40
    a = rng.uniform(0.6, 0.8, n)
    noise = rng.normal(0, 0.01, n)
    noise -= noise.mean()                    # the effect is exactly `shift`
    b = a + shift + noise
    values = dict(baseline=a, variant=b) if kind.startswith("paired") else dict(effects=b - a)
    c = measured_claim("x", kind=kind, **values, **COMMON)
    assert c["verdict"] == expected and c["holds"] is (expected == "reproduced")
    assert c["ours"] == pytest.approx(shift, abs=1e-12)
    assert c["uncertainty"]["kind"] == kind
    assert c["uncertainty"]["low"] <= c["ours"] <= c["uncertainty"]["high"]


def test_measured_claim_direction_minus_and_unpaired_images():
    c = measured_claim("loss_drops", paper="the pixel-relation loss lowers the error", quote="Tab. 3",
                       paper_value=0.12, direction="-", unit="error rate", kind="images",
                       data_source="real", baseline=[0.30, 0.32, 0.31, 0.33, 0.29],
                       variant=[0.20, 0.22, 0.19, 0.21, 0.23, 0.2], n_boot=2000)
    assert c["verdict"] == "reproduced" and c["paper_value"] == 0.12 and c["direction"] == "-"
    assert c["uncertainty"]["n_each"] == [5, 6] and c["uncertainty"]["n"] == 5


def test_measured_claim_degenerate_run_is_not_tested():
    pred = np.zeros((4, 16, 16), dtype=np.int64)    # the model predicts background everywhere
    reason = degenerate(constant_prediction(pred), missing_classes(pred, 2))
    c = measured_claim("x", kind="paired images", baseline=[0.5, 0.5, 0.5], variant=[0.9, 0.8, 0.85],
                       degenerate_reason=reason, **COMMON)
    assert c["verdict"] == "not tested" and c["holds"] is False
    assert c["reason"] == reason and c["uncertainty"] == {"kind": "paired images", "n": 3, "low": None, "high": None}
    assert c["ours"] == pytest.approx(0.35)  # the point estimate is still reported


def test_measured_claim_diverged_or_missing_data():
    iou = [0.7, float("nan")]
    c = measured_claim("x", kind="seeds", effects=iou, degenerate_reason=nonfinite_values(iou, names=("iou",)),
                       **COMMON)
    assert c["verdict"] == "not tested" and c["ours"] is None and c["reason"].startswith("iou: 1 of 2")
    c = measured_claim("x", kind="images", degenerate_reason="the public set has no labels for this class",
                       source="course", **COMMON)
    assert c["verdict"] == "not tested" and c["ours"] is None and c["uncertainty"]["n"] == 0
    assert c["source"] == "course"


def test_measured_claim_single_seed_is_not_tested():
    c = measured_claim("x", kind="paired seeds", baseline=[0.7], variant=[0.8], **COMMON)
    assert c["verdict"] == "not tested" and c["ours"] == pytest.approx(0.1)
    assert c["reason"] == "a single seed (n=1): no interval to judge the effect against noise"
    c = measured_claim("x", kind="images", effects=[0.1], **COMMON)
    assert c["reason"].startswith("a single image (n=1)")


def test_measured_claim_bootstrap_is_reproducible():
    a, b = RNG.uniform(0, 1, 30), RNG.uniform(0, 1, 30)
    c1 = measured_claim("x", kind="paired images", baseline=a, variant=b, seed=4, **COMMON)
    c2 = measured_claim("x", kind="paired images", baseline=a, variant=b, seed=4, **COMMON)
    assert c1 == c2 and c1["uncertainty"]["seed"] == 4


@pytest.mark.parametrize("change, message", [
    (dict(baseline=[0.1, 0.2, 0.3], variant=[0.2, 0.3]), "lengths 3 and 2"),
    (dict(variant=[0.2, float("nan"), 0.4]), "variant contains NaN"),
    (dict(direction="up"), "direction must be one of"),
    (dict(paper_value=0.8), "give direction='\\+' or '-'"),
    (dict(paper_value=True), "paper_value must be"),
    (dict(kind="bootstrap"), "kind must be one of"),
    (dict(kind="seeds"), "kind='seeds' takes effects"),
    (dict(effects=[0.1, 0.2]), "either effects or baseline and variant"),
    (dict(baseline=None), "baseline and variant go together"),
    (dict(baseline=None, variant=None), "no values given"),
    (dict(source="ours"), "source must be one of"),
    (dict(source="course", headline=True), "cannot be one"),
    (dict(headline=1), "headline must be a bool"),
    (dict(quote=""), "quote must be a non-empty string"),
    (dict(unit=None), "unit must be a non-empty string"),
    (dict(data_source=""), "data_source must be a non-empty string"),
    (dict(degenerate_reason=""), "degenerate_reason must be a non-empty string"),
    (dict(n_boot=5, kind="paired images"), "n_boot"),
])
def test_measured_claim_bad_input(change, message):
    kwargs = dict(COMMON, kind="paired seeds", baseline=[0.1, 0.2, 0.3], variant=[0.2, 0.3, 0.4])
    kwargs.update(change)
    with pytest.raises(ValueError, match=message):
        measured_claim("x", **kwargs)


def test_paired_kinds_refuse_effects():
    with pytest.raises(ValueError, match="kind='paired images' compares baseline and variant by image"):
        measured_claim("x", kind="paired images", effects=[0.1, 0.2], **COMMON)


def test_verdict_strings_are_the_contracts():
    assert VERDICTS == ("reproduced", "within noise", "contradicted", "not tested")
