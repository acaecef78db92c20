"""Many C4Fk trainings side by side, per-seed results, and the checks a claim needs before it is made.

* :class:`FillerRuns`: a picklable run object for :func:`helpers.core.sweeps.cached_sweep`
  (``workers=N`` trains N settings at once in N processes, one per run on a GPU, one on a CPU).
  The slices travel as ``.npz`` file paths, so each worker reads them itself; the result of a run
  depends only on its setting and seed, not on how many workers there are.
* :func:`run_problem`: why one run's predictions cannot support a number (one class for every
  slice, a class never predicted, a loss that diverged), from :mod:`helpers.core.claims`' helpers.
* :func:`comparison`: the ``kind``, ``baseline`` and ``variant`` of a measured claim from the runs of
  two settings that share seeds: paired seeds (accuracy per seed) with three seeds or more, otherwise
  paired evaluation slices (correct answers averaged over the seeds, bootstrap over the slices).
* :func:`dense_activation_scale`: the spread of each dense layer's output at initialisation (the
  measurement behind notebook 03's Table 2: why deep FC stacks started from a constant answer).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.checks import check_choice, check_positive_int

DENSE_INITS = ("glorot", "he")
"""How the hidden dense layers start: Keras' default (Glorot uniform) or He normal (``std = sqrt(2 / fan_in)``)."""

_DATA: dict[str, tuple[np.ndarray, np.ndarray]] = {}
_KERAS: dict[str, Any] = {}


def _load(path: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of an ``.npz`` file, read once per process."""
    if path not in _DATA:
        with np.load(path) as f:
            _DATA[path] = (f["x"], f["y"])
    return _DATA[path]


def _keras_config() -> dict[str, Any]:
    """:func:`helpers.training_keras.configure_keras`, once per process (bf16 on a GPU, float32 on a CPU)."""
    if not _KERAS:
        from helpers.training_keras import configure_keras

        _KERAS.update(configure_keras())
    return _KERAS


def first_per_class(x: np.ndarray, y: np.ndarray, n: int, num_classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` images of each class, in their original order (smaller sets nest in larger ones).

    Example:
        >>> x = np.arange(6).reshape(6, 1, 1); y = np.array([0, 1, 2, 0, 1, 2])
        >>> first_per_class(x, y, 1)[1].tolist()
        [0, 1, 2]
    """
    n = check_positive_int(n, "n")
    idx = np.sort(np.concatenate([np.flatnonzero(y == c)[:n] for c in range(num_classes)]))
    return x[idx], y[idx]


def he_dense_init(model: Any, seed: int = 0) -> int:
    """Redraw the kernels of ``model``'s hidden dense layers (named ``fc*``) from He normal.

    Keras' default Glorot uniform keeps ``Var(w) = 2 / (fan_in + fan_out)``: behind a ReLU each layer
    then passes on about half the variance it receives, so after many layers the softmax sees an
    almost constant input. He normal (``Var(w) = 2 / fan_in``) keeps the scale. Returns the number of
    layers redrawn.

    Example:
        >>> import keras
        >>> from helpers.models.filler_cnn import filler_cnn
        >>> he_dense_init(filler_cnn((16, 16, 1), fc_layers=4, filters=2, fc_scale=0.05))
        3
    """
    import keras

    rng = np.random.default_rng(seed)
    done = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense) and layer.name.startswith("fc"):
            kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.weights)
            kernel = rng.normal(0.0, np.sqrt(2.0 / kernel.shape[0]), kernel.shape).astype(kernel.dtype)
            layer.set_weights([kernel, np.zeros_like(bias)])
            done += 1
    return done


def dense_activation_scale(model: Any, x: Any) -> dict[str, float]:
    """Standard deviation of every hidden dense layer's output (``fc*``) and of the class
    probabilities across the images ``x`` (``(N, H, W, 1)``), in inference mode.

    A probability spread near zero means the network gives every slice the same answer before it
    has learnt anything, and the gradient reaching the convolutions is as small.
    """
    import keras

    names = [layer.name for layer in model.layers if layer.name.startswith("fc")]
    probe = keras.Model(model.inputs[0], [model.get_layer(n).output for n in names] + [model.outputs[0]])
    outs = [np.asarray(keras.ops.convert_to_numpy(o), np.float64) for o in probe(np.asarray(x, np.float32), training=False)]
    scale = {n: float(o.std()) for n, o in zip(names, outs[:-1])}
    scale["probabilities (spread across slices)"] = float(outs[-1].std(axis=0).mean())
    return scale


