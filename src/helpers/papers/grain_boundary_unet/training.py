"""Training Keras segmentation models the way the grain-boundary paper did.

Momentum SGD with an L2 term, BCE + Dice loss, foreground IoU as the metric, and an
Optuna study of learning rate, momentum and L2 (the paper's Table 1). Written against
``keras`` only, so it runs on the TensorFlow backend and on ``KERAS_BACKEND=torch``.

About L2: Keras' ``SGD(weight_decay=...)`` shrinks every weight by ``lr * weight_decay``
each step (decoupled decay). For plain SGD that equals an L2 penalty of ``weight_decay/2 * |w|^2``
in the loss; with momentum the two differ slightly. We use the optimizer's decay so that
one model can be re-trained with different L2 values without rebuilding it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from helpers.core.checks import check_ndim, check_positive_int, check_range
from helpers.core.progress import progress_bar
from helpers.losses.keras_losses import bce_dice_loss
from helpers.training_keras import history_to_dict


def as_keras_images(x: Any, name: str = "images") -> np.ndarray:
    """``(N, H, W)`` or ``(N, H, W, C)`` -> float32 ``(N, H, W, C)`` (Keras is channels-last)."""
    x = np.asarray(x)
    check_ndim(x, name, (3, 4), "(N, H, W) or (N, H, W, C)")
    return (x[..., None] if x.ndim == 3 else x).astype(np.float32, copy=False)


def sgd(learning_rate: float, momentum: float, l2: float) -> keras.optimizers.Optimizer:
    """Momentum SGD with decoupled L2 decay (see the module docstring)."""
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if not l2 >= 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum,
                                weight_decay=l2 if l2 > 0 else None)


class BestValidationIoU(keras.callbacks.Callback):
    """Score the foreground IoU on held-out images after every epoch; optionally keep the best weights.

    The score is computed by :func:`foreground_iou_score` (prediction, then NumPy), once per epoch,
    so the training step itself carries no metric. It is logged as ``val_iou``.

    Args:
        images, masks: the held-out set, ``(N, H, W, 1)``.
        restore_best: at the end of training, load the weights of the best epoch.
        patience: stop training once this many epochs in a row have not raised the best score
            (early stopping); ``None`` trains every epoch. The count starts once the best score beats
            ``guess_iou``, the IoU of calling every pixel boundary: a run below it has not started to
            learn (momentum SGD often spends its first epochs predicting almost no boundary, after a
            first epoch scoring a few hundredths by chance), so only the budget ends it.
            ``stopped_early`` says whether it stopped.
    """

    def __init__(self, images: np.ndarray, masks: np.ndarray, restore_best: bool = True,
                 patience: int | None = None) -> None:
        super().__init__()
        self.images, self.masks = images, masks
        self.restore_best = restore_best
        self.patience = None if patience is None else check_positive_int(patience, "patience")
        self.best_iou, self.best_epoch, self._best_weights = -1.0, None, None
        # IoU of the all-boundary guess = the boundary share of the held-out pixels
        self.guess_iou = float(np.mean(np.asarray(masks) > 0.5))
        self.stopped_early = False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        iou = foreground_iou_score(self.model, self.images, self.masks, batch_size=32)
        iou = iou if np.isfinite(iou) else 0.0
        if logs is not None:
            logs["val_iou"] = iou
        if iou > self.best_iou:
            self.best_iou, self.best_epoch = iou, epoch + 1
            if self.restore_best:
                self._best_weights = self.model.get_weights()
        elif (self.patience is not None and self.best_iou > self.guess_iou
              and epoch + 1 - self.best_epoch >= self.patience):
            self.stopped_early = True
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.restore_best and self._best_weights is not None:
            self.model.set_weights(self._best_weights)


def train_segmenter(model: keras.Model, train: tuple[Any, Any], val: tuple[Any, Any] | None = None, *,
                    epochs: int, batch_size: int = 32, learning_rate: float = 0.05, momentum: float = 0.9,
                    l2: float = 1e-4, loss: Callable | str | None = None, jit_compile: bool | str = "auto",
                    keep_best: bool = False, patience: int | None = None, seed: int = 0,
                    verbose: int = 0) -> dict[str, Any]:
    """Compile ``model`` with momentum SGD and BCE + Dice, train it, and time it.

    Args:
        model: a Keras model ending in a sigmoid, output ``(N, H, W, 1)``.
        train: ``(images, masks)``; images ``(N, H, W[, 1])`` in [0, 1], masks of 0/1.
        val: optional held-out ``(images, masks)`` scored every epoch.
        epochs, batch_size: as in ``Model.fit``.
        learning_rate, momentum, l2: the three hyperparameters of the paper's Table 1.
        loss: defaults to :func:`helpers.losses.keras_losses.bce_dice_loss`.
        jit_compile: passed to ``compile``; ``"auto"`` lets Keras decide.
        keep_best: score the foreground IoU on ``val`` after every epoch and end with the weights of
            the best epoch (as a checkpoint kept with ``save_best_only`` would). Momentum SGD at a
            high learning rate makes the last epoch's IoU jump from epoch to epoch; the best epoch is
            a steadier measure. Score the result on images other than ``val``.
        patience: early stopping: end training once ``patience`` epochs in a row have not raised the
            best validation IoU (``epochs`` is then the budget, not the length); needs ``val``.
        seed: seeds Keras (weights of a model built afterwards, shuffling).
        verbose: Keras' verbosity (0 keeps a sweep's output short).

    Returns:
        ``{"history": {...}, "seconds": float, "images_per_second": float, "best_epoch": int | None,
        "epochs_run": int, "stopped_early": bool}`` (``best_epoch`` counts from 1; ``None`` without
        ``keep_best``). With ``val``, the history
        holds ``val_iou`` per epoch (scored outside the training step, so training runs at full speed).
    """
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    keras.utils.set_random_seed(seed)  # the batch order repeats; weights were drawn when the model was built
    x, y = as_keras_images(train[0]), as_keras_images(train[1], "masks")
    if x.shape[:3] != y.shape[:3]:
        raise ValueError(f"images and masks must have the same N, H, W; got {x.shape} and {y.shape}")
    check_range(y, "masks", 0.0, 1.0)
    callbacks = []
    if val is not None:
        scorer = BestValidationIoU(as_keras_images(val[0]), as_keras_images(val[1], "val masks"),
                                   restore_best=keep_best, patience=patience)
        callbacks.append(scorer)
    elif keep_best or patience is not None:
        raise ValueError("keep_best=True needs val=(images, masks) to choose the best epoch (so does patience)")
    model.compile(optimizer=sgd(learning_rate, momentum, l2), loss=loss or bce_dice_loss, jit_compile=jit_compile)
    t0 = time.perf_counter()
    hist = model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=verbose, callbacks=callbacks)
    seconds = time.perf_counter() - t0
    h = history_to_dict(hist)
    if not np.all(np.isfinite(h["loss"])):
        raise FloatingPointError(f"training loss became non-finite (lr={learning_rate}); lower the learning rate")
    best_epoch = scorer.best_epoch if keep_best else None
    epochs_run = len(h["loss"])
    return {"history": h, "seconds": seconds, "images_per_second": epochs_run * len(x) / seconds,
            "best_epoch": best_epoch, "epochs_run": epochs_run,
            "stopped_early": bool(val is not None and scorer.stopped_early)}


def predict_probabilities(model: keras.Model, images: Any, batch_size: int = 16) -> np.ndarray:
    """Foreground probabilities ``(N, H, W)`` as float32 NumPy."""
    p = model.predict(as_keras_images(images), batch_size=batch_size, verbose=0)
    return np.asarray(p, dtype=np.float32)[..., 0]


def foreground_iou_score(model: keras.Model, images: Any, masks: Any, threshold: float = 0.5,
                         batch_size: int = 16) -> float:
    """IoU of the foreground (the paper's metric) over all pixels of all images.

    Uses :func:`helpers.metrics.binary_iou`, so it is the same number for a Keras and a torch model.
    """
    from helpers.metrics import binary_iou

    prob = predict_probabilities(model, images, batch_size)
    truth = np.asarray(masks)
    truth = truth[..., 0] if truth.ndim == 4 else truth
    return float(binary_iou(truth.astype(np.int64), prob, threshold=threshold))


def tune_sgd(build_model: Callable[[], keras.Model], train: tuple[Any, Any], val: tuple[Any, Any], *,
             n_trials: int, epochs: int, batch_size: int = 32, seed: int = 0,
             storage: str | os.PathLike | None = None, study_name: str = "sgd",
             learning_rate: tuple[float, float] = (1e-3, 1.0), momentum: tuple[float, float] = (0.5, 0.99),
             l2: tuple[float, float] = (1e-6, 1e-2), keep_best: bool = True, progress: bool = True) -> Any:
    """Optuna study of learning rate, momentum and L2 for momentum SGD (the paper's Table 1).

    The paper used Bayesian optimisation through Optuna; Optuna's default sampler is TPE,
    which we use with a fixed seed. With ``storage`` (a file path) the study lives in SQLite
    and resumes after an interruption; finished trials are never lost or re-run.

    Args:
        build_model: returns a fresh, untrained model for each trial.
        train, val: ``(images, masks)``; trials are scored by foreground IoU on ``val``.
        n_trials: total trials the study should have (already finished ones count).
        epochs: epochs per trial.
        storage: SQLite file for the study, or ``None`` for in memory.
        learning_rate, momentum, l2: search ranges (learning rate and L2 on a log scale).
        keep_best: score each trial at its best epoch on ``val`` (see :func:`train_segmenter`).

    Returns:
        The ``optuna.Study``; ``study.best_params`` holds the chosen values.
    """
    import optuna  # tqdm's "IProgress not found" warning is filtered in helpers/__init__.py

    n_trials = check_positive_int(n_trials, "n_trials")
    url = None
    if storage is not None:
        Path(storage).parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{Path(storage).resolve()}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name, storage=url, load_if_exists=True, direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))

    def objective(trial: Any) -> float:
        params = {
            "learning_rate": trial.suggest_float("learning_rate", *learning_rate, log=True),
            "momentum": trial.suggest_float("momentum", *momentum),
            "l2": trial.suggest_float("l2", *l2, log=True),
        }
        keras.utils.set_random_seed(seed + trial.number)
        model = build_model()
        try:
            run = train_segmenter(model, train, val, epochs=epochs, batch_size=batch_size, seed=seed,
                                  keep_best=keep_best, **params)
        except FloatingPointError:
            return 0.0  # a diverged run is a bad trial, not a crash of the study
        ious = run["history"]["val_iou"]  # scored by the callback every epoch (non-finite -> 0)
        return float(max(ious) if keep_best else ious[-1])

    finished = sum(t.state.name == "COMPLETE" for t in study.trials)
    if finished < n_trials:
        # our own bar, not Optuna's: it follows helpers.core.progress (one final line in a papermill run)
        bar = progress_bar(total=n_trials, initial=finished, desc="trials", disable=not progress)
        try:
            study.optimize(objective, n_trials=n_trials - finished, show_progress_bar=False,
                           catch=(FloatingPointError,), callbacks=[lambda _study, _trial: bar.update(1)])
        finally:
            bar.close()
    return study
