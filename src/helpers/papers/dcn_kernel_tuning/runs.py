"""Notebook 05's trainings as a picklable object, so the Table 1 sweep and the searches run side by side.

One training of DCN (1.4 M parameters, batch 8) leaves most of a GPU idle, and the chapter needs many of
them: 16 kernel settings x 3 seeds for Table 1, then a contrast-guided search and an Optuna search per
seed. :class:`DCNRuns` holds the data and the recipe; ``runs.train(kernels, seed)`` is one training
(scores, contrast of the three branch maps, and a check of the final prediction for sense), and
``runs.search(method, seed)`` one whole search. :func:`helpers.core.sweeps.cached_sweep` with
``workers > 1`` sends them to that many processes sharing the GPU; each training seeds itself from its
``seed``, so it gives the same result whichever process runs it.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from helpers.core.checks import check_choice, check_positive_int
from helpers.core.sweeps import WorkerRun

__all__ = ["SEARCH_METHODS", "SEARCH_SPACE", "DCNRuns", "run_key"]

#: The two searches compared in section 7: the contrast-guided choice (the paper's future work) and Optuna TPE.
SEARCH_METHODS = ("auto", "optuna")
#: Optuna's space: even kernels, each at least its branch's stride (2, 4, 8).
SEARCH_SPACE = {"k1": (2, 8), "k2": (4, 12), "k3": (8, 20)}


def run_key(kernels: Any, seed: int) -> str:
    """The text key of one training, e.g. ``"4-8-16_s0"`` (used in :attr:`DCNRuns.known`).

    Example:
        >>> run_key((4, 8, 16), 2)
        '4-8-16_s2'
    """
    return "-".join(str(int(k)) for k in kernels) + f"_s{int(seed)}"


@dataclass
class DCNRuns(WorkerRun):
    """The data and recipe of notebook 05; :meth:`train` trains and scores one DCN, :meth:`search` one search.

    Args:
        x_train, y_train: standardised training images ``(N, H, W)`` float32 and masks (1 = membrane).
        x_val, y_val: the tuning / scoring images (the paper's 3 ISBI slices) and their masks.
        width, epochs, batch_size, lr: DCN's first width and the training recipe (Adam, cosine decay to 0).
        weights_dir: each training's weights go to ``k<k1>-<k2>-<k3>_seed<s>.pt`` there.
        eval_every: epochs between validation scores (the learning curve).
        budget: trainings per search (the starting (4, 8, 16) included).
        known: finished trainings, :func:`run_key` -> row (``iou``, ``contrast``, ...): a search reuses
            them instead of training again (set before sending the object to the workers).
        device: ``None`` = CUDA when available.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.random((4, 16, 16), dtype=np.float32); y = (x > 0.5).astype(np.uint8)
        >>> r = DCNRuns(x, y, x[:2], y[:2], width=2, epochs=1, batch_size=2, weights_dir="/tmp/dcn_doc", device="cpu")
        >>> sorted(r.train([4, 8, 16], 0))[:4]
        ['contrast', 'contrast_per_image', 'dice', 'iou']
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    width: int = 32
    epochs: int = 200
    batch_size: int = 8
    lr: float = 1e-3
    weights_dir: str | os.PathLike = "weights"
    eval_every: int = 1
    budget: int = 6
    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    device: str | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("width", "epochs", "batch_size", "eval_every", "budget"):
            setattr(self, name, check_positive_int(getattr(self, name), name))
        for name in ("train", "val"):
            x, y = getattr(self, f"x_{name}"), getattr(self, f"y_{name}")
            if np.ndim(x) != 3 or np.shape(x) != np.shape(y):
                raise ValueError(f"x_{name} and y_{name} must both be (N, H, W) with the same shape, got "
                                 f"{np.shape(x)} and {np.shape(y)}")
            if not set(np.unique(y).tolist()) <= {0, 1}:
                raise ValueError(f"y_{name} must hold 0 and 1 (1 = membrane), got values {np.unique(y)[:10]}")
        if any(s % 8 for s in np.shape(self.x_train)[1:]):
            raise ValueError(f"image sides {np.shape(self.x_train)[1:]} must be divisible by 8 (DCN pools three times)")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        self.weights_dir = str(self.weights_dir)

    # -- pieces -------------------------------------------------------------------------

    def tensors(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images (N, 1, H, W) float32, masks (N, H, W) uint8)`` of ``train`` or ``val`` on the device."""
        check_choice(name, "name", ("train", "val"))
        if name not in self._cache:
            dev = self.torch_device
            x = torch.from_numpy(np.ascontiguousarray(getattr(self, f"x_{name}")[:, None], dtype=np.float32))
            y = torch.from_numpy(np.ascontiguousarray(getattr(self, f"y_{name}"), dtype=np.uint8))
            self._cache[name] = (x.to(dev), y.to(dev))
        return self._cache[name]

    def weights_path(self, kernels: Any, seed: int) -> Path:
        return Path(self.weights_dir) / f"k{'-'.join(str(int(k)) for k in kernels)}_seed{int(seed)}.pt"

    def load(self, kernels: Any, seed: int) -> torch.nn.Module:
        """A finished training's weights in a DCN on the device, in eval mode."""
        from helpers.models.dcn import dcn

        model = dcn(kernels=tuple(int(k) for k in kernels), width=self.width)
        model.load_state_dict(torch.load(self.weights_path(kernels, seed), map_location="cpu", weights_only=True))
        return model.to(self.torch_device).eval()

    # -- one training -------------------------------------------------------------------
    def train(self, kernels: Any, seed: int) -> dict[str, Any]:
        """Train DCN with ``kernels`` from ``seed``; score the validation images at the last epoch.

        Returns:
            ``iou``, ``dice`` (membrane), ``mean_iou``, ``contrast`` (mean over the validation images of
            F1, F2, F3's :func:`~helpers.papers.dcn_kernel_tuning.study.feature_map_contrast`),
            ``contrast_per_image``, ``iou_per_image``, ``pred_share`` (membrane share of the prediction),
            ``problems`` (why the final prediction is degenerate, else None), ``train_loss``,
            ``val_curve`` ((epoch, mean IoU) pairs) and ``seconds``.
        """
        from helpers.augment.gpu import RandomDihedral
        from helpers.losses import DCNLoss
        from helpers.models.dcn import dcn
        from helpers.papers.dcn_kernel_tuning.study import branch_maps, feature_map_contrast
        from helpers.training import evaluate, fit

        kernels = tuple(int(k) for k in kernels)
        seed = int(seed)
        x_tr, y_tr = self.tensors("train")
        x_va, y_va = self.tensors("val")
        torch.manual_seed(seed)
        model = dcn(kernels=kernels, width=self.width)
        steps = self.epochs * math.ceil(len(x_tr) / self.batch_size)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        t0 = time.perf_counter()
        hist = fit(model, (x_tr, y_tr), loss_fn=DCNLoss(total_steps=steps), epochs=self.epochs,
                   val_data=(x_va, y_va), optimizer=optimizer, scheduler=scheduler, scheduler_interval="step",
                   batch_size=self.batch_size, task="binary", augment=RandomDihedral(seed=seed), progress=False,
                   seed=seed, eval_every=self.eval_every, device=self.torch_device).to_dict()
        if not all(math.isfinite(v) for v in hist["train_loss"]):
            raise FloatingPointError(f"kernels {kernels} seed {seed}: a training loss is not finite "
                                     f"{hist['train_loss'][-3:]}")
        scores = evaluate(model, (x_va, y_va), task="binary", batch_size=self.batch_size)
        maps = branch_maps(model, x_va, batch_size=self.batch_size)  # (n_val, 3, H, W) on the CPU
        contrast = feature_map_contrast(maps).numpy()
        pred = (maps.sum(1) > 0).numpy().astype(np.uint8)  # the fused map F1 + F2 + F3, thresholded at p = 0.5
        path = self.weights_path(kernels, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)
        return {"iou": scores["iou_per_class"][1], "dice": scores["dice_per_class"][1],
                "mean_iou": scores["mean_iou"], "contrast": contrast.mean(0).tolist(),
                "contrast_per_image": contrast.tolist(),
                "iou_per_image": per_image_iou(pred, self.y_val).tolist(),
                "pred_share": float(pred.mean()), "problems": prediction_problems(pred, maps.numpy()),
                "train_loss": hist["train_loss"],
                "val_curve": [(e, v) for e, v in zip(hist["epoch"], hist["mean_iou"]) if math.isfinite(v)],
                "seconds": time.perf_counter() - t0}

    # -- one search ---------------------------------------------------------------------
    def _score(self, kernels: tuple[int, int, int], seed: int, new: dict[str, dict[str, Any]]) -> dict[str, Any]:
        key = run_key(kernels, seed)
        if key in self.known:
            return self.known[key]
        if key not in new:
            new[key] = self.train(kernels, seed)
        return new[key]

    def search(self, method: str, seed: int) -> dict[str, Any]:
        """One search of :attr:`budget` distinct trainings from (4, 8, 16), every training with ``seed``.

        ``"auto"``: :func:`~helpers.papers.dcn_kernel_tuning.study.contrast_guided_search` (shrink the kernel
        of the lowest-contrast branch, keep it if the IoU rises). ``"optuna"``: TPE (seeded by ``seed``)
        over :data:`SEARCH_SPACE`, (4, 8, 16) enqueued first; a setting proposed twice is not trained or
        counted twice. Trainings in :attr:`known` are reused, not repeated.

        Returns:
            ``best`` (kernels), ``best_iou``, ``history`` (``[kernels, iou]`` in the order tried) and
            ``new`` (the trainings this search ran, :func:`run_key` -> row, for the notebook's records).
        """
        from helpers.models.dcn import PAPER_KERNELS
        from helpers.papers.dcn_kernel_tuning.study import contrast_guided_search

        check_choice(method, "method", SEARCH_METHODS)
        seed = int(seed)
        new: dict[str, dict[str, Any]] = {}
        if method == "auto":
            out = contrast_guided_search(lambda k: self._score(k, seed, new), PAPER_KERNELS, budget=self.budget)
            history = [[list(h["kernels"]), h["score"]] for h in out["history"]]
            return {"best": list(out["best"]), "best_iou": out["best_score"], "history": history, "new": new}
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=max(1, self.budget // 2)))
        study.enqueue_trial(dict(zip(SEARCH_SPACE, PAPER_KERNELS)))
        seen: dict[tuple[int, int, int], float] = {}
        while len(seen) < self.budget and len(study.trials) < 20 * self.budget:
            trial = study.ask()
            ks = tuple(trial.suggest_int(name, lo, hi, step=2) for name, (lo, hi) in SEARCH_SPACE.items())
            if ks not in seen:
                seen[ks] = float(self._score(ks, seed, new)["iou"])
            study.tell(trial, seen[ks])
        best = max(seen, key=seen.get)
        return {"best": list(best), "best_iou": seen[best], "history": [[list(k), v] for k, v in seen.items()],
                "new": new}


def per_image_iou(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Membrane IoU of each image (NaN where neither the prediction nor the label has membrane).

    Example:
        >>> p = np.array([[[1, 0], [0, 0]], [[0, 0], [0, 0]]]); t = np.array([[[1, 1], [0, 0]], [[0, 0], [0, 0]]])
        >>> per_image_iou(p, t).tolist()
        [0.5, nan]
    """
    p, t = np.asarray(pred).astype(bool), np.asarray(truth).astype(bool)
    if p.shape != t.shape or p.ndim != 3:
        raise ValueError(f"pred and truth must both be (N, H, W), got {p.shape} and {t.shape}")
    inter = (p & t).sum((1, 2)).astype(np.float64)
    union = (p | t).sum((1, 2)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def prediction_problems(pred: np.ndarray, maps: np.ndarray | None = None) -> str | None:
    """Why a final membrane prediction cannot be scored as a result, else None.

    Checks the thresholded prediction ``(N, H, W)`` (0/1) for a constant map or a class never predicted
    (:mod:`helpers.core.claims`' helpers) and the branch maps ``(N, 3, H, W)``, if given, for NaN or a
    branch that is constant on every image (a dead branch: its contrast means nothing).

    Example:
        >>> prediction_problems(np.zeros((2, 4, 4), dtype=np.uint8))
        'membrane prediction is constant (every value is 0); membrane prediction never predicts class 1 of 0..1'
        >>> prediction_problems(np.eye(4, dtype=np.uint8)[None]) is None
        True
    """
    from helpers.core.claims import constant_prediction, degenerate, missing_classes, nonfinite_values

    name = "membrane prediction"
    reasons = [constant_prediction(pred, name=name), missing_classes(np.asarray(pred).astype(np.int64), 2, name=name)]
    if maps is not None:
        m = np.asarray(maps, dtype=np.float64)
        reasons.append(nonfinite_values(m.ravel(), names=("branch maps",)))
        if np.isfinite(m).all():
            flat = m.reshape(m.shape[0], m.shape[1], -1)
            dead = [b for b in range(m.shape[1]) if np.all(flat[:, b].max(-1) == flat[:, b].min(-1))]
            if dead:
                reasons.append("branch map " + ", ".join(f"F{b + 1}" for b in dead) + " is constant on every image")
    return degenerate(*reasons)