def run_problem(predictions: Any, num_classes: int = 3, losses: Any = None) -> str | None:
    """Why a run's final predictions cannot support a number, or None when they can.

    Example:
        >>> run_problem([0, 0, 0, 0])
        'prediction is constant (every value is 0); prediction never predicts classes 1, 2 of 0..2'
        >>> run_problem([0, 1, 2, 1]) is None
        True
    """
    from helpers.core.claims import constant_prediction, degenerate, missing_classes, nonfinite_values

    pred = np.asarray(predictions, np.int64)
    return degenerate(constant_prediction(pred), missing_classes(pred, num_classes),
                      nonfinite_values(losses, names=("training loss",)) if losses is not None else None)


@dataclass
class FillerRuns:
    """The slices and training settings of notebook 03; :meth:`run` trains and scores one C4Fk.

    Args:
        train_files, eval_files: ``{field in nm (as text): path of an .npz with x (N, H, W), y (N,)}``.
        epochs, batch_size: per training.
        fc_scale: multiplies the hidden widths (0.25 for a quick CPU run).
        learning_rate, dropout, filters: the paper's Fig. 1 values by default.
        num_classes: classes of the labels.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); rng = np.random.default_rng(0)
        >>> x = rng.random((12, 16, 16), dtype=np.float32); y = np.arange(12) % 3
        >>> np.savez(d / "a.npz", x=x, y=y)
        >>> runs = FillerRuns({"500": str(d / "a.npz")}, {"500": str(d / "a.npz")}, epochs=1, batch_size=4,
        ...                   fc_scale=0.01, filters=2)
        >>> sorted(runs.run(field=500, n_train=4, seed=0))[:4]
        ['accuracy', 'correct', 'final_loss', 'images_per_s']
    """

    train_files: dict[str, str]
    eval_files: dict[str, str]
    epochs: int
    batch_size: int
    fc_scale: float = 1.0
    learning_rate: float = 1e-3
    dropout: float = 0.5
    filters: int = 32
    num_classes: int = 3

    def __post_init__(self) -> None:
        self.epochs = check_positive_int(self.epochs, "epochs")
        self.batch_size = check_positive_int(self.batch_size, "batch_size")
        for name, files in (("train_files", self.train_files), ("eval_files", self.eval_files)):
            if not files:
                raise ValueError(f"{name} is empty")
            self.__dict__[name] = {f"{float(k):g}": os.fspath(v) for k, v in files.items()}

    def _files(self, field: float) -> tuple[str, str]:
        key = f"{float(field):g}"
        if key not in self.train_files or key not in self.eval_files:
            raise ValueError(f"no slices for a field of {key} nm; have {sorted(self.train_files)}")
        return self.train_files[key], self.eval_files[key]

    def run(self, field: float, n_train: int, seed: int, fc_layers: int = 3, dense_init: str = "glorot",
            learning_rate: float | None = None, dropout: float | None = None,
            curve: bool = False) -> dict[str, Any]:
        """Train C4F``fc_layers`` on the first ``n_train`` slices per class of ``field`` from ``seed``;
        score it on that field's evaluation slices.

        Args:
            dense_init: one of :data:`DENSE_INITS`.
            learning_rate, dropout: override the object's.
            curve: also score the evaluation slices after every epoch (``eval_accuracy_per_epoch``).

        Returns:
            ``accuracy``, ``correct`` (per class), ``predictions`` (one class per evaluation slice),
            ``loss`` (per epoch), ``final_loss``, ``problem`` (:func:`run_problem`, None when sound),
            ``seconds``, ``images_per_s``.
        """
        import keras

        from helpers.models.filler_cnn import filler_cnn
        from helpers.papers.filler_classification.study import correct_per_class

        check_choice(dense_init, "dense_init", DENSE_INITS)
        train_path, eval_path = self._files(field)
        x, y = first_per_class(*_load(train_path), n_train, self.num_classes)
        xe, ye = _load(eval_path)
        x, xe = np.asarray(x, np.float32)[..., None], np.asarray(xe, np.float32)[..., None]
        y, ye = np.asarray(y, np.int64), np.asarray(ye, np.int64)
        jit = _keras_config()["jit_compile"]
        keras.utils.set_random_seed(int(seed))
        model = filler_cnn(x.shape[1:], fc_layers=int(fc_layers), filters=self.filters,
                           dropout=self.dropout if dropout is None else float(dropout),
                           num_classes=self.num_classes, fc_scale=self.fc_scale,
                           input_mean=float(x.mean()), input_std=float(x.std()) or 1.0)
        if dense_init == "he":
            he_dense_init(model, seed=int(seed))
        lr = self.learning_rate if learning_rate is None else float(learning_rate)
        model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", jit_compile=jit)
        per_epoch: list[float] = []
        callbacks = []
        if curve:
            class _Score(keras.callbacks.Callback):
                def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                    p = np.asarray(self.model.predict(xe, batch_size=1024, verbose=0)).argmax(1)
                    per_epoch.append(float((p == ye).mean()))
            callbacks.append(_Score())
        t0 = time.perf_counter()
        hist = model.fit(x, y, epochs=self.epochs, batch_size=self.batch_size, shuffle=True, verbose=0,
                         callbacks=callbacks)
        seconds = time.perf_counter() - t0
        pred = np.asarray(model.predict(xe, batch_size=1024, verbose=0)).argmax(1).astype(np.int64)
        loss = [float(v) for v in hist.history["loss"]]
        out = {"accuracy": float((pred == ye).mean()), "correct": correct_per_class(ye, pred, self.num_classes),
               "predictions": pred.tolist(), "loss": loss, "final_loss": loss[-1],
               "problem": run_problem(pred, self.num_classes, loss), "seconds": seconds,
               "images_per_s": self.epochs * len(y) / seconds}
        if curve:
            out["eval_accuracy_per_epoch"] = per_epoch
        keras.backend.clear_session()
        return out


