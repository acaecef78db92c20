"""The few-shot protocol of the pixel-relation paper (Hotta): batches, model selection, pseudo-labels, tables.

The paper trains on **4 labelled images** (Adam, lr 1e-4, batch 4), repeats every method with
5 random initialisations and reports the mean IoU per class and its mean (mIoU) on the test
images (:data:`PAPER_TABLES`). This module holds what the notebook needs around
:func:`helpers.training.fit` for that protocol:

* :class:`FewShotBatches`: with 4 images one epoch is one step, so an "epoch" here is a fixed
  number of steps, each a batch drawn on the device (every batch holds all 4 images when the
  batch size is 4, so the two-image variant always pairs two different images); optionally each
  batch mixes labelled images with pseudo-labelled ones;
* :func:`train_with_selection`: trains in rounds of such epochs, scores the validation images
  after each round and gives back the model of the best round (``fit`` itself keeps the last
  weights): the test images are only ever scored with the weights the validation set chose;
* :func:`pseudo_labels`: confident predictions on unlabelled images as labels, the rest ignored
  (the paper's future work);
* :func:`choose_training_crops`, :func:`summarise_runs`, :func:`paper_table_markdown`,
  :func:`plot_comparison`: which 4 images, mean ± std over seeds, the paper's table with our
  numbers beside its numbers, and the output comparison figure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from helpers.core.checks import check_positive_int

__all__ = ["PAPER_TABLES", "FewShotBatches", "choose_training_crops", "pseudo_labels", "train_with_selection",
           "summarise_runs", "paper_table_markdown", "plot_comparison", "label_palette"]

#: Tables 1 and 2 of the paper: test IoU (%) per class and the mean, mean of 5 runs, 4 training images.
PAPER_TABLES: dict[str, dict[str, Any]] = {
    "sstem": {
        "title": "Drosophila ssTEM (Table 2)",
        "classes": ("background", "membrane", "mitochondria"),
        "unet": (87.02, 54.98, 28.34, 56.78),
        "same_image": (88.68, 62.17, 40.01, 63.41),
        "two_image": (88.87, 63.45, 40.27, 64.20),
    },
    "covid19ct": {
        "title": "COVID-19 CT (Table 1)",
        "classes": ("background", "lung other", "ground glass", "consolidation"),
        "unet": (92.88, 6.05, 27.72, 0.03, 31.33),
        "same_image": (91.89, 6.61, 34.17, 7.52, 35.05),
        "two_image": (91.92, 6.85, 23.51, 8.33, 34.55),
    },
}

_IMAGE_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _check_pair(images: Any, labels: Any, name: str) -> None:
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name}: images and labels must be torch tensors, got {type(images).__name__} "
                        f"and {type(labels).__name__}")
    if images.ndim != 4 or images.dtype not in _IMAGE_DTYPES:
        raise ValueError(f"{name}: images must be a float tensor (N, C, H, W), got {images.dtype} "
                         f"{tuple(images.shape)}")
    if labels.ndim != 3 or labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"{name}: labels must be an integer tensor (N, H, W), got {labels.dtype} "
                         f"{tuple(labels.shape)}")
    if labels.shape[0] != images.shape[0] or labels.shape[1:] != images.shape[2:]:
        raise ValueError(f"{name}: labels {tuple(labels.shape)} do not match images {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError(f"{name}: no images (N = 0)")
    if labels.device != images.device:
        raise ValueError(f"{name}: images and labels must be on one device, got {images.device} and {labels.device}")


class FewShotBatches:
    """``steps`` batches per pass, each drawn without replacement from a handful of images.

    Every batch takes ``batch_size - extra_per_batch`` images of ``(images, labels)`` and
    ``extra_per_batch`` images of ``extra`` (e.g. pseudo-labelled ones), each part drawn
    without replacement and in random order. With 4 images and a batch of 4, every batch holds
    all of them, shuffled, as in the paper. The indices of a whole pass are drawn on the host in
    one go and copied once; the batches are then gathered on the data's device (no sync per step).

    Args:
        images: float ``(N, C, H, W)``, already on the training device.
        labels: integer ``(N, H, W)`` on the same device.
        batch_size: images per batch.
        steps: batches per pass (one "epoch" for :func:`helpers.training.fit`).
        seed: seeds the draws; a pass continues the sequence of the previous one.
        extra: optional ``(images, labels)`` of a second pool.
        extra_per_batch: images of ``extra`` in every batch (``0 < extra_per_batch < batch_size``
            when ``extra`` is given).

    Example:
        >>> x, y = torch.rand(4, 1, 8, 8), torch.zeros(4, 8, 8, dtype=torch.long)
        >>> b = FewShotBatches(x, y, batch_size=4, steps=3)
        >>> len(b), [tuple(bx.shape) for bx, by in b][0]
        (3, (4, 1, 8, 8))
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 4, steps: int = 1,
                 seed: int = 0, extra: tuple[torch.Tensor, torch.Tensor] | None = None,
                 extra_per_batch: int = 0) -> None:
        _check_pair(images, labels, "FewShotBatches")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.steps = check_positive_int(steps, "steps")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        if isinstance(extra_per_batch, bool) or not isinstance(extra_per_batch, (int, np.integer)):
            raise ValueError(f"extra_per_batch must be an integer, got {extra_per_batch!r}")
        if extra is None:
            if extra_per_batch:
                raise ValueError("extra_per_batch > 0 needs an extra pool (extra=(images, labels))")
        else:
            if not isinstance(extra, (tuple, list)) or len(extra) != 2:
                raise ValueError("extra must be a pair (images, labels)")
            _check_pair(extra[0], extra[1], "FewShotBatches extra")
            if extra[0].shape[1:] != images.shape[1:] or extra[0].device != images.device:
                raise ValueError(f"extra images {tuple(extra[0].shape)} on {extra[0].device} must match the "
                                 f"labelled images {tuple(images.shape)} on {images.device} (but for N)")
            if not 0 < extra_per_batch < self.batch_size:
                raise ValueError(f"extra_per_batch must lie in 1..batch_size-1 = 1..{self.batch_size - 1} "
                                 f"when an extra pool is given, got {extra_per_batch}")
            if extra_per_batch > extra[0].shape[0]:
                raise ValueError(f"extra_per_batch={extra_per_batch} exceeds the {extra[0].shape[0]} extra images")
        self.images, self.labels = images, labels
        self.extra = None if extra is None else (extra[0], extra[1])
        self.extra_per_batch = int(extra_per_batch)
        self.n_labelled = self.batch_size - self.extra_per_batch
        if self.n_labelled > images.shape[0]:
            raise ValueError(f"a batch takes {self.n_labelled} labelled images without replacement, but only "
                             f"{images.shape[0]} are given; lower batch_size")
        self._gen = torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return self.steps

    def _draw(self, n: int, k: int) -> torch.Tensor:
        # k of n without replacement, for every step at once: (steps, k).
        return torch.rand(self.steps, n, generator=self._gen).argsort(1)[:, :k]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        device = self.images.device
        idx = self._draw(self.images.shape[0], self.n_labelled).to(device, non_blocking=True)
        idx_extra = None
        if self.extra is not None:
            idx_extra = self._draw(self.extra[0].shape[0], self.extra_per_batch).to(device, non_blocking=True)
        for s in range(self.steps):
            x = self.images.index_select(0, idx[s])
            y = self.labels.index_select(0, idx[s])
            if idx_extra is not None:
                x = torch.cat([x, self.extra[0].index_select(0, idx_extra[s])])
                y = torch.cat([y, self.extra[1].index_select(0, idx_extra[s]).to(y.dtype)])
            yield x, y


