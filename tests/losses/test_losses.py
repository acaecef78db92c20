"""Tests for helpers.losses: hand-worked values, torch references, gradients, bf16, bad input."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from helpers.losses import (  # noqa: E402
    BCEDiceLoss,
    DiceLoss,
    SoftTargetCrossEntropy,
    bce_dice_loss,
    dice_loss,
    soft_target_cross_entropy,
)


def hand_dice(p: torch.Tensor, t: torch.Tensor, eps: float) -> torch.Tensor:
    """Written out per sample, independent of the implementation's flatten/sum."""
    out = []
    for pi, ti in zip(p, t):
        inter = (pi * ti).sum()
        out.append(1 - (2 * inter + eps) / (pi.sum() + ti.sum() + eps))
    return torch.stack(out).mean()


# ----------------------------------------------------------------------------- dice / bce+dice


def test_dice_perfect_prediction_is_zero_and_inverse_is_near_one():
    t = (torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    logits = (t * 2 - 1) * 30  # sigmoid saturates to exactly the mask
    assert float(dice_loss(logits, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(dice_loss(-logits, t, eps=0.0)) == pytest.approx(1.0, abs=1e-6)


def test_dice_by_hand():
    # logits 0 -> p = 0.5 everywhere; t = 1 1 0 0: Σpt = 1, Σp = 2, Σt = 2
    t = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    assert float(dice_loss(torch.zeros(1, 4), t, eps=0.0)) == pytest.approx(1 - 2 * 1 / 4)
    assert float(dice_loss(torch.zeros(1, 4), t, eps=1.0)) == pytest.approx(1 - 3 / 5)


def test_dice_is_per_sample_then_mean():
    # sample 0: one foreground pixel, missed; sample 1: 3 pixels, all found (eps=0).
    # per-sample: (1 + 0) / 2 = 0.5; a pooled Dice would be 1 - 2*3/(3+4) = 1/7 instead.
    t = torch.tensor([[1.0, 0, 0, 0], [1.0, 1, 1, 0]])
    logits = torch.tensor([[-50.0, -50, -50, -50], [50.0, 50, 50, -50]])
    assert float(dice_loss(logits, t, eps=0.0)) == pytest.approx(0.5, abs=1e-6)


def test_dice_empty_mask_and_empty_prediction_is_zero_with_smoothing():
    assert float(dice_loss(torch.full((2, 1, 4, 4), -40.0), torch.zeros(2, 1, 4, 4))) == pytest.approx(0.0, abs=1e-6)


def test_bce_dice_by_hand():
    # logits (0, ln 3) -> p = (1/2, 3/4); target (1, 0)
    # BCE = (-ln(1/2) - ln(1 - 3/4)) / 2 = (ln 2 + ln 4) / 2 = 1.5 ln 2
    # Dice (eps=1) = 1 - (2*0.5 + 1) / (1.25 + 1 + 1) = 1 - 2/3.25
    logits = torch.tensor([[0.0, math.log(3.0)]])
    t = torch.tensor([[1.0, 0.0]])
    expected = 1.5 * math.log(2) + (1 - 2 / 3.25)
    assert float(bce_dice_loss(logits, t)) == pytest.approx(expected, rel=1e-6)
    # and with weights
    assert float(bce_dice_loss(logits, t, bce_weight=0.5, dice_weight=2.0)) == pytest.approx(
        0.5 * 1.5 * math.log(2) + 2 * (1 - 2 / 3.25), rel=1e-6)


def test_bce_dice_equals_torch_bce_plus_hand_dice():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 1, 9, 7, generator=g) * 3
    t = (torch.rand(4, 1, 9, 7, generator=g) > 0.7).float()
    ref = F.binary_cross_entropy(torch.sigmoid(logits), t) + hand_dice(torch.sigmoid(logits), t, 1.0)
    assert float(bce_dice_loss(logits, t)) == pytest.approx(float(ref), rel=1e-5)
    assert float(BCEDiceLoss()(logits, t)) == pytest.approx(float(ref), rel=1e-5)
    assert float(DiceLoss(eps=0.5)(logits, t)) == pytest.approx(float(hand_dice(torch.sigmoid(logits), t, 0.5)),
                                                               rel=1e-5)


def test_bool_and_integer_targets_are_accepted():
    logits = torch.randn(2, 5, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([[1, 0, 1, 0, 0], [0, 0, 1, 1, 1]])
    ref = bce_dice_loss(logits, t.float())
    assert torch.allclose(bce_dice_loss(logits, t), ref)
    assert torch.allclose(bce_dice_loss(logits, t.bool()), ref)


def test_dice_gradcheck_float64():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 1, 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    t = torch.rand(2, 1, 3, 3, dtype=torch.float64, generator=g)
    assert torch.autograd.gradcheck(lambda z: dice_loss(z, t), (logits,))
    assert torch.autograd.gradcheck(lambda z: bce_dice_loss(z, t, 0.7, 1.3), (logits,))
    assert bce_dice_loss(logits, t).dtype == torch.float64


def test_gradient_signs_push_towards_the_mask():
    t = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    logits = torch.zeros(1, 4, requires_grad=True)
    bce_dice_loss(logits, t).backward()
    g = logits.grad[0]
    assert torch.isfinite(g).all()
    assert (g[:2] < 0).all() and (g[2:] > 0).all()  # raise foreground logits, lower background
    logits.grad = None
    dice_loss(logits, t).backward()
    assert (logits.grad[0, :2] < 0).all() and (logits.grad[0, 2:] > 0).all()


def test_gradients_finite_for_extreme_logits():
    logits = torch.tensor([[1e4, -1e4, 80.0, -80.0]], requires_grad=True)
    loss = bce_dice_loss(logits, torch.tensor([[0.0, 1.0, 1.0, 0.0]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


# ----------------------------------------------------------------------------- soft-target CE


def test_soft_ce_with_one_hot_equals_cross_entropy_pixels():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(2, 5, 6, 7, generator=g) * 2
    labels = torch.randint(0, 5, (2, 6, 7), generator=g)
    q = F.one_hot(labels, 5).permute(0, 3, 1, 2).float()
    assert float(soft_target_cross_entropy(logits, q)) == pytest.approx(float(F.cross_entropy(logits, labels)),
                                                                       rel=1e-6)


def test_soft_ce_with_one_hot_equals_cross_entropy_samples():
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(8, 3, generator=g)
    labels = torch.randint(0, 3, (8,), generator=g)
    q = F.one_hot(labels, 3).float()
    assert float(SoftTargetCrossEntropy()(logits, q)) == pytest.approx(float(F.cross_entropy(logits, labels)),
                                                                      rel=1e-6)


def test_soft_ce_ignore_mask_equals_cross_entropy_ignore_index():
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(2, 4, 5, 5, generator=g)
    labels = torch.randint(0, 4, (2, 5, 5), generator=g)
    labels[0, 0] = 255
    ignored = labels == 255
    q = F.one_hot(labels.clamp(max=3), 4).permute(0, 3, 1, 2).float()
    q = q * (~ignored).unsqueeze(1)  # ignored pixels get all-zero targets, which must be allowed
    ref = F.cross_entropy(logits, labels, ignore_index=255)
    assert float(soft_target_cross_entropy(logits, q, ignore_mask=ignored)) == pytest.approx(float(ref), rel=1e-6)
    assert float(soft_target_cross_entropy(logits, q, valid_mask=~ignored)) == pytest.approx(float(ref), rel=1e-6)


def test_soft_ce_is_linear_in_the_mixup_target():
    # Mixup: CE(λ q1 + (1-λ) q2) = λ CE(q1) + (1-λ) CE(q2)
    g = torch.Generator().manual_seed(7)
    logits = torch.randn(3, 4, 2, 2, generator=g)
    a, b = torch.randint(0, 4, (2, 3, 2, 2), generator=g)
    lam = 0.3
    qa = F.one_hot(a, 4).permute(0, 3, 1, 2).float()
    qb = F.one_hot(b, 4).permute(0, 3, 1, 2).float()
    mixed = soft_target_cross_entropy(logits, lam * qa + (1 - lam) * qb)
    ref = lam * F.cross_entropy(logits, a) + (1 - lam) * F.cross_entropy(logits, b)
    assert float(mixed) == pytest.approx(float(ref), rel=1e-6)


def test_soft_ce_all_ignored_is_zero_with_zero_gradient():
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    q = torch.full((1, 3, 2, 2), 1 / 3)
    loss = soft_target_cross_entropy(logits, q, ignore_mask=torch.ones(1, 2, 2, dtype=torch.bool))
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.equal(logits.grad, torch.zeros_like(logits))


def test_soft_ce_gradcheck_float64():
    g = torch.Generator().manual_seed(8)
    logits = torch.randn(2, 3, 2, 2, dtype=torch.float64, generator=g, requires_grad=True)
    q = torch.softmax(torch.randn(2, 3, 2, 2, dtype=torch.float64, generator=g), 1)
    mask = torch.tensor([[[True, False], [False, False]], [[False, False], [True, False]]])
    assert torch.autograd.gradcheck(lambda z: soft_target_cross_entropy(z, q, ignore_mask=mask), (logits,))
    # gradient of mean CE wrt logits is (softmax - q) / n_pixels
    z = logits.detach().clone().requires_grad_(True)
    soft_target_cross_entropy(z, q).backward()
    assert torch.allclose(z.grad, (torch.softmax(z.detach(), 1) - q) / 8)


# ----------------------------------------------------------------------------- mixed precision


def test_bf16_autocast_on_cpu_gives_finite_float32_losses():
    g = torch.Generator().manual_seed(9)
    x = torch.randn(2, 3, 16, 16, generator=g)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    t = (torch.rand(2, 1, 16, 16, generator=g) > 0.5).float()
    q = torch.softmax(torch.randn(2, 4, 16, 16, generator=g), 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = conv(x)
        assert logits.dtype == torch.bfloat16  # the test really feeds bf16 in
        losses = [bce_dice_loss(logits[:, :1], t), dice_loss(logits[:, :1], t),
                  soft_target_cross_entropy(logits, q)]
    for loss in losses:
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
    # same bf16 logits evaluated in float32 outside autocast: the loss does not lose precision
    ref = bce_dice_loss(logits[:, :1].float(), t)
    assert float(losses[0].detach()) == pytest.approx(float(ref.detach()), rel=1e-6)
    losses[0].backward()
    assert torch.isfinite(conv.weight.grad).all()


def test_half_input_computes_in_float32():
    logits = torch.randn(1, 1, 64, 64).half()
    t = torch.ones(1, 1, 64, 64)
    assert dice_loss(logits, t).dtype == torch.float32


# ----------------------------------------------------------------------------- validate flag


def test_validate_false_skips_value_checks_only():
    logits = torch.zeros(1, 2)
    assert torch.isfinite(bce_dice_loss(logits, torch.tensor([[2.0, 0.0]]), validate=False))
    assert torch.isfinite(soft_target_cross_entropy(logits, torch.tensor([[0.9, 0.9]]), validate=False))
    with pytest.raises(ValueError, match="same shape"):
        bce_dice_loss(logits, torch.zeros(1, 3), validate=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.filterwarnings("ignore:Synchronization debug mode is a prototype")
def test_cuda_losses_without_validation_do_not_sync():
    logits = torch.randn(2, 3, 32, 32, device="cuda", requires_grad=True)
    t = (torch.rand(2, 1, 32, 32, device="cuda") > 0.5).float()
    q = torch.softmax(torch.randn(2, 3, 32, 32, device="cuda"), 1)
    mask = torch.rand(2, 32, 32, device="cuda") > 0.9
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        loss = bce_dice_loss(logits[:, :1], t, validate=False) + soft_target_cross_entropy(
            logits, q, ignore_mask=mask, validate=False)
        loss.backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(loss).item()


# ----------------------------------------------------------------------------- bad input


def test_dice_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"logits and target must have the same shape, got \(2, 1, 4, 4\) and \(2, 4, 4\)"):
        dice_loss(torch.zeros(2, 1, 4, 4), torch.zeros(2, 4, 4))


def test_bce_dice_rejects_target_above_one():
    with pytest.raises(ValueError, match=r"target must lie in \[0.0, 1.0\], found values in \[0, 255\]"):
        bce_dice_loss(torch.zeros(1, 4), torch.tensor([[0.0, 255.0, 0.0, 0.0]]))


def test_dice_rejects_negative_target():
    with pytest.raises(ValueError, match=r"target must lie in \[0.0, 1.0\]"):
        dice_loss(torch.zeros(1, 2), torch.tensor([[-1.0, 0.0]]))


def test_dice_rejects_integer_logits():
    with pytest.raises(ValueError, match=r"logits must be a floating-point tensor of raw scores, got dtype torch.int64"):
        dice_loss(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4))


def test_dice_rejects_missing_batch_axis():
    with pytest.raises(ValueError, match=r"logits must have a batch axis first, at least 2-D, got shape \(4,\)"):
        dice_loss(torch.zeros(4), torch.zeros(4))


def test_dice_rejects_empty_batch():
    with pytest.raises(ValueError, match=r"logits holds an empty batch"):
        dice_loss(torch.zeros(0, 4), torch.zeros(0, 4))


def test_dice_rejects_negative_eps():
    with pytest.raises(ValueError, match=r"eps must be a finite number >= 0.0, got -1"):
        dice_loss(torch.zeros(1, 4), torch.zeros(1, 4), eps=-1)


def test_bce_dice_rejects_negative_weight():
    with pytest.raises(ValueError, match=r"dice_weight must be a finite number >= 0.0, got -0.5"):
        bce_dice_loss(torch.zeros(1, 4), torch.zeros(1, 4), dice_weight=-0.5)


def test_module_rejects_bad_weight_at_construction():
    with pytest.raises(ValueError, match=r"bce_weight must be a finite number"):
        BCEDiceLoss(bce_weight=float("nan"))


def test_losses_reject_numpy_input():
    import numpy as np

    with pytest.raises(TypeError, match=r"logits must be a torch tensor, got ndarray"):
        dice_loss(np.zeros((1, 4)), torch.zeros(1, 4))


def test_soft_ce_rejects_targets_not_summing_to_one():
    with pytest.raises(ValueError, match=r"soft_target must sum to 1 over the class axis \(axis 1\).*off by 0.8"):
        soft_target_cross_entropy(torch.zeros(1, 2), torch.tensor([[0.9, 0.9]]))


def test_soft_ce_rejects_negative_targets():
    with pytest.raises(ValueError, match=r"soft_target must be non-negative, found -0.5"):
        soft_target_cross_entropy(torch.zeros(1, 2), torch.tensor([[1.5, -0.5]]))


def test_soft_ce_rejects_integer_targets():
    with pytest.raises(ValueError, match=r"soft_target must be a floating-point tensor of class probabilities"):
        soft_target_cross_entropy(torch.zeros(2, 3), torch.tensor([[1, 0, 0], [0, 1, 0]]))


def test_soft_ce_rejects_label_map_instead_of_soft_target():
    with pytest.raises(ValueError, match=r"logits and soft_target must have the same shape, got \(2, 3, 4, 4\) and \(2, 4, 4\)"):
        soft_target_cross_entropy(torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4))


def test_soft_ce_rejects_mask_of_wrong_shape():
    with pytest.raises(ValueError, match=r"ignore_mask must have shape \(2, 4, 4\) \(logits without the class axis\), got \(2, 1, 4, 4\)"):
        soft_target_cross_entropy(torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 1 / 3),
                                  ignore_mask=torch.zeros(2, 1, 4, 4, dtype=torch.bool))


def test_soft_ce_rejects_non_bool_mask():
    with pytest.raises(ValueError, match=r"valid_mask must be a bool tensor, got torch.float32"):
        soft_target_cross_entropy(torch.zeros(2, 3), torch.full((2, 3), 1 / 3), valid_mask=torch.ones(2))


def test_soft_ce_rejects_both_masks():
    m = torch.ones(2, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"give ignore_mask or valid_mask, not both"):
        soft_target_cross_entropy(torch.zeros(2, 3), torch.full((2, 3), 1 / 3), ignore_mask=m, valid_mask=m)


def test_soft_ce_checks_only_valid_pixels():
    # the ignored pixel's all-zero target must not trip the sum-to-one check
    q = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    soft_target_cross_entropy(torch.zeros(2, 2), q, ignore_mask=torch.tensor([False, True]))
    with pytest.raises(ValueError, match=r"soft_target must sum to 1"):
        soft_target_cross_entropy(torch.zeros(2, 2), q)


def test_soft_ce_rejects_nan_targets():
    with pytest.raises(ValueError, match=r"soft_target must sum to 1 .*off by nan"):
        soft_target_cross_entropy(torch.zeros(1, 2), torch.tensor([[float("nan"), 0.5]]))
