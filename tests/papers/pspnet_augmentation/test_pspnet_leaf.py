"""Notebook 02's one-class leaf output: a loss that makes the rare lesion class count, training by steps
with the best held-out weights kept, and the checks that refuse constant lesion maps."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from helpers.augment.mixing import mix_batch
from helpers.augment.segmentation import normalise_images
from helpers.data.synthetic.scenes import synthetic_leaves
from helpers.papers.pspnet_augmentation.leaf import (fraction_correlation, lesion_iou, lesion_loss, lesion_map_check,
                                                     lesion_probability, lesion_weight, train_lesions)


def test_lesion_weight_is_the_background_share_capped():
    assert lesion_weight(np.array([0] * 9 + [1])) == 9.0
    assert lesion_weight(np.array([0] * 99 + [1]), cap=20) == 20.0
    assert lesion_weight(np.array([0, 255, 1, 1])) == 1.0
    with pytest.raises(ValueError, match="no lesion"):
        lesion_weight(np.zeros(5))


def test_all_background_prediction_costs_more_with_the_weight_and_dice():
    y = torch.zeros(2, 8, 8, dtype=torch.long)
    y[:, :2, :2] = 1  # 1 pixel in 16 is lesion
    background = torch.stack([torch.full((2, 8, 8), 5.0), torch.zeros(2, 8, 8)], 1)
    plain = nn.functional.cross_entropy(background, y)
    assert float(lesion_loss(background, y, weight=15.0, dice=1.0)) > 3 * float(plain)
    right = torch.stack([(y == 0).float(), (y == 1).float()], 1) * 10
    assert float(lesion_loss(right, y, weight=15.0)) < 0.05


def test_soft_targets_of_mixing_and_ignored_pixels():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 8, 8, generator=g)
    y = (torch.rand(4, 8, 8, generator=g) > 0.7).long()
    y[:, 0, 0] = 255
    logits = torch.randn(4, 2, 8, 8, generator=g)
    _, q, valid, _ = mix_batch(x, y, 2, mode="mixup", generator=g)
    soft = lesion_loss((logits, logits), (q, valid))
    assert math.isfinite(float(soft))
    # a one-hot "soft" target gives the same loss as the class indices
    hard_q = nn.functional.one_hot(torch.where(y == 255, 0, y), 2).permute(0, 3, 1, 2).float()
    assert float(lesion_loss(logits, (hard_q, y != 255))) == pytest.approx(float(lesion_loss(logits, y)), rel=1e-6)


def test_checks_refuse_constant_maps_and_constant_fractions():
    assert "constant" in lesion_map_check(np.zeros((3, 8, 8)))
    assert "never predicts class 1" in lesion_map_check(np.full((3, 8, 8), 0.2) + np.random.default_rng(0).random((3, 8, 8)) * 0.1)
    assert math.isnan(fraction_correlation(np.array([0.1, 0.2]), np.array([0.0, 0.0])))
    assert fraction_correlation(np.array([0.1, 0.2, 0.4]), np.array([0.1, 0.3, 0.5])) > 0.9
    assert lesion_iou(np.array([[0.9, 0.9, 0.1]]), np.array([[1, 0, 255]])) == 0.5


@pytest.mark.slow
def test_training_by_steps_learns_non_constant_lesion_maps():
    torch.manual_seed(0)
    train, val = synthetic_leaves(24, 32, seed=0), synthetic_leaves(8, 32, seed=1)
    x, y = normalise_images(train["images"]), torch.from_numpy(train["masks"].astype(np.int64))
    loader = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 24, 8)]
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(16, 2, 1))
    w = lesion_weight(train["masks"])
    log = train_lesions(model, loader, (normalise_images(val["images"]), val["masks"]),
                        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
                        loss_fn=lambda o, t: lesion_loss(o, t, weight=w), max_steps=150, eval_every=10, patience=8,
                        device="cpu")
    prob = lesion_probability(model, normalise_images(val["images"]))
    assert lesion_map_check(prob) is None, lesion_map_check(prob)
    assert log["best_iou"] > 0.2 and log["best_step"] <= log["steps"]
    assert lesion_iou(prob, val["masks"]) == pytest.approx(log["best_iou"])  # the best weights were kept
