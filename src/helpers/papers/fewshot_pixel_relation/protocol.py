"""One few-shot run of the pixel-relation paper as a picklable object, so runs can go to worker processes.

Notebook 4 trains 40 small networks (3 methods x 5 seeds, their pseudo-label students and two
ablations), each at the paper's batch of 4 images: one run leaves most of a GPU idle, since
the step is bound by kernel launches. :class:`FewShotProtocol` holds the data and the paper's
settings; ``protocol.run(method, anchor, run)`` is the notebook's "train one network and score
it on the test crops", and :func:`helpers.core.sweeps.cached_sweep` with ``workers > 1`` sends the
runs to that many processes sharing the GPU. Each run seeds itself from ``(seed, run)``, so a
run gives the same result whichever process trains it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from helpers.core.checks import check_choice, check_positive_int
from helpers.core.sweeps import WorkerRun

__all__ = ["METHODS", "FewShotProtocol"]

#: The compared methods: the U-Net baseline and the paper's two variants (plus the ablation's lambda = 0).
METHODS = ("unet", "same_image", "two_image", "grouped_ce")


@dataclass
class FewShotProtocol(WorkerRun):
    """The data and settings of the few-shot protocol; :meth:`run` trains and scores one network.

    Args:
        x_train, y_train: the labelled images ``(N, H, W)`` float in [0, 1] and their labels.
        x_val, y_val: validation crops (the best round is kept), x_test, y_test: test crops.
        num_classes: classes of the labels (255 = ignored).
        weights_dir: where each run's chosen weights are saved (``<method>_<anchor>[_pseudo]_run<r>.pt``).
        x_unlabelled: images for pseudo-labels (:meth:`pseudo_run`), optional; y_unlabelled: their
            hidden labels where known (generated data), only to score the pseudo-labels.
        base, depth, group_channels: the networks' shape.
        relation_weight, lr, batch_size, rounds, steps_per_round, augment: the training settings.
        pseudo_per_batch: pseudo-labelled images in each batch of a student; pseudo_threshold: the
            softmax confidence a pseudo-label needs.
        seed: the notebook's seed; run ``r`` starts from ``1000 * seed + r``.
        device: ``None`` = CUDA when available.

    Example:
        >>> x = np.random.default_rng(0).random((4, 16, 16), dtype=np.float32); y = (x > 0.5).astype(np.int64)
        >>> p = FewShotProtocol(x, y, x, y, x, y, num_classes=2, weights_dir="/tmp/fs_doc", base=4, depth=1,
        ...                     group_channels=2, rounds=1, steps_per_round=1, device="cpu")
        >>> sorted(p.run("same_image", run=0))[:3]
        ['best_round', 'best_step', 'best_val']
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    weights_dir: str | os.PathLike
    x_unlabelled: np.ndarray | None = None
    y_unlabelled: np.ndarray | None = None
    base: int = 16
    depth: int = 4
    group_channels: int = 8
    relation_weight: float = 1.0
    lr: float = 1e-4
    batch_size: int = 4
    rounds: int = 30
    steps_per_round: int = 50
    augment: bool = False
    pseudo_per_batch: int = 2
    pseudo_threshold: float = 0.9
    seed: int = 0
    device: str | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.num_classes = check_positive_int(self.num_classes, "num_classes", minimum=2)
        for name in ("base", "depth", "group_channels", "batch_size", "rounds", "steps_per_round"):
            setattr(self, name, check_positive_int(getattr(self, name), name))
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (the two-image variant pairs images), got {self.batch_size}")
        for name in ("train", "val", "test"):
            x, y = getattr(self, f"x_{name}"), getattr(self, f"y_{name}")
            if np.ndim(x) != 3 or np.shape(x) != np.shape(y):
                raise ValueError(f"x_{name} and y_{name} must both be (N, H, W) with the same shape, got "
                                 f"{np.shape(x)} and {np.shape(y)}")
        side = np.shape(self.x_train)[1:]
        if any(s % 2 ** self.depth for s in side):
            raise ValueError(f"image sides {side} must be divisible by 2**depth = {2 ** self.depth}")
        self.weights_dir = str(self.weights_dir)

    # -- pieces -------------------------------------------------------------------------

    def tensors(self, name: str) -> tuple[torch.Tensor, ...]:
        """``(images (N, 1, H, W), labels)`` of ``train``/``val``/``test`` (images only for
        ``unlabelled``) on the device, made once per process."""
        check_choice(name, "name", ("train", "val", "test", "unlabelled"))
        if name not in self._cache:
            x = getattr(self, f"x_{name}")
            if x is None:
                raise ValueError("this protocol has no x_unlabelled: pass it to use pseudo-labels")
            dev = self.torch_device
            xt = torch.from_numpy(np.ascontiguousarray(np.asarray(x)[:, None], dtype=np.float32)).to(dev)
            self._cache[name] = (xt,) if name == "unlabelled" else (
                xt, torch.from_numpy(np.asarray(getattr(self, f"y_{name}")).astype(np.int64)).to(dev))
        return self._cache[name]

    def init_seed(self, run: int) -> int:
        return 1000 * int(self.seed) + int(run)

    def build(self, method: str, init_seed: int) -> nn.Module:
        """The U-Net (``unet``) or the class-grouped U-Net (every other method), seeded."""
        torch.manual_seed(init_seed)  # also seeds whatever else of the run draws from the global generators
        return self._network(method)

    def _network(self, method: str) -> nn.Module:
        from helpers.models.grouped_unet import GroupedUNet
        from helpers.models.unet import UNet

        check_choice(method, "method", METHODS)
        if method == "unet":
            return UNet(1, self.num_classes, base=self.base, depth=self.depth)
        return GroupedUNet(1, self.num_classes, base=self.base, depth=self.depth, group_channels=self.group_channels,
                           return_features=True)

    def loss(self, method: str, anchor: str, init_seed: int) -> nn.Module:
        """CE for the U-Net and for ``grouped_ce`` (lambda = 0); CE + lambda L_rel for the variants."""
        from helpers.losses.pixel_relation import FewShotLoss

        weight = 0.0 if method in ("unet", "grouped_ce") else self.relation_weight
        gen = torch.Generator(device=self.torch_device).manual_seed(init_seed)
        return FewShotLoss(weight, variant="two_image" if method == "two_image" else "same_image", anchor=anchor,
                           generator=gen)

    def weights_path(self, method: str, anchor: str = "balanced", run: int = 0, pseudo: bool = False) -> Path:
        return Path(self.weights_dir) / f"{method}_{anchor}{'_pseudo' if pseudo else ''}_run{run}.pt"

    def load(self, method: str, anchor: str = "balanced", run: int = 0, pseudo: bool = False) -> nn.Module:
        """A saved run's chosen weights, on the device, in eval mode."""
        model = self._network(method)  # unseeded: the saved weights replace the initial ones
        state = torch.load(self.weights_path(method, anchor, run, pseudo), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return model.to(self.torch_device).to(memory_format=torch.channels_last).eval()

    # -- runs ---------------------------------------------------------------------------
    def run(self, method: str, anchor: str = "balanced", run: int = 0,
            extra: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, Any]:
        """Train one network on the labelled images (plus ``extra`` pseudo-labelled ones), keep the
        best validation round, save its weights and score the test crops."""
        from helpers.augment.gpu import RandomDihedral
        from helpers.papers.fewshot_pixel_relation.study import FewShotBatches, train_with_selection
        from helpers.papers.fewshot_pixel_relation.evidence import per_image_iou, prediction_problems
        from helpers.training import evaluate, predict

        seed = self.init_seed(run)
        model = self.build(method, seed)
        train = self.tensors("train")
        batches = FewShotBatches(*train, batch_size=self.batch_size, steps=self.steps_per_round, seed=seed,
                                 extra=extra, extra_per_batch=self.pseudo_per_batch if extra is not None else 0)
        sel = train_with_selection(model, batches, self.tensors("val"), loss_fn=self.loss(method, anchor, seed),
                                   num_classes=self.num_classes, rounds=self.rounds, lr=self.lr, ignore_index=255,
                                   augment=RandomDihedral(seed=seed) if self.augment else None,
                                   device=self.torch_device)
        if not all(np.isfinite(sel["train_loss"])):
            raise FloatingPointError(f"{method} run {run}: a training loss is not finite {sel['train_loss'][-3:]}")
        path = self.weights_path(method, anchor, run, pseudo=extra is not None)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)
        test = self.tensors("test")
        scores = evaluate(model, test, num_classes=self.num_classes, ignore_index=255, batch_size=16)
        pred = predict(model, test[0], batch_size=16).argmax(1).numpy()
        truth = test[1].cpu().numpy()
        return {"test_miou": scores["mean_iou"], "test_iou_per_class": scores["iou_per_class"],
                "test_pixel_accuracy": scores["pixel_accuracy"],
                # the final predictions, checked for sense and scored per image (for a bootstrap over images)
                "test_problems": prediction_problems(pred, truth, self.num_classes),
                "test_iou_per_image": [[None if np.isnan(v) else float(v) for v in img]  # JSON has no NaN
                                       for img in per_image_iou(pred, truth, self.num_classes)],
                "test_pred_share": (np.bincount(pred.ravel(), minlength=self.num_classes) / pred.size).tolist(),
                **sel}

    def pseudo_run(self, method: str, run: int = 0) -> dict[str, Any]:
        """The paper's future work: the saved run (teacher) labels the unlabelled images where its
        softmax is at least ``pseudo_threshold``; a student of the same method and seed trains on both."""
        from helpers.papers.fewshot_pixel_relation.study import pseudo_labels
        from helpers.training import predict

        (x_unl,) = self.tensors("unlabelled")
        teacher = self.load(method, "balanced", run)
        labels, _ = pseudo_labels(predict(teacher, x_unl), self.pseudo_threshold, ignore_index=255)
        del teacher
        labelled = labels != 255
        info: dict[str, Any] = {"coverage": float(labelled.float().mean())}
        if self.y_unlabelled is not None:  # generated (or held-back) images: how right are the pseudo-labels?
            truth = torch.from_numpy(np.asarray(self.y_unlabelled).astype(np.int64))
            info["pseudo_accuracy"] = float((labels[labelled] == truth[labelled]).float().mean()) \
                if labelled.any() else None
        student = self.run(method, "balanced", run, extra=(x_unl, labels.to(self.torch_device)))
        return {**student, **info}
