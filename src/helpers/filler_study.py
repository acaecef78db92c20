"""Training and scoring the C4Fk CNN on filler slices, and the objective its search workers run.

* :func:`train_filler_cnn`: Adam, sparse categorical cross entropy, the paper's accuracy counted as
  correct answers per class (its Tables 1-2 print "correct out of N" for each structure).
* :func:`cnn_objective`: ``objective(trial)`` for :mod:`helpers.search` workers; the data come from an
  ``.npz`` file (``x_train, y_train, x_val, y_val`` and optional ``epochs``), so a worker on another
  machine needs only that file and the storage URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .checks import check_positive_int

CLASS_NAMES = ("Rnd", "M-SBR", "n-SBR")


def correct_per_class(y_true: Any, y_pred: Any, num_classes: int = 3) -> list[int]:
    """Correct answers for each true class (the paper's table format).

    Example:
        >>> correct_per_class([0, 0, 1, 2, 2], [0, 1, 1, 2, 0])
        [1, 1, 1]
    """
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}")
    return [int(((t == c) & (p == c)).sum()) for c in range(num_classes)]


def train_filler_cnn(params: dict[str, Any], train: tuple[Any, Any], val: tuple[Any, Any] | None = None, *,
                     epochs: int = 10, seed: int = 0, fc_scale: float = 1.0, verbose: int = 0) -> dict[str, Any]:
    """Build C4F``params["fc_layers"]`` and train it with Adam.

    Args:
        params: ``fc_layers``, ``filters``, ``dropout``, ``learning_rate``, ``batch_size``
            (the search space of :mod:`helpers.search`).
        train, val: ``(images (N, H, W), labels (N,))``.
        epochs: passes over the training images.

    Returns:
        ``model``, ``history``, ``seconds``, and with ``val``: ``accuracy``, ``correct_per_class``.
    """
    import keras

    from .keras_utils import history_to_dict
    from .models.filler_cnn import filler_cnn

    x, y = np.asarray(train[0], np.float32)[..., None], np.asarray(train[1], np.int64)
    if x.ndim != 4 or len(x) != len(y):
        raise ValueError(f"train must be (images (N, H, W), labels (N,)), got {x.shape[:-1]} and {y.shape}")
    keras.utils.set_random_seed(seed)
    model = filler_cnn(x.shape[1:], fc_layers=int(params["fc_layers"]), filters=int(params["filters"]),
                       dropout=float(params["dropout"]), num_classes=int(y.max()) + 1 if len(y) else 3,
                       fc_scale=fc_scale)
    model.compile(optimizer=keras.optimizers.Adam(float(params["learning_rate"])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    hist = model.fit(x, y, epochs=check_positive_int(epochs, "epochs"), batch_size=int(params["batch_size"]),
                     shuffle=True, verbose=verbose)
    out: dict[str, Any] = {"model": model, "history": history_to_dict(hist), "seconds": time.perf_counter() - t0}
    if val is not None:
        xv, yv = np.asarray(val[0], np.float32)[..., None], np.asarray(val[1], np.int64)
        pred = np.asarray(model.predict(xv, batch_size=512, verbose=0)).argmax(1)
        out["accuracy"] = float((pred == yv).mean())
        out["correct_per_class"] = correct_per_class(yv, pred, model.output_shape[-1])
    return out


def cnn_objective(npz_path: str | None) -> Callable[[Any], float]:
    """The search objective: validation accuracy of C4Fk trained with the trial's hyperparameters."""
    from .search import suggest_cnn_params

    if not npz_path:
        raise ValueError("cnn_objective needs the path of an .npz file with x_train, y_train, x_val, y_val")
    with np.load(npz_path) as f:
        data = {k: f[k] for k in f.files}
    epochs = int(data.get("epochs", 3))
    fc_scale = float(data.get("fc_scale", 1.0))

    def objective(trial: Any) -> float:
        params = suggest_cnn_params(trial)
        run = train_filler_cnn(params, (data["x_train"], data["y_train"]), (data["x_val"], data["y_val"]),
                               epochs=epochs, seed=trial.number, fc_scale=fc_scale)
        trial.set_user_attr("seconds", run["seconds"])
        return run["accuracy"]

    return objective
