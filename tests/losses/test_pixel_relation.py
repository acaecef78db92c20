"""The pixel-relation loss: exact zero on separated features, a slow reference, anchors, memory, checks."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from helpers.losses.pixel_relation import FewShotLoss, PixelRelationLoss, fewshot_loss, pixel_relation_loss, sample_anchors

VARIANTS = ("same_image", "two_image")
ANCHORS = ("balanced", "random")


def _labels(n=3, h=6, w=7, k=3, seed=0, ignore_frac=0.0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, k, (n, h, w), generator=g)
    if ignore_frac:
        y[torch.rand(n, h, w, generator=g) < ignore_frac] = 255
    return y


def _separated(y, k, g=2, dtype=torch.float64):
    """Grouped features: group c is +v where the pixel is class c, -v elsewhere (v a random g-vector)."""
    v = torch.randn(k, g, dtype=dtype, generator=torch.Generator().manual_seed(1))
    sign = torch.stack([torch.where(y == c, 1.0, -1.0) for c in range(k)], 1).to(dtype)  # (N, K, H, W)
    feats = sign[:, :, None] * v[None, :, :, None, None]  # (N, K, g, H, W)
    return feats.reshape(y.shape[0], k * g, *y.shape[1:])


def _reference(features, target, k, variant, grouped, anchors, ignore_index=255):
    """Slow loops over images, anchors and pixels, written straight from the paper's description."""
    index, cls, present = anchors
    n, d, h, w = features.shape
    f = features.double().reshape(n, d, h * w)
    y = target.reshape(n, h * w)
    total = 0.0
    for b in range(n):
        bp = b if variant == "same_image" else (b + 1) % n
        for j in range(k):
            if not present[b, j]:
                continue
            c = int(cls[b, j])
            chans = slice(c * (d // k), (c + 1) * (d // k)) if grouped else slice(0, d)
            a = f[b, chans, int(index[b, j])]
            err, count = 0.0, 0
            for p in range(h * w):
                if int(y[bp, p]) == ignore_index:
                    continue
                q = f[bp, chans, p]
                cos = float(a @ q) / max(float(a.norm()) * float(q.norm()), 1e-300)
                t = 1.0 if int(y[bp, p]) == c else -1.0
                err += (cos - t) ** 2
                count += 1
            total += err / max(count, 1)
    return total / n


# ----------------------------------------------------------------------------- the target is met exactly


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("anchor", ANCHORS)
def test_zero_for_perfectly_separated_grouped_features(variant, anchor):
    y = _labels(n=4, k=3, ignore_frac=0.1)
    f = _separated(y, 3)
    loss = pixel_relation_loss(f, y, 3, variant=variant, anchor=anchor, generator=torch.Generator().manual_seed(0))
    assert abs(float(loss)) < 1e-12


@pytest.mark.parametrize("variant", VARIANTS)
def test_zero_for_antipodal_shared_features(variant):
    # With one shared vector per pixel, cos = -1 between every pair of classes is only possible for 2 classes.
    y = _labels(n=3, k=2)
    v = torch.randn(5, dtype=torch.float64)
    f = torch.where(y[:, None] == 0, 1.0, -1.0).double() * v[None, :, None, None]
    assert abs(float(pixel_relation_loss(f, y, 2, variant=variant, grouped=False))) < 1e-12


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("grouped", (True, False))
def test_positive_otherwise(variant, grouped):
    y = _labels(n=3, k=3)
    f = _separated(y, 3)
    f[0, :, 2, 3] *= -1  # one pixel on the wrong side in every group
    assert float(pixel_relation_loss(f, y, 3, variant=variant, grouped=grouped)) > 1e-3
    rnd = torch.randn(3, 6, 6, 7, generator=torch.Generator().manual_seed(3))
    assert float(pixel_relation_loss(rnd, y, 3, variant=variant, grouped=grouped)) > 0.1


def test_known_value_and_bounds():
    y = torch.tensor([[[0, 1], [2, 2]]])
    # All pixels alike: cos = +1 everywhere; each class errs by 4 on every other-class pixel.
    assert float(pixel_relation_loss(torch.ones(1, 3, 2, 2), y, 3)) == pytest.approx(3 + 3 + 2)
    # Upper bound 4 K: the loss can never exceed it.
    rnd = torch.randn(2, 3, 2, 2)
    assert 0 <= float(pixel_relation_loss(rnd, y.expand(2, 2, 2), 3)) <= 12


# ----------------------------------------------------------------------------- against the slow reference


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("anchor", ANCHORS)
@pytest.mark.parametrize("grouped", (True, False))
def test_matches_slow_reference(variant, anchor, grouped):
    k = 3
    y = _labels(n=3, h=5, w=6, k=k, seed=4, ignore_frac=0.15)
    y[1][y[1] == 2] = 0  # image 1 lacks class 2: its anchor must be skipped
    f = torch.randn(3, 2 * k, 5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    anchors = sample_anchors(y, k, anchor=anchor, generator=torch.Generator().manual_seed(6))
    got = pixel_relation_loss(f, y, k, variant=variant, anchor=anchor, grouped=grouped, anchors=anchors)
    assert float(got) == pytest.approx(_reference(f, y, k, variant, grouped, anchors), rel=1e-10, abs=1e-12)
    # The same generator seed draws the same anchors inside the loss.
    again = pixel_relation_loss(f, y, k, variant=variant, anchor=anchor, grouped=grouped,
                                generator=torch.Generator().manual_seed(6))
    assert float(again) == float(got)


def test_two_image_compares_with_the_next_image():
    y = _labels(n=2, k=2)
    f = torch.randn(2, 4, 6, 7, dtype=torch.float64)
    anchors = sample_anchors(y, 2, generator=torch.Generator().manual_seed(0))
    two = pixel_relation_loss(f, y, 2, variant="two_image", anchors=anchors)
    same = pixel_relation_loss(f, y, 2, variant="same_image", anchors=anchors)
    assert float(two) != pytest.approx(float(same))
    assert float(two) == pytest.approx(_reference(f, y, 2, "two_image", True, anchors))


# ----------------------------------------------------------------------------- gradients and dtypes


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("anchor", ANCHORS)
def test_gradient_flows_to_the_features(variant, anchor):
    y = _labels(n=2, k=3)
    f = torch.randn(2, 6, 6, 7, requires_grad=True)
    pixel_relation_loss(f, y, 3, variant=variant, anchor=anchor).backward()
    assert f.grad is not None and torch.isfinite(f.grad).all()
    assert float(f.grad.abs().sum()) > 0
    # Every image's features receive gradient (as anchor source or as compared pixels).
    assert (f.grad.abs().flatten(1).sum(1) > 0).all()


def test_gradcheck_float64():
    y = _labels(n=2, h=3, w=3, k=2)
    f = torch.randn(2, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    anchors = sample_anchors(y, 2, generator=torch.Generator().manual_seed(0))
    assert torch.autograd.gradcheck(lambda t: pixel_relation_loss(t, y, 2, anchors=anchors), (f,))


def test_bf16_autocast_computes_in_float32():
    y = _labels(n=2, k=3)
    f = torch.randn(2, 6, 6, 7)
    ref = pixel_relation_loss(f, y, 3, generator=torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = pixel_relation_loss(f.bfloat16(), y, 3, generator=torch.Generator().manual_seed(0))
    assert got.dtype == torch.float32 and torch.isfinite(got)
    assert float(got) == pytest.approx(float(ref), rel=0.05)


def test_channels_last_features():
    y = _labels(n=2, k=3)
    f = torch.randn(2, 6, 6, 7)
    a = pixel_relation_loss(f, y, 3, generator=torch.Generator().manual_seed(0))
    b = pixel_relation_loss(f.contiguous(memory_format=torch.channels_last), y, 3,
                            generator=torch.Generator().manual_seed(0))
    assert float(a) == pytest.approx(float(b), rel=1e-6)


# ----------------------------------------------------------------------------- anchors


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 3), h=st.integers(1, 6), w=st.integers(1, 6),
       k=st.integers(1, 5))
def test_balanced_anchors_pick_every_present_class(seed, n, h, w, k):
    rng = np.random.default_rng(seed)
    y = torch.from_numpy(rng.integers(0, k, (n, h, w)))
    y[torch.from_numpy(rng.random((n, h, w)) < 0.2)] = 255
    index, cls, present = sample_anchors(y, k, generator=torch.Generator().manual_seed(seed))
    flat = y.reshape(n, -1)
    for b in range(n):
        classes_in_image = set(flat[b].tolist()) - {255}
        assert {c for c in range(k) if present[b, c]} == classes_in_image
        for c in classes_in_image:
            assert int(cls[b, c]) == c
            assert int(flat[b, index[b, c]]) == c  # the anchor is a pixel of its class


def test_balanced_anchor_is_uniform_within_its_class():
    y = torch.zeros(1, 4, 4, dtype=torch.long)
    y[0, 0, :3] = 1  # class 1: three pixels, flat indices 0, 1, 2
    gen = torch.Generator().manual_seed(0)
    hits = torch.stack([sample_anchors(y, 2, generator=gen)[0][0, 1] for _ in range(600)])
    counts = torch.bincount(hits, minlength=16)
    assert set(torch.nonzero(counts).flatten().tolist()) == {0, 1, 2}
    assert counts[:3].min() > 150  # ~200 each


def test_random_anchors_follow_the_pixel_frequencies():
    # 90 % class 0, 10 % class 1: random anchors rarely land on class 1, balanced ones always do.
    y = torch.zeros(1, 10, 10, dtype=torch.long)
    y[0, :1] = 1
    gen = torch.Generator().manual_seed(0)
    cls = torch.cat([sample_anchors(y, 2, anchor="random", generator=gen)[1].flatten() for _ in range(300)])
    share = float((cls == 1).float().mean())
    assert 0.05 < share < 0.16
    index, cls, present = sample_anchors(y, 2, anchor="random", generator=gen)
    assert present.all() and (y.reshape(1, -1).gather(1, index) == cls).all()


def test_absent_and_ignored_pixels():
    y = torch.full((2, 4, 4), 255)
    y[0] = 0
    index, cls, present = sample_anchors(y, 3)
    assert present.tolist() == [[True, False, False], [False, False, False]]
    # A fully ignored image adds nothing; the mean runs over the batch.
    f = _separated(torch.where(y == 255, 0, y), 3)
    assert float(pixel_relation_loss(f, y, 3)) == 0.0
    assert float(pixel_relation_loss(torch.randn(2, 3, 4, 4), torch.full((2, 4, 4), 255), 3)) == 0.0


# ----------------------------------------------------------------------------- memory: K x HW, never HW x HW


class _LargestTensor(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("anchor", ANCHORS)
@pytest.mark.parametrize("grouped", (True, False))
def test_no_tensor_larger_than_classes_times_pixels(variant, anchor, grouped):
    n, k, g, h, w = 2, 3, 2, 48, 48
    y = _labels(n=n, h=h, w=w, k=k)
    f = torch.randn(n, k * g, h, w, requires_grad=True)
    with _LargestTensor() as probe:
        pixel_relation_loss(f, y, k, variant=variant, anchor=anchor, grouped=grouped).backward()
    hw = h * w
    assert probe.largest <= n * max(k * g, k) * hw  # the features' size; one HW x HW map alone would be 2.6e6
    assert probe.largest < hw * hw


def test_runs_where_a_pixel_pair_matrix_could_not():
    # 512 x 512: an HW x HW float32 matrix would take 275 GB; the loss needs a few MB.
    y = _labels(n=1, h=512, w=512, k=3)
    f = torch.randn(1, 3, 512, 512, requires_grad=True)
    loss = pixel_relation_loss(f, y, 3, validate=False)
    loss.backward()
    assert torch.isfinite(loss) and f.grad.shape == f.shape


# ----------------------------------------------------------------------------- argument checks


def test_bad_arguments():
    y = _labels(n=2, k=3)
    f = torch.randn(2, 6, 6, 7)
    with pytest.raises(ValueError, match="variant"):
        pixel_relation_loss(f, y, 3, variant="three_image")
    with pytest.raises(ValueError, match="anchor"):
        pixel_relation_loss(f, y, 3, anchor="hardest")
    with pytest.raises(ValueError, match="multiple of num_classes"):
        pixel_relation_loss(torch.randn(2, 5, 6, 7), y, 3)
    with pytest.raises(ValueError, match="batch of at least 2"):
        pixel_relation_loss(f[:1], y[:1], 3, variant="two_image")
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        pixel_relation_loss(f, y[:, :5], 3)
    with pytest.raises(ValueError, match="4-D"):
        pixel_relation_loss(f[0], y, 3)
    with pytest.raises(ValueError, match="integer class indices"):
        pixel_relation_loss(f, y.float(), 3)
    with pytest.raises(ValueError, match="floating-point"):
        pixel_relation_loss(f.long(), y, 3)
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\]"):
        pixel_relation_loss(f, y + 1, 3)
    with pytest.raises(ValueError, match="num_classes"):
        pixel_relation_loss(f, y, 0)
    with pytest.raises(TypeError, match="generator"):
        pixel_relation_loss(f, y, 3, generator=0)
    with pytest.raises(TypeError, match="features"):
        pixel_relation_loss(f.numpy(), y, 3)
    with pytest.raises(ValueError, match="anchors"):
        pixel_relation_loss(f, y, 3, anchors=(y[:, 0, :2], y[:, 0, :2], y[:, 0, :2]))


# ----------------------------------------------------------------------------- the training loss


def test_fewshot_loss_is_ce_plus_weighted_relation():
    y = _labels(n=2, k=3)
    logits, feats = torch.randn(2, 3, 6, 7), torch.randn(2, 6, 6, 7)
    ce = torch.nn.functional.cross_entropy(logits, y)
    rel = pixel_relation_loss(feats, y, 3, variant="two_image", generator=torch.Generator().manual_seed(0))
    got = fewshot_loss((logits, feats), y, relation_weight=0.5, variant="two_image",
                       generator=torch.Generator().manual_seed(0))
    assert float(got) == pytest.approx(float(ce + 0.5 * rel), rel=1e-6)
    assert float(fewshot_loss(logits, y)) == pytest.approx(float(ce))  # bare logits: the baseline
    assert float(fewshot_loss((logits, feats), y, relation_weight=0)) == pytest.approx(float(ce))
    as_dict = fewshot_loss({"out": logits, "features": feats}, y, relation_weight=0.5, variant="two_image",
                           generator=torch.Generator().manual_seed(0))
    assert float(as_dict) == float(got)
    module = FewShotLoss(0.5, variant="two_image", generator=torch.Generator().manual_seed(0))
    assert float(module((logits, feats), y)) == pytest.approx(float(got))
    assert float(PixelRelationLoss(3, variant="two_image")(feats, y, torch.Generator().manual_seed(0))) == float(rel)


def test_fewshot_loss_ignores_the_ignore_index():
    y = _labels(n=2, k=3, ignore_frac=0.3)
    loss = fewshot_loss((torch.randn(2, 3, 6, 7), torch.randn(2, 6, 6, 7)), y)
    assert math.isfinite(float(loss))


def test_fewshot_loss_bad_arguments():
    y = _labels(n=2, k=3)
    with pytest.raises(ValueError, match="relation_weight"):
        fewshot_loss(torch.randn(2, 3, 6, 7), y, relation_weight=-1)
    with pytest.raises(ValueError, match="relation_weight"):
        FewShotLoss(float("nan"))
    with pytest.raises(ValueError, match=r"\(logits, features\)"):
        fewshot_loss((torch.randn(2, 3, 6, 7),) * 3, y)
    with pytest.raises(ValueError, match="'out'"):
        fewshot_loss({"logits": torch.randn(2, 3, 6, 7)}, y)
    with pytest.raises(ValueError, match="logits"):
        fewshot_loss(torch.randn(2, 3, 6), y)
