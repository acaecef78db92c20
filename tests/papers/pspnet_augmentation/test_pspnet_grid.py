"""Notebook 02's grid: runs drawn from their own seed, a frozen backbone that does not learn, weights kept
and reloaded, and the same results whether the sweep runs one or two runs at a time."""

import numpy as np
import pytest
import torch

from helpers.core.sweeps import cached_sweep
from helpers.papers.pspnet_augmentation.grid import GridProtocol, grid_configs, paired, per_seed


def _protocol(tmp_path=None, **kw):
    rng = np.random.default_rng(0)
    x = rng.random((4, 32, 32, 3), dtype=np.float32)
    y = (x[..., 0] > 0.5).astype(np.uint8)
    args = dict(num_classes=2, backbone_weights=None, epochs=1, batch_size=2, head_channels=8, device="cpu",
                weights_dir=None if tmp_path is None else str(tmp_path))
    args.update(kw)
    return GridProtocol(x, y, x[:2], y[:2], **args)


def test_same_seed_same_run_and_other_seed_other_run():
    p = _protocol()
    a = p.run("affine_blur_mix", "adam", seed=0, backbone="random_frozen")
    b = p.run("affine_blur_mix", "adam", seed=0, backbone="random_frozen")
    c = p.run("affine_blur_mix", "adam", seed=1, backbone="random_frozen")
    assert a["val_losses"] == b["val_losses"]
    assert a["val_losses"] != c["val_losses"]


def test_head_weights_depend_on_the_seed_only():
    p = _protocol()
    h0, h0b, h1 = (p.build(s, "random_frozen").head[-1].weight for s in (0, 0, 1))
    assert torch.equal(h0, h0b) and not torch.equal(h0, h1)


def test_frozen_backbone_gets_no_gradient_and_keeps_its_statistics(tmp_path):
    p = _protocol(tmp_path)
    before = p.build(0, "random_frozen").state_dict()
    p.run("none", "sgd_poly", seed=0, backbone="random_frozen")
    model = p.load("none", "sgd_poly", seed=0, backbone="random_frozen")
    assert not any(q.requires_grad for q in model.backbone_parameters())
    after = model.state_dict()
    for k in ("layer1.0.bn1.running_mean", "layer4.2.conv3.weight", "stem.1.running_var"):
        assert torch.equal(before[k], after[k]), k
    assert not torch.equal(before["head.4.weight"], after["head.4.weight"])  # the head did learn
    saved = torch.load(p.weights_path("none", "sgd_poly", 0, "random_frozen"), weights_only=True)
    assert not any(k.startswith("layer") for k in saved)  # the frozen backbone is not saved again


def test_finetuned_backbone_learns(tmp_path):
    p = _protocol(tmp_path)
    before = p.build(0, "pretrained_finetuned").state_dict()["layer4.2.conv3.weight"]
    p.run("none", "sgd_poly", seed=0, backbone="pretrained_finetuned")
    after = p.load("none", "sgd_poly", 0, "pretrained_finetuned").state_dict()["layer4.2.conv3.weight"]
    assert not torch.equal(before, after)


def test_configs_per_seed_and_pairing():
    cfg = grid_configs([0, 1])
    assert len(cfg) == 12 and {c["seed"] for c in cfg} == {0, 1}
    with pytest.raises(ValueError):
        grid_configs([0, 0])
    rows = [{"config": {**c, "backbone": "pretrained_frozen"}, "val_losses": [float(c["seed"]), 1.0],
             "history": {"val_loss": [2.0, 1.0], "mean_iou": [0.1, 0.2]}, "train_loss_clean": 0.5}
            for c in grid_configs([0, 1], augmentations=("none",), optimizers=("adam",))]
    v = per_seed(rows)
    assert v[("pretrained_frozen", "none", "adam")] == {0: 0.5, 1: 1.0}
    a, b, seeds = paired(v, ("pretrained_frozen", "none", "adam"), ("pretrained_frozen", "none", "adam"))
    assert a == b and seeds == [0, 1]
    assert per_seed(rows, "best_val_loss")[("pretrained_frozen", "none", "adam")][0] == 1.0


def test_rejects_a_training_set_without_a_full_batch():
    with pytest.raises(ValueError, match="full batch"):
        _protocol(batch_size=8)


@pytest.mark.slow
def test_one_or_two_workers_give_the_same_results():
    torch.set_num_threads(1)  # as each of two workers on a 2-core machine: the same arithmetic order
    p = _protocol()
    cfg = [{"augmentation": "affine_blur", "optimizer": "adam", "seed": s, "backbone": "random_frozen"} for s in (0, 1)]
    one = cached_sweep(cfg, p.run, None, progress=False, workers=1)
    two = cached_sweep(cfg, p.run, None, progress=False, workers=2)
    for r1, r2 in zip(one, two):
        assert r1["config"] == r2["config"]
        np.testing.assert_allclose(r1["val_losses"], r2["val_losses"], rtol=1e-5, atol=1e-6)