def choose_training_crops(labels: Any, n: int, num_classes: int, *, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` labelled images to train on, each showing every class if enough do.

    With only 4 training images, one without any mitochondria would leave that class to the
    other three; so the draw (seeded, uniform) is among the images where every class is present,
    topped up with the images showing the most classes when fewer than ``n`` show all.

    Args:
        labels: integer ``(N, H, W)`` array (the candidate images' labels).
        n: how many to choose (``<= N``).
        num_classes: classes ``0 .. num_classes - 1`` (other values, e.g. 255, are ignored).
        seed: seeds the draw.

    Returns:
        Sorted int64 indices, ``n`` of them, all different.

    Example:
        >>> y = np.zeros((5, 4, 4), np.uint8); y[[1, 3, 4], 0, 0] = 1
        >>> choose_training_crops(y, 2, 2, seed=0).tolist()
        [3, 4]
    """
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if labels.ndim != 3 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an integer array (N, H, W), got {labels.dtype} {labels.shape}")
    n = check_positive_int(n, "n")
    num_classes = check_positive_int(num_classes, "num_classes")
    if n > labels.shape[0]:
        raise ValueError(f"cannot choose n={n} training images out of {labels.shape[0]}")
    flat = labels.reshape(labels.shape[0], -1)
    shown = np.stack([(flat == c).any(1) for c in range(num_classes)], 1).sum(1)  # classes per image
    rng = np.random.default_rng(seed)
    full = np.flatnonzero(shown == num_classes)
    if len(full) >= n:
        return np.sort(rng.choice(full, n, replace=False)).astype(np.int64)
    rest = np.setdiff1d(np.arange(labels.shape[0]), full)
    order = rest[np.lexsort((rng.random(len(rest)), -shown[rest]))]  # most classes first, ties at random
    return np.sort(np.concatenate([full, order[: n - len(full)]])).astype(np.int64)


def pseudo_labels(logits: torch.Tensor, threshold: float = 0.9, *, ignore_index: int = 255
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Confident predictions as labels: ``argmax`` where ``max softmax >= threshold``, else ``ignore_index``.

    Args:
        logits: ``(N, C, H, W)`` float logits.
        threshold: confidence in ``(0, 1]`` a pixel needs to be labelled.
        ignore_index: the label of the pixels left out (ignored by the loss and the anchors).

    Returns:
        ``labels`` int64 ``(N, H, W)`` and ``confidence`` float32 ``(N, H, W)`` (the max softmax).

    Example:
        >>> lg = torch.tensor([[[[4.0, 0.0]], [[0.0, 0.1]]]])    # 1 image, 2 classes, 1 x 2 pixels
        >>> pseudo_labels(lg, 0.9)[0].tolist()                   # pixel 1 is a coin toss: ignored
        [[[0, 255]]]
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 4 or not logits.is_floating_point():
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a float tensor (N, C, H, W), got {got}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
    if logits.shape[1] > ignore_index >= 0:
        raise ValueError(f"ignore_index={ignore_index} is a class index of the {logits.shape[1]} classes")
    conf, cls = torch.softmax(logits.float(), 1).max(1)
    labels = torch.where(conf >= threshold, cls, torch.full_like(cls, ignore_index))
    return labels.long(), conf


def train_with_selection(model: nn.Module, batches: Any, val_data: tuple[torch.Tensor, torch.Tensor], *,
                         loss_fn: Callable[..., torch.Tensor], num_classes: int, rounds: int,
                         optimizer: torch.optim.Optimizer | None = None, lr: float = 1e-4,
                         ignore_index: int = 255, augment: Callable | None = None,
                         device: torch.device | str | None = None, amp: bool | None = None,
                         eval_batch_size: int = 16, metric: str = "mean_iou") -> dict[str, Any]:
    """Train with :func:`helpers.training.fit` in ``rounds`` passes over ``batches``; keep the best round.

    After every pass (``len(batches)`` steps) ``fit`` scores ``val_data``; when ``metric`` beats
    the best so far the weights are copied (on the device, no file). At the end the model holds
    the weights of the best round, so scoring the test set afterwards reports the model that
    the validation set chose. The optimiser (default Adam, the paper's lr 1e-4) lives across
    the rounds, so this is one run of ``rounds * len(batches)`` steps.

    Args:
        model: the network (moved to ``device`` by ``fit``).
        batches: an iterable of ``(x, y)`` batches on the device, e.g. :class:`FewShotBatches`.
        val_data: ``(images, labels)`` tensors for the selection.
        loss_fn: ``loss_fn(output, target)``, e.g. :class:`helpers.losses.pixel_relation.FewShotLoss`.
        num_classes, ignore_index: how the validation images are scored.
        rounds: number of passes (validation points).
        optimizer, lr: the optimiser, or Adam with this learning rate.
        augment: ``augment(x, y)`` applied to every training batch (see ``fit``).
        device, amp: as in ``fit`` (bf16 autocast on GPUs by default).
        eval_batch_size: images per batch when scoring ``val_data``.
        metric: a scalar score of :func:`helpers.training.evaluate` to maximise.

    Returns:
        ``val_curve`` (the metric after each round), ``train_loss`` (mean loss of each round),
        ``best_round`` (1-based), ``best_step``, ``best_val``, ``steps``, ``seconds``.

    Example:
        >>> from helpers.models.unet import UNet
        >>> x = torch.rand(4, 1, 16, 16); y = (x[:, 0] > 0.5).long()
        >>> r = train_with_selection(UNet(1, 2, base=4, depth=1), FewShotBatches(x, y, steps=2), (x, y),
        ...                          loss_fn=nn.functional.cross_entropy, num_classes=2, rounds=2, device="cpu")
        >>> len(r["val_curve"]), r["steps"]
        (2, 4)
    """
    from helpers.training import evaluate, fit

    rounds = check_positive_int(rounds, "rounds")
    num_classes = check_positive_int(num_classes, "num_classes")
    if not isinstance(val_data, (tuple, list)) or len(val_data) != 2:
        raise ValueError("val_data must be a pair (images, labels) of tensors")
    _check_pair(val_data[0], val_data[1], "val_data")
    if optimizer is None:
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_round = len(batches)
    best_val, best_round, best_state = -math.inf, 0, None
    curve, losses = [], []
    t0 = time.perf_counter()
    for r in range(rounds):
        h = fit(model, batches, loss_fn=loss_fn, epochs=1, optimizer=optimizer, ignore_index=ignore_index,
                augment=augment, device=device, amp=amp, progress=False)
        # Scored without the loss: the selection needs the metric only, and the two-image relation loss
        # cannot take an evaluation batch of one image (a validation set of 1, 17 or 33 images).
        scores = evaluate(model, tuple(val_data), num_classes=num_classes, ignore_index=ignore_index,
                          batch_size=eval_batch_size, device=device, amp=amp)
        if metric not in scores:
            raise ValueError(f"metric {metric!r} is not a score of evaluate(); have {sorted(scores)}")
        score = float(scores[metric])
        curve.append(score)
        losses.append(float(h.train_loss[-1]))
        if score > best_val or best_state is None:
            best_val, best_round = score, r + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return {"val_curve": curve, "train_loss": losses, "best_round": best_round,
            "best_step": best_round * steps_per_round, "best_val": best_val,
            "steps": rounds * steps_per_round, "seconds": time.perf_counter() - t0}


def summarise_runs(rows: Sequence[Mapping[str, Any]], *, by: str = "method", score: str = "test") -> dict[str, Any]:
    """Mean and standard deviation over seeds of mIoU and per-class IoU, in percent, per group.

    Args:
        rows: results of the runs, each with ``config[by]`` and ``{score}_iou_per_class`` (a list,
            fractions) and ``{score}_miou`` (a fraction).
        by: the config key that names a group (e.g. ``"method"``).
        score: prefix of the scores (``"test"``).

    Returns:
        ``{group: {"n", "miou_mean", "miou_std", "iou_mean" (list), "iou_std" (list), "miou" (list per run)}}``,
        all in percent; the standard deviation is the sample one (``ddof=1``; 0 for one run).

    Example:
        >>> rows = [{"config": {"method": "a"}, "test_miou": m, "test_iou_per_class": [m, m]} for m in (0.5, 0.7)]
        >>> s = summarise_runs(rows)["a"]
        >>> round(s["miou_mean"], 6), round(s["miou_std"], 4)
        (60.0, 14.1421)
    """
    if not rows:
        raise ValueError("rows is empty: no runs to summarise")
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for i, row in enumerate(rows):
        try:
            key = row["config"][by]
        except (KeyError, TypeError):
            raise ValueError(f"rows[{i}] has no config[{by!r}]") from None
        for k in (f"{score}_miou", f"{score}_iou_per_class"):
            if k not in row:
                raise ValueError(f"rows[{i}] has no {k!r}")
        groups.setdefault(str(key), []).append(row)
    out = {}
    for key, rs in groups.items():
        miou = np.array([float(r[f"{score}_miou"]) for r in rs], np.float64) * 100
        iou = np.array([[np.nan if v is None else float(v) for v in r[f"{score}_iou_per_class"]] for r in rs],
                       np.float64) * 100
        ddof = 1 if len(rs) > 1 else 0
        out[key] = {"n": len(rs), "miou": miou.tolist(), "miou_mean": float(miou.mean()),
                    "miou_std": float(miou.std(ddof=ddof)),
                    "iou_mean": np.nanmean(iou, 0).tolist() if np.isfinite(iou).any() else iou[0].tolist(),
                    "iou_std": (np.nanstd(iou, 0, ddof=ddof) if len(rs) > 1 else np.zeros(iou.shape[1])).tolist()}
    return out


def paper_table_markdown(summary: Mapping[str, Mapping[str, Any]], class_names: Sequence[str], *,
                         methods: Mapping[str, str], paper: str | None = None) -> str:
    """The paper's table (IoU % per class and the mean) with our mean ± std beside its numbers.

    Args:
        summary: :func:`summarise_runs`'s output.
        class_names: names of the classes, in index order.
        methods: ``{method key: column title}`` in column order (keys of ``summary``).
        paper: a key of :data:`PAPER_TABLES` whose numbers are shown beside ours, or ``None``.
            Its classes must be as many as ``class_names``.

    Returns:
        A Markdown table (display it with ``IPython.display.Markdown``).

    Example:
        >>> s = {"unet": {"n": 1, "iou_mean": [90.0, 50.0, 20.0], "iou_std": [0, 0, 0],
        ...               "miou_mean": 53.3, "miou_std": 0.0}}
        >>> print(paper_table_markdown(s, ["bg", "mem", "mito"], methods={"unet": "U-Net"}, paper="sstem")
        ...       .splitlines()[2])
        | bg | 90.00 ± 0.00 | 87.02 |
    """
    ref = None
    if paper is not None:
        if paper not in PAPER_TABLES:
            raise ValueError(f"paper must be one of {sorted(PAPER_TABLES)} or None, got {paper!r}")
        ref = PAPER_TABLES[paper]
        if len(ref["classes"]) != len(class_names):
            raise ValueError(f"the paper's {paper} table has {len(ref['classes'])} classes, ours {len(class_names)}")
    for m in methods:
        if m not in summary:
            raise ValueError(f"method {m!r} is not in the summary (have {sorted(summary)})")
    head, rule = ["class"], ["---"]
    for m, title in methods.items():
        head.append(f"{title} (ours, n={summary[m]['n']})")
        rule.append("---:")
        if ref is not None and m in ref:
            head.append(f"{title} (paper)")
            rule.append("---:")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(rule) + "|"]
    for i, name in enumerate([*class_names, "**mean (mIoU)**"]):
        cells = [str(name)]
        for m in methods:
            s = summary[m]
            mean, std = (s["iou_mean"][i], s["iou_std"][i]) if i < len(class_names) else (s["miou_mean"], s["miou_std"])
            cells.append(f"{mean:.2f} ± {std:.2f}")
            if ref is not None and m in ref:
                cells.append(f"{ref[m][i]:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def label_palette(num_classes: int) -> np.ndarray:
    """RGB colours per class: dark background, white membrane, orange mitochondria, then tab10."""
    base = [(0.12, 0.12, 0.12), (1.0, 1.0, 1.0), (1.0, 0.55, 0.1), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16),
            (0.58, 0.40, 0.74), (0.55, 0.34, 0.29), (0.89, 0.47, 0.76), (0.74, 0.74, 0.13), (0.09, 0.75, 0.81)]
    num_classes = check_positive_int(num_classes, "num_classes")
    return np.array([base[i % len(base)] for i in range(num_classes)], np.float32)


def plot_comparison(images: Any, truth: Any, predictions: Mapping[str, Any], *, class_names: Sequence[str],
                    ignore_index: int = 255, cell_size: float = 2.3):
    """The paper's Figs. 3-4: one row per image; the image, its truth and each method's prediction.

    Args:
        images: ``(N, H, W)`` or ``(N, 1, H, W)`` grey images in [0, 1].
        truth: ``(N, H, W)`` integer labels.
        predictions: ``{title: (N, H, W) predicted labels}`` in column order.
        class_names: for the legend (and the number of colours).
        ignore_index: shown grey.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from helpers.plots import _to_numpy

    images, truth = _to_numpy(images), _to_numpy(truth)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or truth.shape != images.shape:
        raise ValueError(f"images (N, H, W) and truth (N, H, W) must match, got {images.shape} and {truth.shape}")
    preds = {k: _to_numpy(v) for k, v in predictions.items()}
    for k, v in preds.items():
        if v.shape != truth.shape:
            raise ValueError(f"prediction {k!r} has shape {v.shape}, truth {truth.shape}")
    pal = label_palette(len(class_names))

    def colour(lab: np.ndarray) -> np.ndarray:
        rgb = pal[np.clip(lab, 0, len(pal) - 1)]
        rgb[lab == ignore_index] = 0.5
        return rgb

    cols = ["image", "truth", *preds]
    n = len(images)
    fig, axes = plt.subplots(n, len(cols), figsize=(cell_size * len(cols), cell_size * n + 0.4), squeeze=False)
    for i in range(n):
        panels = [None, colour(truth[i]), *(colour(p[i]) for p in preds.values())]
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            if j == 0:
                ax.imshow(images[i], cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(panel)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(cols[j], fontsize=9)
    fig.legend(handles=[Patch(facecolor=pal[c], edgecolor="0.3", label=name) for c, name in enumerate(class_names)],
               loc="lower center", ncol=len(class_names), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
