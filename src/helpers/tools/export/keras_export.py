"""Exporting a Keras model: :func:`export_keras` writes a ``.keras`` file (normalisation and activation
inside, mixed-precision models saved as their float32 twin) with its ``.keras.json`` metadata.

Keras is imported only when :func:`export_keras` runs, so importing this module (as
:mod:`helpers.tools.export` does) costs a PyTorch-only reader nothing.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from helpers.tools.export.arguments import (_check_activation, _check_extra, _check_measurement,
                                            _check_normalisation, _check_task, _foreground, _model_path,
                                            _output_classes)
from helpers.tools.export.loader import load_exported
from helpers.tools.export.metadata import _base_metadata, _write_sidecar


def export_keras(model: Any, path: str | os.PathLike, *, normalisation: Mapping[str, Any] | None = None,
                 task: str = "segmentation", class_names: Sequence[str] | None = None,
                 measurement: str | None = None, activation: str = "auto",
                 foreground_class: int | str | None = None, extra: Mapping[str, Any] | None = None) -> Path:
    """Save a Keras model for readers as ``.keras`` plus ``<path>.json``; arguments as :func:`export_torch`.

    The model must take one input ``(N, H, W, C)`` and return ``(N, H, W, K)`` (segmentation) or
    ``(N, K)`` (classification). ``activation="auto"`` assumes it already returns probabilities (the
    course's Keras models end with sigmoid/softmax); ``"sigmoid"``/``"softmax"`` add one. With a
    ``normalisation`` (or an added activation) the saved model is the model inside a small one that
    normalises first, so it still takes raw [0, 1] images. A model trained under a mixed-precision
    policy (``mixed_bfloat16`` on a GPU) is saved as its float32 twin (same weights), so it runs in
    float32 on any reader's CPU. The file is loaded back at once (without custom objects, as a reader
    would) and must reproduce the model's output.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    task = _check_task(task)
    measurement = _check_measurement(measurement, task)
    activation = _check_activation(activation)
    extra = _check_extra(extra)
    path = _model_path(path, ".keras", "a Keras model")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"model must have one input and one output, got {len(model.inputs)} and {len(model.outputs)}")
    in_shape, out_shape = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
    if len(in_shape) != 4 or in_shape[-1] is None:
        raise ValueError(f"model must take images (N, H, W, C), got input shape {in_shape}")
    _, h, w, channels = in_shape
    if task == "segmentation" and (len(out_shape) != 4 or tuple(out_shape[1:3]) != (h, w)):
        raise ValueError(f"a segmentation model must return (N, H, W, K) at the input size; got {out_shape} "
                         f"for input {in_shape}")
    if task == "classification" and len(out_shape) != 2:
        raise ValueError(f"a classification model must return (N, K); got {out_shape}")
    k = int(out_shape[-1])
    norm = _check_normalisation(normalisation, int(channels))
    applied = "none" if activation == "auto" else activation
    names = _output_classes(k, class_names, task)
    if task == "segmentation" and len(names) > 255:
        raise ValueError(f"{len(names)} classes do not fit an 8-bit mask (at most 255)")
    foreground = _foreground(foreground_class, names, measurement)

    probe_shape = (2, h or 32, w or 32, int(channels))
    probe = np.random.default_rng(0).random(probe_shape, dtype=np.float32)
    saved = _float32_twin(model)
    if saved is not model:  # bf16 against float32: close, not equal
        original = keras.ops.convert_to_numpy(model(probe, training=False)).astype(np.float32)
        twin = keras.ops.convert_to_numpy(saved(probe, training=False)).astype(np.float32)
        if not np.allclose(original, twin, atol=0.05):
            raise ValueError(f"the float32 copy of the mixed-precision {model.name} does not reproduce its output "
                             f"(largest difference {float(np.abs(original - twin).max()):.3g})")
    if norm is not None or applied != "none":
        inputs = keras.Input(in_shape[1:], name="image_0_1")
        y = inputs
        if norm is not None:
            y = keras.layers.Normalization(axis=-1, mean=norm["mean"], variance=[s * s for s in norm["std"]],
                                           dtype="float32", name="normalise")(y)
        y = saved(y)
        if applied != "none":
            y = keras.layers.Activation(applied, dtype="float32", name="probabilities_out")(y) if applied == "sigmoid" \
                else keras.layers.Softmax(axis=-1, dtype="float32", name="probabilities_out")(y)
        saved = keras.Model(inputs, y, name=f"{model.name}_export")
    how = (f"keras.saving.load_model({path.name!r}, compile=False)(x)  "
           f"# x: float32 (N, {h}, {w}, {channels}) in [0, 1]")
    meta = _base_metadata(framework="keras", path=path, task=task, names=names, num_outputs=k,
                          activation="the model's own (it returns probabilities)" if applied == "none" else applied,
                          measurement=measurement, foreground=foreground, layout="NHWC", channels=int(channels),
                          size=(h, w), normalisation=norm, applied="inside the saved model",
                          how_to_load=how, versions={"keras_version": keras.__version__,
                                                     "keras_backend": keras.backend.backend()},
                          model_name=model.name, extra=extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    saved.save(path)
    _write_sidecar(path, meta)
    want = keras.ops.convert_to_numpy(saved(probe, training=False)).astype(np.float32)
    try:
        got = load_exported(path)._run(probe)
    except Exception as exc:  # noqa: BLE001 - e.g. a custom layer that only loads with the course's code
        raise ValueError(f"the saved model {path} cannot be loaded without the code that built it "
                         f"({type(exc).__name__}: {str(exc)[:400]}); use built-in Keras layers") from exc
    if not np.allclose(got, want, rtol=1e-3, atol=1e-4):
        raise ValueError(f"the saved model {path} does not reproduce the model's output "
                         f"(largest difference {float(np.abs(got - want).max()):.3g})")
    return path


_MIXED = ("mixed_bfloat16", "mixed_float16")


def _float32_policies(node: Any) -> Any:
    """A Keras config with every mixed-precision dtype policy replaced by float32."""
    if isinstance(node, dict):
        out = {k: _float32_policies(v) for k, v in node.items()}
        if str(out.get("class_name", "")).endswith("DTypePolicy") and isinstance(out.get("config"), dict) \
                and out["config"].get("name") in _MIXED:
            out["config"] = {**out["config"], "name": "float32"}
        if out.get("dtype") in _MIXED:
            out["dtype"] = "float32"
        return out
    if isinstance(node, (list, tuple)):
        return type(node)(_float32_policies(v) for v in node)
    return node


def _float32_twin(model: Any) -> Any:
    """The model in float32 when it was built under a mixed-precision policy (weights are float32
    already), so a reader's CPU runs it in float32; the model itself when it has no mixed layers or
    cannot be rebuilt from its config (a subclassed model; then a warning)."""
    try:
        config = model.get_config()
    except NotImplementedError:
        config = None
    if config is None or not any(m in json.dumps(config, default=str) for m in _MIXED):
        if config is None and any(getattr(getattr(l, "dtype_policy", None), "name", "") in _MIXED
                                  for l in model.layers):
            warnings.warn(f"{model.name} runs in mixed precision and cannot be rebuilt from its config; it is "
                          "saved as it is (bf16/fp16 compute on the reader's machine too)", stacklevel=3)
        return model
    twin = model.__class__.from_config(_float32_policies(config))
    twin.set_weights(model.get_weights())
    return twin
