"""The augmentation x optimiser grid of notebook 02 (section 5), one run per (setting, optimiser, seed).

:class:`GridProtocol` holds the data and the settings; :meth:`GridProtocol.run` trains one PSPNet
and scores it. The object is picklable, so :func:`helpers.core.sweeps.cached_sweep` can run the grid's
runs side by side in worker processes (``workers=N``; one run per worker on a GPU, 1 on a CPU), with
the same results as one after another: every run draws everything from its own ``seed`` (the head's
initial weights, the batch order, the augmentation and the mixing draws), never from a process-wide state.

The backbone of a run is one of :data:`BACKBONES`:

* ``"pretrained_frozen"``: the paper's regime, a pretrained ResNet-50 that does not learn;
* ``"pretrained_finetuned"``: the same weights, trained with the head;
* ``"random_frozen"``: random weights that do not learn (features that carry nothing over).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from helpers.augment.segmentation import normalise_images
from helpers.core.checks import check_choice, check_positive_int
from helpers.losses import main_aux_loss
from helpers.papers.pspnet_augmentation.experiments import (AUGMENTATION_SETTINGS, OPTIMIZERS, augmented_loader,
                                                            make_optimizer, mixing, per_image_loss)

BACKBONES = ("pretrained_frozen", "pretrained_finetuned", "random_frozen")
_BACKBONE_PREFIXES = ("stem.", "layer1.", "layer2.", "layer3.", "layer4.")


@dataclass
class GridProtocol:
    """The data and settings of the grid; :meth:`run` trains and scores one network.

    Args:
        x_train, y_train: training images ``(N, H, W, 3)`` float in [0, 1] and masks ``(N, H, W)``
            (class indices, 255 ignored).
        x_val, y_val: the held-out images and masks.
        num_classes: the network's outputs.
        backbone_weights: ``"imagenet"`` or the path of a backbone file
            (:func:`helpers.models.pspnet.pretrain.pretrain_backbone`); used by the ``pretrained_*`` runs.
        epochs, batch_size: training length and batch.
        head_channels: width of the pyramid branches and the head (the paper: 512).
        eval_every: epochs between held-out evaluations (the learning curves' resolution).
        num_workers: DataLoader workers for the albumentations pipeline.
        device: ``None`` = CUDA when available.
        weights_dir: where each run keeps what it trained (:meth:`weights_path`; a frozen backbone
            is not saved again), for :meth:`load`; ``None`` keeps nothing.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.random((4, 32, 32, 3), dtype=np.float32); y = (x[..., 0] > 0.5).astype(np.uint8)
        >>> p = GridProtocol(x, y, x, y, num_classes=2, backbone_weights=None, epochs=1, batch_size=2,
        ...                  head_channels=8, device="cpu")
        >>> r = p.run("none", "adam", seed=0, backbone="random_frozen")
        >>> len(r["val_losses"]), len(r["history"]["val_loss"])
        (4, 1)
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int
    backbone_weights: str | None
    epochs: int
    batch_size: int
    head_channels: int = 512
    eval_every: int = 1
    num_workers: int = 0
    device: str | None = None
    weights_dir: str | None = None

    def __post_init__(self) -> None:
        if self.x_train.ndim != 4 or self.y_train.shape != self.x_train.shape[:3]:
            raise ValueError(f"x_train (N, H, W, 3) and y_train (N, H, W) must match, got {self.x_train.shape}, "
                             f"{self.y_train.shape}")
        if self.x_val.ndim != 4 or self.y_val.shape != self.x_val.shape[:3]:
            raise ValueError(f"x_val (N, H, W, 3) and y_val (N, H, W) must match, got {self.x_val.shape}, "
                             f"{self.y_val.shape}")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size", minimum=2)
        if len(self.x_train) < self.batch_size:
            raise ValueError(f"{len(self.x_train)} training images give no full batch of {self.batch_size}")

    def build(self, seed: int, backbone: str = "pretrained_frozen") -> torch.nn.Module:
        """The network of a run: its head's initial weights are drawn from ``seed`` alone."""
        from helpers.models.pspnet import pspnet

        check_choice(backbone, "backbone", BACKBONES)
        weights = None if backbone.startswith("random") else self.backbone_weights
        torch.manual_seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the notebook reports the backbone's source
            return pspnet(self.num_classes, backbone_weights=weights, freeze_backbone=backbone.endswith("frozen"),
                          head_channels=self.head_channels)

    def weights_path(self, augmentation: str, optimizer: str, seed: int, backbone: str = "pretrained_frozen") -> Path:
        """The file of a run's trained weights in ``weights_dir``."""
        if self.weights_dir is None:
            raise ValueError("this GridProtocol keeps no weights (weights_dir=None)")
        return Path(self.weights_dir) / f"{backbone}_{augmentation}_{optimizer}_seed{seed}.pt"

    def load(self, augmentation: str, optimizer: str, seed: int, backbone: str = "pretrained_frozen") -> torch.nn.Module:
        """The trained network of a finished run (its backbone rebuilt, the rest read from its file)."""
        model = self.build(seed, backbone)
        state = torch.load(self.weights_path(augmentation, optimizer, seed, backbone), map_location="cpu",
                           weights_only=True)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith(_BACKBONE_PREFIXES) for k in missing):
            raise ValueError(f"the saved run does not fit its network (missing {missing[:3]}, unexpected {unexpected[:3]})")
        return model

    def run(self, augmentation: str, optimizer: str, seed: int, backbone: str = "pretrained_frozen") -> dict[str, Any]:
        """Train one network and score it on the held-out images.

        Returns:
            ``history`` (per epoch: ``train_loss`` on the batches as trained, ``val_loss`` and
            ``mean_iou`` held out), ``val_losses`` (each held-out image's final loss),
            ``train_loss_clean`` (mean loss on the un-augmented training images at the end),
            ``pred_counts`` (held-out pixels predicted per class), ``best_epoch`` (of the
            lowest held-out loss) and ``seconds``.
        """
        from helpers.core.runtime import resolve_device
        from helpers.training import fit

        check_choice(augmentation, "augmentation", AUGMENTATION_SETTINGS)
        check_choice(optimizer, "optimizer", OPTIMIZERS)
        device = resolve_device(self.device)
        model = self.build(seed, backbone)
        size = self.x_train.shape[1]
        loader = augmented_loader(self.x_train, self.y_train, augmentation=augmentation, size=size,
                                  batch_size=self.batch_size, num_workers=self.num_workers, seed=seed)
        opt, sched = make_optimizer(optimizer, model, total_steps=self.epochs * len(loader))
        xv, yv = normalise_images(self.x_val), torch.from_numpy(self.y_val.astype(np.int64))
        t0 = time.perf_counter()
        hist = fit(model, loader, loss_fn=main_aux_loss, epochs=self.epochs, val_data=(xv, yv), optimizer=opt,
                   scheduler=sched, scheduler_interval="step", batch_size=self.batch_size,
                   num_classes=self.num_classes, ignore_index=255, progress=False, seed=seed, device=device,
                   eval_every=self.eval_every,
                   augment=mixing(self.num_classes, seed) if augmentation == "affine_blur_mix" else None)
        seconds = time.perf_counter() - t0
        val_losses, preds = per_image_loss(model, xv, yv, batch_size=self.batch_size, device=device)
        train_losses, _ = per_image_loss(model, normalise_images(self.x_train),
                                         torch.from_numpy(self.y_train.astype(np.int64)),
                                         batch_size=self.batch_size, device=device)
        if self.weights_dir is not None:
            frozen = backbone.endswith("frozen")
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()
                     if not (frozen and k.startswith(_BACKBONE_PREFIXES))}
            path = self.weights_path(augmentation, optimizer, seed, backbone)
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(state, path)
        h = hist.to_dict()
        finite = [(v, e) for e, v in zip(h["epoch"], h["val_loss"]) if v is not None and np.isfinite(v)]
        return {"history": h, "val_losses": val_losses.tolist(), "train_loss_clean": float(train_losses.mean()),
                "pred_counts": np.bincount(preds.ravel().numpy(), minlength=self.num_classes).tolist(),
                "best_epoch": int(min(finite)[1]) if finite else None, "seconds": seconds}


