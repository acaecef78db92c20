"""The few-shot protocol helpers: batches, crop choice, pseudo-labels, best-round selection, tables."""

import numpy as np
import pytest
import torch
from torch import nn

from helpers.papers.fewshot_pixel_relation.study import (PAPER_TABLES, FewShotBatches, choose_training_crops, label_palette,
                                   paper_table_markdown, plot_comparison, pseudo_labels, summarise_runs,
                                   train_with_selection)
from helpers.models.unet import UNet
from helpers.training import evaluate


def _data(n=4, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, size, size, generator=g)
    y = (x[:, 0] > 0.5).long()
    return x, y


# ----------------------------------------------------------------------------- FewShotBatches


def test_batches_of_four_out_of_four_hold_every_image_once_in_random_order():
    x, y = _data(4)
    x[:, 0, 0, 0] = torch.arange(4.0)  # tag each image
    b = FewShotBatches(x, y, batch_size=4, steps=6, seed=1)
    orders = [tuple(bx[:, 0, 0, 0].long().tolist()) for bx, _ in b]
    assert len(orders) == 6 == len(b)
    assert all(sorted(o) == [0, 1, 2, 3] for o in orders)
    assert len(set(orders)) > 1  # shuffled
    for bx, by in b:  # labels follow their images
        assert torch.equal(by, y[bx[:, 0, 0, 0].long()])


def test_batches_repeat_from_the_seed_and_continue_between_passes():
    x, y = _data(6)
    first = [bx.clone() for bx, _ in FewShotBatches(x, y, batch_size=3, steps=2, seed=5)]
    again = [bx.clone() for bx, _ in FewShotBatches(x, y, batch_size=3, steps=2, seed=5)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    b = FewShotBatches(x, y, batch_size=3, steps=4, seed=5)
    p1, p2 = [bx.clone() for bx, _ in b], [bx.clone() for bx, _ in b]
    assert not all(torch.equal(a, c) for a, c in zip(p1, p2))


def test_batches_mix_labelled_and_extra_images():
    x, y = _data(4)
    xe = torch.full((10, 1, 8, 8), 7.0)
    ye = torch.full((10, 8, 8), 255, dtype=torch.long)
    b = FewShotBatches(x, y, batch_size=4, steps=5, extra=(xe, ye), extra_per_batch=2)
    for bx, by in b:
        assert bx.shape == (4, 1, 8, 8) and by.shape == (4, 8, 8)
        assert (bx[2:] == 7).all() and (bx[:2] < 1.5).all()
        assert (by[2:] == 255).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 5}, "only 4"),
    ({"steps": 0}, "steps"),
    ({"extra_per_batch": 1}, "extra pool"),
    ({"seed": 1.5}, "seed"),
])
def test_batches_reject_bad_options(kwargs, match):
    x, y = _data(4)
    with pytest.raises(ValueError, match=match):
        FewShotBatches(x, y, **kwargs)


def test_batches_reject_bad_tensors():
    x, y = _data(4)
    with pytest.raises(ValueError, match="labels"):
        FewShotBatches(x, y.float())
    with pytest.raises(ValueError, match="images"):
        FewShotBatches(x[:, 0], y)
    with pytest.raises(ValueError, match="match"):
        FewShotBatches(x, y[:3])
    with pytest.raises(TypeError):
        FewShotBatches(x.numpy(), y)
    with pytest.raises(ValueError, match="extra_per_batch must lie"):
        FewShotBatches(x, y, extra=(x, y), extra_per_batch=4)
    with pytest.raises(ValueError, match="must match"):
        FewShotBatches(x, y, extra=(torch.rand(4, 1, 4, 4), torch.zeros(4, 4, 4, dtype=torch.long)),
                       extra_per_batch=1)


# ----------------------------------------------------------------------------- choose_training_crops


def test_choice_takes_images_showing_every_class_and_repeats():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (20, 6, 6)).astype(np.uint8)  # classes 0 and 1 everywhere
    y[[2, 5, 11, 17], 0, 0] = 2  # only these four show class 2
    pick = choose_training_crops(y, 4, 3, seed=3)
    assert pick.tolist() == [2, 5, 11, 17]
    a, b = choose_training_crops(y, 2, 3, seed=1), choose_training_crops(y, 2, 3, seed=1)
    assert np.array_equal(a, b) and set(a) <= {2, 5, 11, 17} and len(set(a)) == 2


def test_choice_tops_up_with_the_images_showing_most_classes():
    y = np.zeros((6, 4, 4), np.int64)
    y[0, 0, :3] = [0, 1, 2]  # all three classes
    y[3, 0, :2] = [0, 1]  # two classes
    y[4, 0, 0] = 255  # ignored value does not count as a class
    pick = choose_training_crops(y, 2, 3, seed=0)
    assert pick.tolist() == [0, 3]


