"""DCN: output size for every kernel, branch fusion, auxiliary loss and its decay, the contrast measure."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.papers.dcn_kernel_tuning.study import (PAPER_TABLE1, PAPER_TABLE1_BASELINE, PAPER_TABLE1_PROPOSED, branch_maps,
                               contrast_guided_search, feature_map_contrast, format_table1, kernel_contrast_spearman,
                               plot_branch_maps, propose_kernels, table1_change, table1_rows)
from helpers.losses.dcn import DCNLoss, aux_weight_schedule, dcn_loss
from helpers.models.dcn import PAPER_KERNELS, STRIDES, dcn, deconv_padding

# The paper's Table 1 sweep plus odd kernels and kernels smaller than their stride.
EXTRA_KERNELS = [(1, 1, 1), (3, 5, 7), (2, 3, 9), (5, 13, 17), (1, 2, 4)]
ALL_KERNELS = list(PAPER_TABLE1) + EXTRA_KERNELS


def test_paper_table1():
    assert len(PAPER_TABLE1) == 16 and PAPER_TABLE1_BASELINE == PAPER_KERNELS == (4, 8, 16)
    assert PAPER_TABLE1[(4, 8, 16)] == 0.6536 and PAPER_TABLE1[(4, 8, 10)] == 0.7041
    assert all(k in PAPER_TABLE1 for k in PAPER_TABLE1_PROPOSED)
    assert max(PAPER_TABLE1, key=PAPER_TABLE1.get) == (6, 8, 16)  # the best row is not a proposed one


@pytest.mark.parametrize("stride", STRIDES)
def test_deconv_padding_gives_exact_upsampling(stride):
    for k in range(1, 25):
        p, op = deconv_padding(k, stride)
        assert 0 <= op < stride and p >= 0
        for n in (1, 2, 5):
            assert (n - 1) * stride - 2 * p + k + op == n * stride, (k, stride, n)
        if k >= stride:  # footprint centred to within half a pixel
            assert abs((k - stride) / 2 - p) <= 0.5


@pytest.mark.parametrize("kernels", ALL_KERNELS, ids=lambda k: "-".join(map(str, k)))
def test_output_size_equals_input_size(kernels):
    model = dcn(kernels=kernels, width=2).eval()
    with torch.no_grad():
        for h, w in ((8, 8), (16, 24), (40, 32)):
            out, *branches = model(torch.rand(1, 1, h, w), return_branches=True)
            assert out.shape == (1, 1, h, w)
            assert all(b.shape == (1, 1, h, w) for b in branches)


def test_bad_inputs_are_rejected():
    model = dcn(width=2)
    with pytest.raises(ValueError, match="divisible by 8"):
        model(torch.zeros(1, 1, 20, 16))
    with pytest.raises(ValueError, match="input channel"):
        model(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        model(torch.zeros(1, 16, 16))
    for bad in ((4, 8), (4, 8, 0), "abc", 5, (4, 8.5, 16)):
        with pytest.raises(ValueError, match="kernel"):
            dcn(kernels=bad)
    with pytest.raises(ValueError, match="width"):
        dcn(width=0)


def test_output_is_the_sum_of_the_three_branches():
    torch.manual_seed(0)
    model = dcn(kernels=(2, 6, 16), width=4).eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        out, f1, f2, f3 = model(x, return_branches=True)
        plain = model(x)
    torch.testing.assert_close(out, f1 + f2 + f3)
    torch.testing.assert_close(plain, out)
    # Three distinct maps, each of which matters.
    assert not torch.allclose(f1, f2) and not torch.allclose(f2, f3)
    assert all(float(f.std()) > 0 for f in (f1, f2, f3))


def test_training_mode_returns_branches_and_fit_consumes_them():
    from helpers.training import _main_output, fit

    torch.manual_seed(0)
    model = dcn(width=2)
    out = model.train()(torch.rand(2, 1, 16, 16))
    assert isinstance(out, tuple) and len(out) == 4
    assert _main_output(out) is out[0]
    x = torch.rand(8, 1, 16, 16)
    y = (x[:, 0] > 0.5).float()
    crit = DCNLoss(total_steps=4)
    hist = fit(model, (x, y), val_data=(x[:4], y[:4]), loss_fn=crit, epochs=2, batch_size=4, task="binary",
               progress=False, device="cpu")
    assert crit.step == 4  # two epochs of two training steps; validation calls do not count
    assert all(math.isfinite(v) for v in hist.train_loss + hist.val_loss)
    assert model.eval()(x[:1]).shape == (1, 1, 16, 16)


def test_channels_last_bf16_forward():
    model = dcn(width=4).to(memory_format=torch.channels_last).eval()
    x = torch.rand(2, 1, 16, 16).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out, *branches = model(x, return_branches=True)
    assert out.shape == (2, 1, 16, 16) and bool(torch.isfinite(out.float()).all())
    y = torch.zeros(2, 16, 16)
    assert math.isfinite(float(dcn_loss((out, *branches), y)))


def test_multiclass_dcn_and_loss():
    model = dcn(num_classes=3, width=2).train()
    out = model(torch.rand(2, 1, 8, 8))
    y = torch.randint(0, 3, (2, 8, 8))
    loss = dcn_loss(out, y, 0.5)
    expected = F.cross_entropy(out[0], y) + 0.5 * sum(F.cross_entropy(f, y) for f in out[1:])
    torch.testing.assert_close(loss, expected)


def test_dcn_loss_value():
    torch.manual_seed(0)
    fused, f1, f2, f3 = (torch.randn(2, 1, 8, 8) for _ in range(4))
    y = (torch.rand(2, 8, 8) > 0.7).float()
    bce = lambda z: F.binary_cross_entropy_with_logits(z, y[:, None])  # noqa: E731
    torch.testing.assert_close(dcn_loss((fused, f1, f2, f3), y, 0.3), bce(fused) + 0.3 * (bce(f1) + bce(f2) + bce(f3)))
    torch.testing.assert_close(dcn_loss((fused, f1, f2, f3), y, 0.0), bce(fused))
    torch.testing.assert_close(dcn_loss(fused, y, 5.0), bce(fused))  # eval output: fused loss only
    torch.testing.assert_close(dcn_loss(fused, y[:, None]), bce(fused))  # (N, 1, H, W) target
    pw = dcn_loss(fused, y, pos_weight=3.0)
    torch.testing.assert_close(pw, F.binary_cross_entropy_with_logits(fused, y[:, None], pos_weight=torch.tensor(3.0)))


def test_dcn_loss_rejects_bad_input():
    z = torch.zeros(1, 1, 8, 8)
    y = torch.zeros(1, 8, 8)
    with pytest.raises(ValueError, match="aux_weight"):
        dcn_loss((z, z, z, z), y, -1.0)
    with pytest.raises(ValueError, match="fused, F1, F2, F3"):
        dcn_loss((z, z), y)
    with pytest.raises(ValueError, match="target must have shape"):
        dcn_loss(z, torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="F2"):
        dcn_loss((z, z, torch.zeros(1, 1, 4, 4), z), y)


def test_aux_weight_decays():
    w = [aux_weight_schedule(e, 10) for e in range(10)]
    assert w[0] == 1.0 and math.isclose(w[-1], 0.01)
    assert all(a > b for a, b in zip(w, w[1:]))
    assert all(math.isclose(b / a, w[1] / w[0]) for a, b in zip(w, w[1:]))  # geometric: constant ratio
    lin = [aux_weight_schedule(e, 5, 1.0, 0.0, "linear") for e in range(5)]
    assert lin == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert aux_weight_schedule(50, 10) == pytest.approx(0.01)  # past the end: stays at `end`
    with pytest.raises(ValueError, match="decay"):
        aux_weight_schedule(0, 10, start=0.1, end=1.0)
    with pytest.raises(ValueError, match="linear"):
        aux_weight_schedule(0, 10, start=1.0, end=0.0)
    with pytest.raises(ValueError, match="step"):
        aux_weight_schedule(-1, 10)


def test_dcn_loss_module_uses_the_decaying_weight():
    torch.manual_seed(0)
    outs = tuple(torch.randn(1, 1, 8, 8) for _ in range(4))
    y = torch.zeros(1, 8, 8)
    crit = DCNLoss(total_steps=3, start=1.0, end=0.01)
    got = [crit(outs, y) for _ in range(3)]
    want = [dcn_loss(outs, y, w) for w in (1.0, 0.1, 0.01)]
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
    assert got[0] > got[1] > got[2]
    crit(outs[0], y)  # an eval output does not advance the schedule
    assert crit.step == 3
    const = DCNLoss()
    assert const.aux_weight == 1.0 and DCNLoss(schedule=lambda s: 0.5).aux_weight == 0.5
    with pytest.raises(ValueError, match="not both"):
        DCNLoss(total_steps=3, schedule=lambda s: 0.5)


def test_feature_map_contrast_hand_computed():
    two_level = np.array([[0.0, 0.0], [1.0, 1.0]])
    assert float(feature_map_contrast(two_level, clip=0)) == pytest.approx(0.5)
    # u = (0, 1, 1, 1): mean 3/4, variance 3/16.
    assert float(feature_map_contrast(np.array([[0.0, 1.0], [1.0, 1.0]]), clip=0)) == pytest.approx(math.sqrt(3) / 4)
    # Scale and offset of the logits do not matter; a constant map has contrast 0.
    assert float(feature_map_contrast(-7.0 * two_level + 3.0, clip=0)) == pytest.approx(0.5)
    assert float(feature_map_contrast(np.full((4, 4), 2.5))) == 0.0
    # One hot pixel: min-max scaling crushes the rest to 0 (low contrast); the quantile clip ignores it.
    rng = np.random.default_rng(0)
    m = (rng.random((64, 64)) > 0.5).astype(np.float32)
    m_hot = m.copy()
    m_hot[0, 0] = 1000.0
    assert float(feature_map_contrast(m_hot, clip=0)) < 0.05
    assert float(feature_map_contrast(m_hot, clip=0.01)) == pytest.approx(0.5, abs=0.01)


def test_feature_map_contrast_shapes_and_torch():
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(2, 3, 16, 16)).astype(np.float32)
    maps[:, 2] = np.sign(maps[:, 2])  # a crisp two-level map beats Gaussian noise
    c = feature_map_contrast(maps)
    assert c.shape == (2, 3) and c.dtype == np.float32
    assert (c[:, 2] > c[:, 0]).all()
    ct = feature_map_contrast(torch.from_numpy(maps))
    assert isinstance(ct, torch.Tensor) and ct.shape == (2, 3)
    np.testing.assert_allclose(ct.numpy(), c, rtol=1e-5, atol=1e-6)
    for bad, err in ((np.zeros(4), ValueError), (np.zeros((2, 2), np.int64), ValueError), ([[0.0]], TypeError),
                     (np.array([[np.nan, 0.0]]), ValueError)):
        with pytest.raises(err):
            feature_map_contrast(bad)
    with pytest.raises(ValueError, match="clip"):
        feature_map_contrast(maps, clip=0.5)


def test_branch_maps_and_figure():
    torch.manual_seed(0)
    model = dcn(width=2)
    x = torch.rand(3, 1, 16, 16)
    maps = branch_maps(model, x, batch_size=2)
    assert maps.shape == (3, 3, 16, 16) and model.training  # mode restored
    with torch.no_grad():
        _, *fs = model.eval()(x, return_branches=True)
    torch.testing.assert_close(maps[:, 1], fs[1][:, 0])
    fig = plot_branch_maps(x, maps, (x[:, 0] > 0.5).long(), kernels=(4, 8, 16), n=2)
    assert len(fig.axes) == 2 * 6
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        plot_branch_maps(x, maps[:, :2])
    with pytest.raises(ValueError, match="channel"):
        branch_maps(model, x, channel=1)


def test_table1_change_reduces_one_branch_as_far_as_the_paper_went():
    assert table1_change(0) == (2, 8, 16)
    assert table1_change(1) == (4, 6, 16)
    assert table1_change(2) == (4, 8, 10)  # the paper's own choice
    assert table1_change(2, table={(4, 8, 12): 0.5, (4, 6, 12): 0.5}) == (4, 8, 12)
    for bad in (-1, 3, True, 1.0):
        with pytest.raises(ValueError, match="branch"):
            table1_change(bad)
    with pytest.raises(ValueError, match="no row"):
        table1_change(0, base=(2, 8, 16))


def test_propose_kernels_follows_the_lowest_contrast():
    assert propose_kernels((4, 8, 16), [0.3, 0.25, 0.12]) == ((4, 8, 14), 2)
    assert propose_kernels((4, 8, 16), [0.1, 0.25, 0.12]) == ((2, 8, 16), 0)
    # F3 reduced down to its stride (8), then the next-worst branch.
    tried = {(4, 8, k) for k in (14, 12, 10, 8)}
    assert propose_kernels((4, 8, 16), [0.3, 0.25, 0.12], tried) == ((4, 6, 16), 1)
    assert propose_kernels((4, 8, 16), [0.3, 0.25, 0.12], tried, min_kernels=(1, 1, 6)) == ((4, 8, 6), 2)
    assert propose_kernels((2, 4, 8), [0.1, 0.2, 0.3]) is None  # every kernel at its stride already
    assert propose_kernels((4, 8, 16), [0.3, 0.25, 0.12], step=4) == ((4, 8, 12), 2)
    with pytest.raises(ValueError, match="contrast"):
        propose_kernels((4, 8, 16), [0.3, np.nan, 0.1])
    with pytest.raises(ValueError, match="kernels"):
        propose_kernels((4, 8), [0.3, 0.2, 0.1])
    with pytest.raises(ValueError, match="step"):
        propose_kernels((4, 8, 16), [0.3, 0.2, 0.1], step=0)


def test_contrast_guided_search_greedy_and_budget():
    calls = []

    def evaluate(k):  # best at F3 = 12; F3's contrast rises as its kernel shrinks
        calls.append(k)
        return {"iou": 1.0 - abs(k[2] - 12) / 10 - abs(k[0] - 4) / 10, "contrast": [0.3, 0.3, 0.01 * (30 - k[2])]}

    out = contrast_guided_search(evaluate, budget=5)
    assert calls[0] == (4, 8, 16) and len(calls) == len(set(calls)) == 5
    assert out["best"] == (4, 8, 12) and out["best_score"] == pytest.approx(1.0)
    assert [h["accepted"] for h in out["history"]] == [True, True, True, False, False]
    assert out["history"][0]["branch"] is None and out["history"][1]["branch"] == 2
    # Budget 1: just the start; a start with nothing left to reduce stops early.
    assert len(contrast_guided_search(evaluate, budget=1)["history"]) == 1
    assert len(contrast_guided_search(evaluate, start=(2, 4, 8), budget=4)["history"]) == 1
    with pytest.raises(ValueError, match="budget"):
        contrast_guided_search(evaluate, budget=0)
    with pytest.raises(ValueError, match="contrast"):
        contrast_guided_search(lambda k: {"iou": 0.5}, budget=2)
    with pytest.raises(ValueError, match="non-finite"):
        contrast_guided_search(lambda k: {"iou": float("nan"), "contrast": [0.1, 0.2, 0.3]}, budget=2)


def test_kernel_contrast_spearman_matches_scipy():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    k = np.array(list(PAPER_TABLE1))
    c = rng.random((len(k), 3))
    rho = kernel_contrast_spearman(k, c)
    for b in range(3):
        assert rho[b] == pytest.approx(spearmanr(k[:, b], c[:, b])[0])
    # Strictly falling contrast with the kernel: -1; a branch whose kernel never changes: NaN.
    k2 = [(4, 8, 16), (4, 8, 12), (4, 8, 10)]
    c2 = [(0.3, 0.2, 0.1), (0.3, 0.1, 0.2), (0.2, 0.3, 0.3)]
    rho2 = kernel_contrast_spearman(k2, c2)
    assert np.isnan(rho2[0]) and np.isnan(rho2[1]) and rho2[2] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="runs"):
        kernel_contrast_spearman([(4, 8, 16)], [(0.1, 0.2, 0.3)])
    with pytest.raises(ValueError, match="NaN"):
        kernel_contrast_spearman(k2, [(0.3, 0.2, np.inf)] * 3)


def test_table1_rows_and_markdown():
    ours = {(4, 8, 16): {"iou": 0.70, "dice": 0.82, "mean_iou": 0.8}, (4, 8, 10): {"iou": 0.73, "dice": 0.84},
            (6, 6, 6): {"iou": 0.5}}
    rows = table1_rows(ours, chosen=[(4, 8, 10)])
    assert len(rows) == 17 and [r["kernels"] for r in rows[:16]] == list(PAPER_TABLE1)
    assert rows[0]["note"] == "before" and rows[0]["delta"] is None and rows[0]["paper_delta"] is None
    assert rows[1]["note"] == "proposed, ours" and rows[1]["delta"] == pytest.approx(0.03)
    assert rows[1]["paper_delta"] == pytest.approx(0.0505)
    assert rows[6]["paper_delta"] == pytest.approx(-0.1338) and rows[6]["iou"] is None
    assert rows[-1]["kernels"] == (6, 6, 6) and rows[-1]["paper_iou"] is None
    text = format_table1(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + 17 and all(line.count("|") == 8 for line in lines)
    assert "| 4, 8, 10 (proposed, ours) | 0.7041 | +0.0505 | 0.7300 | +0.0300 | 0.8400 | – |" in lines
    with pytest.raises(ValueError, match="kernels"):
        table1_rows({(4, 8): {"iou": 0.5}})