def grid_configs(seeds: list[int] | tuple[int, ...], *, augmentations: tuple[str, ...] = AUGMENTATION_SETTINGS,
                 optimizers: tuple[str, ...] = OPTIMIZERS, backbone: str = "pretrained_frozen") -> list[dict[str, Any]]:
    """The runs of the grid as :func:`~helpers.core.sweeps.cached_sweep` configurations, seed by seed.

    Example:
        >>> [tuple(c.values()) for c in grid_configs([0], augmentations=("none",))]
        [('none', 'sgd_poly', 0, 'pretrained_frozen'), ('none', 'adam', 0, 'pretrained_frozen')]
    """
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {seeds!r}")
    check_choice(backbone, "backbone", BACKBONES)
    return [{"augmentation": a, "optimizer": o, "seed": int(s), "backbone": backbone}
            for s in seeds for a in augmentations for o in optimizers]


def per_seed(rows: list[dict[str, Any]], key: str = "final_val_loss") -> dict[tuple[str, str, str], dict[int, float]]:
    """``{(backbone, augmentation, optimizer): {seed: value}}`` from the sweep's rows.

    ``key`` is ``"final_val_loss"`` (mean of ``val_losses``), ``"best_val_loss"`` (lowest on the
    curve), ``"train_loss_clean"`` or ``"final_miou"``.
    """
    check_choice(key, "key", ("final_val_loss", "best_val_loss", "train_loss_clean", "final_miou"))
    out: dict[tuple[str, str, str], dict[int, float]] = {}
    for r in rows:
        c = r["config"]
        if key == "final_val_loss":
            v = float(np.mean(r["val_losses"]))
        elif key == "best_val_loss":
            v = float(np.nanmin(np.asarray(r["history"]["val_loss"], dtype=float)))
        elif key == "train_loss_clean":
            v = float(r["train_loss_clean"])
        else:
            v = float([m for m in r["history"]["mean_iou"] if m is not None and np.isfinite(m)][-1])
        out.setdefault((c["backbone"], c["augmentation"], c["optimizer"]), {})[int(c["seed"])] = v
    return out


def paired(values: dict[tuple[str, str, str], dict[int, float]], a: tuple[str, str, str],
           b: tuple[str, str, str]) -> tuple[list[float], list[float], list[int]]:
    """The values of cells ``a`` and ``b`` on the seeds both have, in seed order: ``(a, b, seeds)``."""
    seeds = sorted(set(values.get(a, {})) & set(values.get(b, {})))
    return [values[a][s] for s in seeds], [values[b][s] for s in seeds], seeds
