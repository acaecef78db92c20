"""Training and scoring the C4Fk CNN on filler slices, and the objective its search workers run.

* :func:`train_filler_cnn`: Adam, sparse categorical cross entropy, the paper's accuracy counted as
  correct answers per class (its Tables 1-2 print "correct out of N" for each structure).
* :func:`cnn_objective`: ``objective(trial)`` for :mod:`helpers.papers.filler_classification.search` workers; the data come from an
  ``.npz`` file (``x_train, y_train, x_val, y_val`` and optional ``epochs``), so a worker on another
  machine needs only that file and the storage URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from helpers.core.checks import check_positive_int

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
                     epochs: int = 10, seed: int = 0, fc_scale: float = 1.0, standardise: bool = True,
                     validate_each_epoch: bool = False, callbacks: list[Any] | None = None,
                     jit_compile: bool | str = "auto", verbose: int = 0,
                     num_classes: int | None = None) -> dict[str, Any]:
    """Build C4F``params["fc_layers"]`` and train it with Adam.

    Args:
        params: ``fc_layers``, ``filters``, ``dropout``, ``learning_rate``, ``batch_size``
            (the search space of :mod:`helpers.papers.filler_classification.search`).
        train, val: ``(images (N, H, W), labels (N,))``.
        epochs: passes over the training images.
        standardise: put the training set's mean and standard deviation into the model's first layer.
        validate_each_epoch: score ``val`` after every epoch (``val_accuracy`` in the history; what a
            pruning callback reads) instead of only at the end.
        callbacks: Keras callbacks, e.g. :func:`pruning_callback`.
        jit_compile: passed to ``model.compile`` (see :func:`helpers.training_keras.configure_keras`).
        num_classes: outputs of the network; None: at least 3 (the paper's structures), more if the
            labels hold more.

    Returns:
        ``model``, ``history``, ``seconds`` (training only), and with ``val``: ``accuracy``,
        ``correct_per_class`` and ``predictions``.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).random((12, 16, 16), dtype=np.float32); y = np.arange(12) % 3
        >>> p = {"fc_layers": 2, "filters": 2, "dropout": 0.0, "learning_rate": 1e-3, "batch_size": 4}
        >>> sorted(train_filler_cnn(p, (x, y), (x, y), epochs=1, fc_scale=0.01))[:3]
        ['accuracy', 'correct_per_class', 'history']
    """
    import keras

    from helpers.training_keras import history_to_dict
    from helpers.models.filler_cnn import filler_cnn

    x, y = np.asarray(train[0], np.float32)[..., None], np.asarray(train[1], np.int64)
    if x.ndim != 4 or len(x) != len(y):
        raise ValueError(f"train must be (images (N, H, W), labels (N,)), got {x.shape[:-1]} and {y.shape}")
    if validate_each_epoch and val is None:
        raise ValueError("validate_each_epoch needs val")
    keras.utils.set_random_seed(seed)
    stats = {"input_mean": float(x.mean()), "input_std": float(x.std()) or 1.0} if standardise else {}
    model = filler_cnn(x.shape[1:], fc_layers=int(params["fc_layers"]), filters=int(params["filters"]),
                       dropout=float(params["dropout"]),
                       num_classes=int(num_classes) if num_classes else (max(3, int(y.max()) + 1) if len(y) else 3),
                       fc_scale=fc_scale, **stats)
    model.compile(optimizer=keras.optimizers.Adam(float(params["learning_rate"])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit_compile)
    xv = yv = None
    if val is not None:
        xv, yv = np.asarray(val[0], np.float32)[..., None], np.asarray(val[1], np.int64)
    t0 = time.perf_counter()
    hist = model.fit(x, y, epochs=check_positive_int(epochs, "epochs"), batch_size=int(params["batch_size"]),
                     shuffle=True, verbose=verbose, callbacks=callbacks or [],
                     validation_data=(xv, yv) if validate_each_epoch else None)
    out: dict[str, Any] = {"model": model, "history": history_to_dict(hist), "seconds": time.perf_counter() - t0}
    if val is not None:
        pred = np.asarray(model.predict(xv, batch_size=1024, verbose=0)).argmax(1)
        out["accuracy"] = float((pred == yv).mean())
        out["correct_per_class"] = correct_per_class(yv, pred, model.output_shape[-1])
        out["predictions"] = pred
    return out


def pruning_callback(trial: Any) -> Any:
    """Keras callback: ``trial.report(val_accuracy, epoch)``; raise ``optuna.TrialPruned`` when the
    study's pruner says so (e.g. the median pruner: below the median of earlier trials at that epoch)."""
    import keras
    import optuna

    class PruneOnValAccuracy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            value = (logs or {}).get("val_accuracy")
            if value is None:
                raise ValueError("pruning needs val_accuracy: train with validate_each_epoch=True")
            trial.report(float(value), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch + 1} (val_accuracy {value:.3f})")

    return PruneOnValAccuracy()