def by_seed(rows: list[dict[str, Any]], seeds: list[int], **setting: Any) -> list[dict[str, Any]]:
    """The rows of :func:`helpers.core.sweeps.cached_sweep` for one setting, one per seed, in ``seeds`` order.

    Example:
        >>> rows = [{"config": {"k": 2, "seed": s}, "accuracy": s} for s in (1, 0)]
        >>> [r["accuracy"] for r in by_seed(rows, [0, 1], k=2)]
        [0, 1]
    """
    found = {r["config"]["seed"]: r for r in rows
             if all(r["config"].get(k) == v for k, v in setting.items())}
    missing = [s for s in seeds if s not in found]
    if missing:
        raise ValueError(f"no run of {setting} with seeds {missing}")
    return [found[s] for s in seeds]


def problems(*groups: list[dict[str, Any]], label: str = "") -> str | None:
    """The problems (``row["problem"]``) of the runs in ``groups``, named by setting and seed; None if none.

    Example:
        >>> problems([{"config": {"k": 9, "seed": 0}, "problem": "prediction is constant"}])
        'k=9 seed=0: prediction is constant'
    """
    found = []
    for rows in groups:
        for r in rows:
            if r.get("problem"):
                name = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in r["config"].items())
                found.append(f"{label}{name}: {r['problem']}")
    return "; ".join(found) or None


