"""Keras 3 set-up shared by the Keras notebooks (01 and 03), against ``keras`` only.

* :func:`configure_keras`: bf16 mixed precision and XLA where they help.
* Metrics: use Keras' own. :func:`foreground_iou` is just
  ``keras.metrics.BinaryIoU(target_class_ids=[1])`` (foreground IoU, threshold ``>=``),
  the number the grain-boundary paper reports; ``keras.metrics.MeanIoU`` covers integer label maps.
* :func:`history_to_dict`: a ``History`` as plain lists, ready for ``results.json``.

Losses for Keras models: :mod:`helpers.losses.keras_losses`.
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["configure_keras", "foreground_iou", "history_to_dict"]


def foreground_iou(threshold: float = 0.5, name: str = "iou") -> keras.metrics.BinaryIoU:
    """IoU of the foreground class of a sigmoid output: ``BinaryIoU(target_class_ids=[1])``.

    Keras' default ``BinaryIoU`` averages the background and foreground IoU, which flatters
    thin structures such as grain boundaries; the paper scores the foreground alone.
    Pixels count as foreground where ``y_pred >= threshold``, as in
    :func:`helpers.metrics.binary_iou`.

    Example:
        >>> m = foreground_iou()
        >>> _ = m.update_state([[1, 1, 0, 0]], [[0.9, 0.2, 0.7, 0.1]])
        >>> round(float(m.result()), 4)  # 1 shared pixel / 3 in the union
        0.3333
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    return keras.metrics.BinaryIoU(target_class_ids=[1], threshold=float(threshold), name=name)


def _gpu_visible(backend: str) -> bool:
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    return False


def configure_keras(mixed_precision: bool | None = None) -> dict[str, Any]:
    """Set Keras' global dtype policy for this machine and say whether to use XLA.

    Args:
        mixed_precision: ``True`` sets ``mixed_bfloat16`` (bf16 compute, float32 weights),
            ``False`` sets ``float32``, ``None`` (auto) picks bf16 when the backend sees a GPU.
            On a CPU bf16 is usually slower, hence float32 there.

    Returns:
        ``{"backend": "tensorflow" | "torch" | "jax", "policy": "mixed_bfloat16" | "float32",
        "jit_compile": bool}``; pass ``jit_compile`` to ``model.compile``. It is True only
        for TensorFlow/JAX on a GPU (XLA pays off there; on CPU compilation time dominates a
        smoke run, and the torch backend's ``torch.compile`` path is not worth it here).

    Raises:
        ValueError: ``mixed_precision`` is not a bool or None.

    Example:
        >>> cfg = configure_keras(mixed_precision=False)
        >>> cfg["policy"], cfg["jit_compile"]
        ('float32', False)
    """
    if mixed_precision is not None and not isinstance(mixed_precision, bool):
        raise ValueError(f"mixed_precision must be True, False or None (auto), got {mixed_precision!r}")
    backend = keras.config.backend()
    gpu = _gpu_visible(backend)
    use_bf16 = gpu if mixed_precision is None else mixed_precision
    policy = "mixed_bfloat16" if use_bf16 else "float32"
    keras.mixed_precision.set_global_policy(policy)
    if backend == "tensorflow":
        # A sweep builds many models; TensorFlow warns about re-tracing each one. It is expected here.
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
    return {"backend": backend, "policy": policy, "jit_compile": bool(gpu and backend in ("tensorflow", "jax"))}


def history_to_dict(history: Any) -> dict[str, list[float]]:
    """Turn a ``keras.callbacks.History`` (what ``fit`` returns) into plain float lists.

    Args:
        history: the ``History`` object, or its ``.history`` dict.

    Returns:
        ``{"loss": [...], "val_loss": [...], ...}`` with one Python float per epoch
        (JSON-ready; NaN stays NaN).

    Raises:
        TypeError: ``history`` is neither a History nor a dict.
        ValueError: a metric's values are not a sequence of numbers.

    Example:
        >>> import numpy as np
        >>> history_to_dict({"loss": [np.float32(0.5), 0.25]})
        {'loss': [0.5, 0.25]}
    """
    logs = history.history if isinstance(history, keras.callbacks.History) else history
    if not isinstance(logs, dict):
        raise TypeError(f"history must be a keras History or a dict of lists, got {type(history).__name__}")
    out: dict[str, list[float]] = {}
    for key, values in logs.items():
        try:
            out[str(key)] = [float(v) for v in values]
        except (TypeError, ValueError) as err:
            raise ValueError(f"history[{key!r}] must be a sequence of numbers, got {values!r}") from err
    return out