def cnn_objective(npz_path: str | None) -> Callable[[Any], float]:
    """The search objective: validation accuracy of C4Fk trained with the trial's hyperparameters.

    The ``.npz`` holds ``x_train, y_train, x_val, y_val`` and optionally ``epochs``, ``fc_scale`` and
    ``prune`` (report ``val_accuracy`` each epoch to the study's pruner).
    """
    from helpers.papers.filler_classification.search import suggest_cnn_params

    if not npz_path:
        raise ValueError("cnn_objective needs the path of an .npz file with x_train, y_train, x_val, y_val")
    with np.load(npz_path) as f:
        data = {k: f[k] for k in f.files}
    epochs = int(data.get("epochs", 3))
    fc_scale = float(data.get("fc_scale", 1.0))
    prune = bool(data.get("prune", False))
    from helpers.training_keras import configure_keras

    jit = configure_keras()["jit_compile"]  # bf16 and XLA on a GPU, as in the notebook

    def objective(trial: Any) -> float:
        params = suggest_cnn_params(trial)
        run = train_filler_cnn(params, (data["x_train"], data["y_train"]), (data["x_val"], data["y_val"]),
                               epochs=epochs, seed=trial.number, fc_scale=fc_scale, jit_compile=jit,
                               validate_each_epoch=prune, callbacks=[pruning_callback(trial)] if prune else None)
        trial.set_user_attr("seconds", run["seconds"])
        return run["accuracy"]

    return objective


# The paper's tables: correct answers per class, columns in the paper's order (M-SBR, n-SBR, Rnd).
PAPER_COLUMNS = ("M-SBR", "n-SBR", "Rnd")
PAPER_TABLE1_N = 1000  # evaluation images per class
PAPER_TABLE1 = {(250, 8000): (434, 925, 516),
                (500, 500): (981, 663, 925), (500, 2000): (965, 791, 950), (500, 8000): (908, 889, 993),
                (1000, 500): (914, 915, 1000), (1000, 2000): (978, 974, 1000), (1000, 8000): (940, 995, 1000)}
PAPER_TABLE2_N = 880  # FIB-SEM images per class, (1000 nm)^2
PAPER_TABLE2 = {2: (753, 767, 880), 3: (744, 717, 880), 4: (863, 812, 880), 5: (880, 766, 880),
                6: (878, 823, 880), 7: (878, 741, 880), 8: (878, 833, 880), 9: (880, 542, 880)}


def paper_order(counts: Any) -> list[int]:
    """Our per-class counts (label order Rnd, M-SBR, n-SBR) in the paper's column order (M-SBR, n-SBR, Rnd).

    Example:
        >>> paper_order([10, 20, 30])
        [20, 30, 10]
    """
    c = [int(v) for v in counts]
    if len(c) != 3:
        raise ValueError(f"expected 3 per-class counts (Rnd, M-SBR, n-SBR), got {len(c)}")
    return [c[1], c[2], c[0]]


def counts_table(rows: list[tuple[str, Any, int, Any, int | None]], first: str = "setting",
                 class_names: list[str] | tuple[str, ...] | None = None) -> str:
    """A Markdown table of correct answers per class, ours beside the paper's.

    Args:
        rows: ``(label, our counts in label order, our N per class, paper counts in paper order or None,
            paper N)``.
        first: header of the first column.
        class_names: the classes of a folder of your own, in label order: then the table has one column
            per class and no paper columns (the paper's numbers are about its three structures).

    Example:
        >>> print(counts_table([("x", [1, 2, 3], 4, (5, 6, 7), 8)]).splitlines()[2])
        | x | 2/4 | 3/4 | 1/4 | 50% | 5/8 | 6/8 | 7/8 | 75% |
        >>> print(counts_table([("x", [3, 1], 4, None, None)], class_names=["pores", "cracks"]))
        | setting | pores | cracks | accuracy |
        |---|---|---|---|
        | x | 3/4 | 1/4 | 50% |
    """
    if class_names is not None:
        k = len(class_names)
        lines = [f"| {first} | " + " | ".join(class_names) + " | accuracy |", "|" + "---|" * (k + 2)]
        for label, ours, n, _paper, _paper_n in rows:
            if len(ours) != k:
                raise ValueError(f"row {label!r} has {len(ours)} counts for {k} classes")
            lines.append(f"| {label} | " + " | ".join(f"{v}/{n}" for v in ours) + f" | {sum(ours) / (k * n):.0%} |")
        return "\n".join(lines)
    head = (f"| {first} | " + " | ".join(f"{c} (ours)" for c in PAPER_COLUMNS) + " | accuracy (ours) | "
            + " | ".join(f"{c} (paper)" for c in PAPER_COLUMNS) + " | accuracy (paper) |")
    lines = [head, "|" + "---|" * 9]
    for label, ours, n, paper, paper_n in rows:
        o = paper_order(ours)
        cells = [f"{v}/{n}" for v in o] + [f"{sum(o) / (3 * n):.0%}"]
        if paper is None:
            cells += ["-"] * 4
        else:
            cells += [f"{v}/{paper_n}" for v in paper] + [f"{sum(paper) / (3 * paper_n):.0%}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