def comparison(baseline: list[dict[str, Any]], variant: list[dict[str, Any]], y_eval: Any = None,
               *, min_seeds: int = 3) -> dict[str, Any]:
    """``kind``, ``baseline`` and ``variant`` for :meth:`helpers.core.results.Results.measured_claim`.

    ``baseline`` and ``variant`` are lists of runs (one per shared seed; or lists of such lists, pooled,
    e.g. one per field of view). With ``min_seeds`` seeds or more: per-seed accuracy (averaged over the
    pooled groups), kind ``"paired seeds"``. With fewer: per-slice correctness averaged over the seeds,
    kind ``"paired images"`` (the same evaluation slices; ``y_eval`` gives their labels, one array per group).

    Example:
        >>> a = [{"accuracy": 0.5, "predictions": [0, 1]}, {"accuracy": 0.6, "predictions": [0, 0]}]
        >>> b = [{"accuracy": 0.9, "predictions": [0, 1]}, {"accuracy": 0.8, "predictions": [1, 1]}]
        >>> comparison(a, b, [0, 1])["kind"], comparison(a, b, [0, 1])["variant"].tolist()
        ('paired images', [0.5, 1.0])
        >>> comparison([a], [b], [np.array([0, 1])])["variant"].tolist()  # one group, its labels in a list
        [0.5, 1.0]
    """
    groups_a = baseline if baseline and isinstance(baseline[0], list) else [baseline]
    groups_b = variant if variant and isinstance(variant[0], list) else [variant]
    if len(groups_a) != len(groups_b) or any(len(a) != len(b) for a, b in zip(groups_a, groups_b)):
        raise ValueError("baseline and variant need the same groups and the same seeds")
    n_seeds = len(groups_a[0])
    if n_seeds >= min_seeds:
        acc = lambda groups: np.mean([[r["accuracy"] for r in g] for g in groups], axis=0)  # noqa: E731
        return {"kind": "paired seeds", "baseline": acc(groups_a), "variant": acc(groups_b)}
    if y_eval is None:
        raise ValueError(f"fewer than {min_seeds} seeds: give y_eval to compare per evaluation slice")
    # one label array per group: a list of arrays (also a list of one, for one group), else one group's labels
    per_group = isinstance(y_eval, (list, tuple)) and len(y_eval) > 0 and np.ndim(y_eval[0]) >= 1
    ys = list(y_eval) if per_group else [y_eval]
    if len(ys) != len(groups_a):
        raise ValueError("y_eval needs one label array per group")

    def correct(groups: list[list[dict[str, Any]]]) -> np.ndarray:
        return np.concatenate([slice_correctness(g, y) for g, y in zip(groups, ys)])

    return {"kind": "paired images", "baseline": correct(groups_a), "variant": correct(groups_b)}


def slice_correctness(runs: list[dict[str, Any]], y_eval: Any) -> np.ndarray:
    """Per evaluation slice, the fraction of ``runs`` (one per seed) that classify it correctly.

    The unit of a bootstrap over slices when there are too few seeds for an interval over seeds.

    Example:
        >>> runs = [{"predictions": [0, 1, 2]}, {"predictions": [0, 2, 2]}]
        >>> slice_correctness(runs, [0, 1, 1]).tolist()
        [1.0, 0.5, 0.0]
    """
    y = np.asarray(y_eval)
    for r in runs:
        if np.shape(r["predictions"]) != y.shape:
            raise ValueError(f"a run has {np.size(r['predictions'])} predictions for {y.size} evaluation slices")
    return np.mean([np.asarray(r["predictions"]) == y for r in runs], axis=0)


def claim_sentence(claim: dict[str, Any]) -> str:
    """One sentence stating a measured claim's result, built from its record (no number typed by hand).

    Example:
        >>> c = {"id": "x", "paper": "more images, more correct", "ours": 0.1, "unit": "accuracy",
        ...      "uncertainty": {"kind": "paired seeds", "n": 3, "low": 0.05, "high": 0.15},
        ...      "verdict": "reproduced", "paper_value": "+"}
        >>> claim_sentence(c)
        'x (more images, more correct; paper: +): ours +0.100 accuracy, 95 % interval +0.050 to +0.150 (paired seeds, n = 3): reproduced.'
    """
    u = claim["uncertainty"]
    ours = "no value" if claim.get("ours") is None else f"{claim['ours']:+.3f} {claim['unit']}"
    if u.get("low") is None:
        interval = f"no interval ({u['kind']}, n = {u['n']})"
    else:
        interval = f"95 % interval {u['low']:+.3f} to {u['high']:+.3f} ({u['kind']}, n = {u['n']})"
    text = f"{claim['id']} ({claim['paper']}; paper: {claim['paper_value']}): ours {ours}, {interval}: {claim['verdict']}"
    if claim["verdict"] == "not tested" and claim.get("reason"):
        text += f", because {claim['reason']}"
    return text + "."
