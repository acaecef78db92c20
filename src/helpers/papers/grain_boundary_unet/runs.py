"""One training of notebook 01 as a picklable object, so the sweeps' many small trainings run side by side.

Figs. 8 and 9 train 28 networks per seed, the final comparison and the real-data section a few more.
One such Keras network leaves most of a GPU idle, so :class:`BoundaryRuns` holds the data and the
training settings, and ``runs.run(model=..., depth=..., layers=..., seed=...)`` trains one network
(early stopping on the validation IoU), scores it on the test images and checks its predictions for
sense. :func:`helpers.core.sweeps.cached_sweep` with ``workers > 1`` sends the runs to that many
spawned processes; each process configures Keras itself (:func:`helpers.training_keras.configure_keras`)
and every run seeds itself from its own ``seed``, so a run gives the same result whichever process
trains it (``tests/papers/grain_boundary_unet/test_boundary_runs.py`` checks 1 against 2 workers).

The test predictions of a run go to ``<predictions_dir>/<run name>.npy`` (float16 probabilities), so
the notebook measures lengths, carbide ratios and topology on them without the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.checks import check_choice, check_positive_int

__all__ = ["LOSSES", "MODELS", "BoundaryRuns", "coverage_mismatch", "per_image_iou", "run_name"]

#: The networks a run can train.
MODELS = ("unet", "deeplab")
#: The losses a run can train with: the paper's BCE + Dice, and that plus clDice (section 10).
LOSSES = ("bce_dice", "bce_dice_cldice")

_KERAS_READY: dict[str, Any] = {}


def per_image_iou(truth: Any, prob: Any, threshold: float = 0.5) -> np.ndarray:
    """Foreground IoU of each image, ``(N,)`` float64; an image where both masks are empty scores 1.

    Example:
        >>> t = np.array([[[1, 1], [0, 0]], [[0, 0], [0, 0]]])
        >>> per_image_iou(t, np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.0, 0.0], [0.0, 0.0]]])).tolist()
        [0.3333333333333333, 1.0]
    """
    t = np.asarray(truth) > 0.5
    p = np.asarray(prob) >= threshold
    if t.shape != p.shape or t.ndim != 3:
        raise ValueError(f"truth and prob must both be (N, H, W), got {t.shape} and {p.shape}")
    inter = (t & p).sum(axis=(1, 2)).astype(np.float64)
    union = (t | p).sum(axis=(1, 2)).astype(np.float64)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def coverage_mismatch(pred: Any, truth: Any, *, factor: float = 3.0, name: str = "prediction") -> str | None:
    """A reason when the predicted boundary covers over ``factor`` times more, or less, of the image
    than the true boundaries do (a model that paints everything or almost nothing), else None.

    A binary prediction can avoid being constant and still fail: on a set it has not learnt, a
    network may mark a third of the image as boundary where the truth has a tenth. Its IoU is then a
    number, not a result.

    Example:
        >>> t = np.zeros((2, 8, 8)); t[:, 3] = 1           # 12.5 % boundary
        >>> coverage_mismatch(np.ones((2, 8, 8)), t)
        'prediction marks 100.0 % of the pixels as boundary, the truth 12.5 % (over 3x off)'
        >>> coverage_mismatch(t, t) is None
        True
    """
    if not factor > 1:
        raise ValueError(f"factor must be > 1, got {factor}")
    p, t = float(np.mean(np.asarray(pred) > 0.5)), float(np.mean(np.asarray(truth) > 0.5))
    if t == 0:
        return None if p == 0 else f"{name} marks {p:.1%} of the pixels as boundary where the truth has none"
    if p > factor * t or p < t / factor:
        return (f"{name} marks {100 * p:.1f} % of the pixels as boundary, the truth {100 * t:.1f} % "
                f"(over {factor:g}x off)")
    return None


def run_name(model: str, depth: int = 0, layers: int = 0, residual: bool = True, backbone: str = "",
             loss: str = "bce_dice", seed: int = 0, tag: str = "") -> str:
    """A file-name-safe name of one run, e.g. ``unet_d5_l7_res_s0`` or ``deeplab_mobilenetv2_s1``.

    Example:
        >>> run_name("unet", 5, 7, seed=2), run_name("deeplab", backbone="xception", tag="tbm")
        ('unet_d5_l7_res_s2', 'tbm_deeplab_xception_s0')
    """
    core = f"unet_d{depth}_l{layers}_{'res' if residual else 'plain'}" if model == "unet" else f"deeplab_{backbone}"
    if loss != "bce_dice":
        core += f"_{loss}"
    return f"{tag + '_' if tag else ''}{core}_s{seed}"


def _keras(mixed_precision: bool | None) -> dict[str, Any]:
    """Configure Keras once per process (a spawned worker starts with Keras' defaults)."""
    if "setup" not in _KERAS_READY:
        from helpers.training_keras import configure_keras

        _KERAS_READY["setup"] = configure_keras(mixed_precision)
    return _KERAS_READY["setup"]


@dataclass
class BoundaryRuns:
    """The data and training settings of notebook 01; :meth:`run` trains and scores one network.

    Args:
        x_train, y_train, x_val, y_val, x_test, y_test: images ``(N, H, W)`` in [0, 1] and 0/1 masks.
        learning_rate, momentum, l2: momentum SGD (the tuned values of Table 1).
        batch_size: images per step.
        max_epochs: the epoch budget of a run; patience: early stopping (``None``: train every epoch).
        filters: filters at the U-Net's first level (the paper: 16).
        predictions_dir: where each run's test probabilities are saved (``None``: not saved).
        mixed_precision: passed to :func:`~helpers.training_keras.configure_keras` in each process.

    Example:
        >>> rng = np.random.default_rng(0); x = rng.random((4, 16, 16), dtype=np.float32)
        >>> y = (x > 0.5).astype(np.float32)
        >>> runs = BoundaryRuns(x, y, x, y, x, y, learning_rate=0.1, momentum=0.9, l2=0.0, batch_size=4,
        ...                     max_epochs=1, mixed_precision=False)
        >>> row = runs.run(depth=2, layers=2, seed=0)
        >>> row["epochs_run"], len(row["per_image_iou"]), 0.0 <= row["iou"] <= 1.0
        (1, 4, True)
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    learning_rate: float
    momentum: float
    l2: float
    batch_size: int = 32
    max_epochs: int = 12
    patience: int | None = None
    filters: int = 16
    predictions_dir: str | os.PathLike | None = None
    mixed_precision: bool | None = None

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            x, y = getattr(self, f"x_{name}"), getattr(self, f"y_{name}")
            if np.ndim(x) != 3 or np.shape(x) != np.shape(y):
                raise ValueError(f"x_{name} and y_{name} must both be (N, H, W) with the same shape, got "
                                 f"{np.shape(x)} and {np.shape(y)}")
        self.batch_size = check_positive_int(self.batch_size, "batch_size")
        self.max_epochs = check_positive_int(self.max_epochs, "max_epochs")
        if self.patience is not None:
            self.patience = check_positive_int(self.patience, "patience")
        if self.predictions_dir is not None:
            self.predictions_dir = str(self.predictions_dir)

    @property
    def image_size(self) -> int:
        return int(np.shape(self.x_train)[1])

    def build(self, model: str = "unet", depth: int = 2, layers: int = 2, residual: bool = True,
              backbone: str = "mobilenetv2") -> Any:
        """A fresh network: the residual U-Net of the paper, or DeepLabv3+ (``weights="imagenet"``
        when those can be downloaded, random otherwise; the model's ``weights_source`` says which)."""
        check_choice(model, "model", MODELS)
        shape = (self.image_size, self.image_size, 1)
        if model == "unet":
            from helpers.models.residual_unet import residual_unet

            return residual_unet(shape, depth=depth, layers=layers, filters=self.filters, residual=residual)
        from helpers.models.deeplabv3plus import deeplabv3plus

        return deeplabv3plus(shape, backbone=backbone, weights="imagenet")

    def run(self, model: str = "unet", depth: int = 2, layers: int = 2, residual: bool = True,
            backbone: str = "", loss: str = "bce_dice", seed: int = 0, epochs: int | None = None,
            tag: str = "") -> dict[str, Any]:
        """Train one network from ``seed`` (weights and batch order), keep its best validation epoch,
        and score it on the test images.

        Returns:
            ``iou`` (pooled over the test pixels, the paper's metric), ``per_image_iou``, ``best_epoch``,
            ``epochs_run``, ``stopped_early`` (patience ran out before the budget), ``val_iou`` and
            ``loss`` per epoch, ``seconds``, ``images_per_second``, ``predicted_fraction`` and
            ``true_fraction`` (boundary pixels), ``degenerate`` (a reason, or None), ``weights_source``
            (DeepLabv3+) and ``predictions`` (the saved file, or None).
        """
        import keras

        from helpers.core.claims import degenerate, missing_classes, nonfinite_values
        from helpers.losses.keras_losses import bce_dice_cldice_loss, bce_dice_loss
        from helpers.metrics import binary_iou
        from helpers.papers.grain_boundary_unet.training import predict_probabilities, train_segmenter

        check_choice(loss, "loss", LOSSES)
        _keras(self.mixed_precision)
        keras.utils.set_random_seed(int(seed))
        net = self.build(model, depth, layers, residual, backbone or "mobilenetv2")
        fit = train_segmenter(net, (self.x_train, self.y_train), (self.x_val, self.y_val),
                              epochs=epochs or self.max_epochs, batch_size=self.batch_size, seed=int(seed),
                              loss=bce_dice_loss if loss == "bce_dice" else bce_dice_cldice_loss, keep_best=True,
                              patience=self.patience, learning_rate=self.learning_rate, momentum=self.momentum,
                              l2=self.l2)
        prob = predict_probabilities(net, self.x_test)
        truth = np.asarray(self.y_test)
        pred = (prob > 0.5).astype(np.int64)
        reason = degenerate(nonfinite_values(prob.ravel(), names=("probabilities",)),
                            missing_classes(pred, 2, name="test prediction")
                            or coverage_mismatch(pred, truth, name="test prediction"))
        path = None
        name = run_name(model, depth, layers, residual, backbone, loss, int(seed), tag)
        if self.predictions_dir is not None:
            Path(self.predictions_dir).mkdir(parents=True, exist_ok=True)
            path = str(Path(self.predictions_dir) / f"{name}.npy")
            np.save(path, prob.astype(np.float16))
        row = {
            "iou": float(binary_iou(truth.astype(np.int64), prob, threshold=0.5)),
            "per_image_iou": per_image_iou(truth, prob).tolist(),
            "best_epoch": fit["best_epoch"], "epochs_run": fit["epochs_run"], "stopped_early": fit["stopped_early"],
            "val_iou": fit["history"]["val_iou"], "loss": fit["history"]["loss"],
            "seconds": fit["seconds"], "images_per_second": fit["images_per_second"],
            "predicted_fraction": float(pred.mean()), "true_fraction": float((truth > 0.5).mean()),
            "degenerate": reason, "weights_source": getattr(net, "weights_source", None), "predictions": path,
            "name": name,
        }
        del net
        keras.backend.clear_session()  # frees the graph of this run; it also resets the dtype policy:
        keras.mixed_precision.set_global_policy(_keras(self.mixed_precision)["policy"])
        return row


def run_reasons(rows: Any) -> str | None:
    """The degenerate reasons of sweep rows (``cached_sweep`` output of :meth:`BoundaryRuns.run`),
    each prefixed with its run's name; None when every run's predictions make sense.

    Example:
        >>> run_reasons([{"name": "unet_d2_l2_res_s0", "degenerate": None},
        ...              {"name": "deeplab_mobilenetv2_s0", "degenerate": "test prediction never predicts class 1 of 0..1"}])
        'deeplab_mobilenetv2_s0: test prediction never predicts class 1 of 0..1'
    """
    found = [f"{r['name']}: {r['degenerate']}" for r in rows if r.get("degenerate")]
    return "; ".join(found) or None