def test_choice_rejects_bad_input():
    with pytest.raises(ValueError, match="out of"):
        choose_training_crops(np.zeros((3, 4, 4), np.uint8), 4, 2)
    with pytest.raises(ValueError, match="integer"):
        choose_training_crops(np.zeros((3, 4, 4), np.float32), 1, 2)
    with pytest.raises(ValueError, match="n must"):
        choose_training_crops(np.zeros((3, 4, 4), np.uint8), 0, 2)


# ----------------------------------------------------------------------------- pseudo_labels


def test_pseudo_labels_keep_only_confident_pixels():
    logits = torch.zeros(2, 3, 4, 4)
    logits[:, 1, :2] = 10.0  # confident class 1 in the top half
    logits[:, 2, 2:, :2] = 0.5  # barely class 2 bottom-left: not confident
    labels, conf = pseudo_labels(logits, 0.9)
    assert labels.dtype == torch.int64 and labels.shape == (2, 4, 4)
    assert (labels[:, :2] == 1).all()
    assert (labels[:, 2:] == 255).all()
    assert torch.allclose(conf[:, 0, 0], torch.softmax(logits[:, :, 0, 0], 1).max(1).values)
    # threshold 1/3 lets every pixel through (argmax of 3 classes is always >= 1/3)
    assert (pseudo_labels(logits, 1 / 3)[0] != 255).all()


@pytest.mark.parametrize("threshold", [0, 1.5, -0.1, True, "0.9"])
def test_pseudo_labels_reject_bad_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        pseudo_labels(torch.zeros(1, 2, 2, 2), threshold)


def test_pseudo_labels_reject_bad_logits_and_ignore_index():
    with pytest.raises(ValueError, match="logits"):
        pseudo_labels(torch.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="logits"):
        pseudo_labels(torch.zeros(1, 2, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="ignore_index"):
        pseudo_labels(torch.zeros(1, 3, 2, 2), ignore_index=1)


# ----------------------------------------------------------------------------- train_with_selection


def test_selection_returns_the_weights_of_the_best_validation_round():
    torch.manual_seed(0)
    x, y = _data(4, size=16)
    xv, yv = _data(6, size=16, seed=1)
    model = UNet(1, 2, base=4, depth=1)
    r = train_with_selection(model, FewShotBatches(x, y, steps=3, seed=0), (xv, yv),
                             loss_fn=nn.functional.cross_entropy, num_classes=2, rounds=4, lr=1e-2, device="cpu")
    assert len(r["val_curve"]) == 4 == len(r["train_loss"]) and r["steps"] == 12
    assert r["best_val"] == max(r["val_curve"]) and r["val_curve"][r["best_round"] - 1] == r["best_val"]
    assert r["best_step"] == 3 * r["best_round"]
    again = evaluate(model, (xv, yv), num_classes=2, ignore_index=255, device="cpu")["mean_iou"]
    assert again == pytest.approx(r["best_val"], abs=1e-6)  # the kept model is the best round's


def test_selection_restores_an_earlier_round_when_later_rounds_are_worse():
    torch.manual_seed(0)
    x, y = _data(4, size=16)
    model = UNet(1, 2, base=4, depth=1)
    scores = iter([0.9, 0.2, 0.1])
    snapshots = []

    def fake_fit_metric(output, target):  # a loss that snapshots the weights each step
        snapshots.append(float(next(model.parameters()).detach().sum()))
        return nn.functional.cross_entropy(output, target)

    import helpers.training as tr

    real = tr.evaluate

    def fake_evaluate(*args, **kwargs):
        s = real(*args, **kwargs)
        s["mean_iou"] = next(scores)
        return s

    tr.evaluate = fake_evaluate
    try:
        r = train_with_selection(model, FewShotBatches(x, y, steps=1), (x, y), loss_fn=fake_fit_metric,
                                 num_classes=2, rounds=3, lr=0.05, device="cpu")
    finally:
        tr.evaluate = real
    assert r["best_round"] == 1 and r["val_curve"] == [0.9, 0.2, 0.1]
    # the weights after round 1 are the ones seen by the loss at the start of round 2
    assert float(next(model.parameters()).detach().sum()) == pytest.approx(snapshots[1], rel=1e-6)


def test_selection_rejects_bad_arguments():
    x, y = _data(4)
    model = UNet(1, 2, base=4, depth=1)
    b = FewShotBatches(x, y)
    with pytest.raises(ValueError, match="rounds"):
        train_with_selection(model, b, (x, y), loss_fn=nn.functional.cross_entropy, num_classes=2, rounds=0)
    with pytest.raises(ValueError, match="val_data"):
        train_with_selection(model, b, x, loss_fn=nn.functional.cross_entropy, num_classes=2, rounds=1)
    with pytest.raises(ValueError, match="lr"):
        train_with_selection(model, b, (x, y), loss_fn=nn.functional.cross_entropy, num_classes=2, rounds=1, lr=0)
    with pytest.raises(ValueError, match="metric"):
        train_with_selection(model, b, (x, y), loss_fn=nn.functional.cross_entropy, num_classes=2, rounds=1,
                             metric="nope", device="cpu")


# ----------------------------------------------------------------------------- tables and figure


def _rows():
    return [{"config": {"method": m, "seed": s}, "test_miou": v, "test_iou_per_class": [v + 0.1, v, v - 0.1]}
            for m, vals in (("unet", (0.5, 0.6)), ("same_image", (0.6, 0.8))) for s, v in enumerate(vals)]


def test_summary_mean_and_sample_std_in_percent():
    s = summarise_runs(_rows())
    assert s["unet"]["n"] == 2
    assert s["unet"]["miou_mean"] == pytest.approx(55.0)
    assert s["unet"]["miou_std"] == pytest.approx(np.std([50, 60], ddof=1))
    assert s["same_image"]["iou_mean"] == pytest.approx([80.0, 70.0, 60.0])
    assert s["same_image"]["iou_std"] == pytest.approx([np.std([60, 80], ddof=1)] * 3)
    one = summarise_runs(_rows()[:1])["unet"]
    assert one["miou_std"] == 0 and one["iou_std"] == [0.0, 0.0, 0.0]


def test_summary_rejects_rows_without_scores():
    with pytest.raises(ValueError, match="empty"):
        summarise_runs([])
    with pytest.raises(ValueError, match="test_miou"):
        summarise_runs([{"config": {"method": "a"}}])
    with pytest.raises(ValueError, match="config"):
        summarise_runs([{"test_miou": 0.5}])


def test_table_puts_the_papers_numbers_beside_ours():
    s = summarise_runs(_rows())
    md = paper_table_markdown(s, ["background", "membrane", "mitochondria"],
                              methods={"unet": "U-Net", "same_image": "same image"}, paper="sstem")
    lines = md.splitlines()
    assert len(lines) == 2 + 4
    assert "U-Net (paper)" in lines[0] and "same image (ours, n=2)" in lines[0]
    assert lines[-1].startswith("| **mean (mIoU)** | 55.00 ± 7.07 | 56.78 | 70.00 ± 14.14 | 63.41 |")
    no_paper = paper_table_markdown(s, ["a", "b", "c"], methods={"unet": "U-Net"}, paper=None)
    assert "paper" not in no_paper
    with pytest.raises(ValueError, match="classes"):
        paper_table_markdown(s, ["a", "b"], methods={"unet": "U-Net"}, paper="sstem")
    with pytest.raises(ValueError, match="paper must"):
        paper_table_markdown(s, ["a", "b", "c"], methods={"unet": "U-Net"}, paper="voc")
    with pytest.raises(ValueError, match="not in the summary"):
        paper_table_markdown(s, ["a", "b", "c"], methods={"two_image": "2"}, paper=None)


def test_paper_tables_hold_the_papers_headline_numbers():
    for t in PAPER_TABLES.values():
        k = len(t["classes"])
        assert all(len(t[m]) == k + 1 for m in ("unet", "same_image", "two_image"))
    s = PAPER_TABLES["sstem"]
    assert round(s["same_image"][-1] - s["unet"][-1], 2) == 6.63
    assert round(s["two_image"][-1] - s["unet"][-1], 2) == 7.42
    c = PAPER_TABLES["covid19ct"]
    assert (c["unet"][-1], c["same_image"][-1], c["two_image"][-1]) == (31.33, 35.05, 34.55)


def test_comparison_figure_has_a_column_per_method():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = np.random.default_rng(0).integers(0, 3, (2, 8, 8))
    y[0, 0, 0] = 255
    fig = plot_comparison(np.random.rand(2, 1, 8, 8), y, {"U-Net": y, "same": y, "two": y},
                          class_names=["bg", "mem", "mito"])
    assert len(fig.axes) == 2 * 5
    plt.close(fig)
    with pytest.raises(ValueError, match="prediction"):
        plot_comparison(np.random.rand(2, 8, 8), y, {"U-Net": y[:1]}, class_names=["bg", "mem", "mito"])
    assert label_palette(12).shape == (12, 3)
