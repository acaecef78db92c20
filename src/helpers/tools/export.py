"""Trained models saved so a reader can use them without the course, and loaded back.

A PyTorch model is saved with :func:`torch.export` (a ``.pt2`` file; TorchScript ``.pt`` on request),
a Keras model as a ``.keras`` file. Either way the saved model takes **raw images scaled to [0, 1]**
(8-bit pixels / 255, 16-bit / 65535) and returns **probabilities**: the input normalisation
(e.g. ImageNet's mean and std) and the output activation (sigmoid or softmax) are part of the saved
model, so a reader needs neither the course nor the training code's preprocessing:

.. code-block:: python

    import torch                                   # a PyTorch model (.pt2)
    model = torch.export.load("model.pt2").module()
    probabilities = model(x)                       # x: float32 (N, C, H, W) in [0, 1]

    import keras                                   # a Keras model (.keras)
    model = keras.saving.load_model("model.keras", compile=False)
    probabilities = model(x)                       # x: float32 (N, H, W, C) in [0, 1]

Next to the model, ``<model file>.json`` records what a reader needs to know: the input size and
channels, the normalisation (already applied inside), the task, the class names, which measurement
the paper cares about, and the course version. A ``.pt2``/``.pt`` file also carries the same JSON
inside (``helpers_export.json``), so it still works when the side file is lost.

:func:`load_exported` gives a small predictor over any of these files. Its code path imports only
NumPy and torch or Keras, never the course's models or training code, which is what
``tests/test_export_predict.py`` checks in a fresh process. :mod:`helpers.tools.predict` runs it
over a folder of images.

Example:
    >>> import tempfile, torch
    >>> net = torch.nn.Conv2d(1, 1, 3, padding=1)
    >>> path = export_torch(net, tempfile.mkdtemp() + "/tiny", example_input=torch.rand(2, 1, 16, 16),
    ...                     class_names=["background", "boundary"], measurement="boundary")
    >>> path.name, sidecar_path(path).name
    ('tiny.pt2', 'tiny.pt2.json')
    >>> model = load_exported(path)
    >>> model.predict(np.zeros((3, 16, 16, 1), np.float32)).shape   # probabilities, channels last
    (3, 16, 16, 1)
"""

from __future__ import annotations

import copy
import functools
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "helpers-export"
FORMAT_VERSION = 1
EMBEDDED_NAME = "helpers_export.json"
TASKS = ("segmentation", "classification")
MEASUREMENTS = ("boundary", "lesion_fraction", "class_areas")
ACTIVATIONS = ("auto", "sigmoid", "softmax", "none")
TORCH_FORMATS = {"export": ".pt2", "torchscript": ".pt"}
_FRAMEWORKS = {"export": "torch.export", "torchscript": "torchscript", "keras": "keras"}
_SUFFIX_FRAMEWORK = {".pt2": "torch.export", ".pt": "torchscript", ".keras": "keras"}
_RANGE_SLACK = 1e-5  # resampled [0, 1] images may leave the range by a rounding error

__all__ = ["ExportedModel", "export_keras", "export_torch", "load_exported", "read_metadata", "sidecar_path"]


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """The JSON file next to an exported model: ``model.pt2`` -> ``model.pt2.json``."""
    p = Path(model_path)
    return p.with_name(p.name + ".json")


# --------------------------------------------------------------------------------------------- export


def _course_version() -> str:
    try:
        from helpers import __version__
    except ImportError:  # the module copied out of the course
        return "unknown"
    return __version__


def _check_task(task: Any) -> str:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return task


def _check_measurement(measurement: Any, task: str) -> str | None:
    if measurement is None:
        return None
    if measurement not in MEASUREMENTS:
        raise ValueError(f"measurement must be one of {MEASUREMENTS} or None, got {measurement!r}")
    if task != "segmentation":
        raise ValueError(f"measurement {measurement!r} measures masks; a {task} model takes measurement=None")
    return measurement


def _output_classes(num_outputs: int, class_names: Any, task: str) -> list[str]:
    """Class names: one per output channel, two for a single-output (sigmoid) model."""
    n = 2 if num_outputs == 1 else num_outputs
    if class_names is None:
        if num_outputs == 1:
            return ["background", "foreground"] if task == "segmentation" else ["negative", "positive"]
        return [f"class {i}" for i in range(n)]
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise ValueError(f"class_names must be a list of strings, got {class_names!r}")
    names = list(class_names)
    if not all(isinstance(c, str) and c.strip() for c in names) or len(set(names)) != len(names):
        raise ValueError(f"class_names must be distinct non-empty strings, got {names!r}")
    if len(names) != n:
        why = " (a one-output model separates two classes: name the background too)" if num_outputs == 1 else ""
        raise ValueError(f"the model has {num_outputs} output channel(s), so class_names needs {n} names{why}; "
                         f"got {len(names)}: {names}")
    return names


def _foreground(foreground_class: Any, names: list[str], measurement: str | None) -> int | None:
    if foreground_class is None:
        if measurement in ("boundary", "lesion_fraction"):
            if len(names) != 2:
                raise ValueError(f"measurement {measurement!r} on a {len(names)}-class model: say which class "
                                 f"it measures with foreground_class= (an index into {names})")
            return 1
        return 1 if len(names) == 2 else None
    if isinstance(foreground_class, str):
        if foreground_class not in names:
            raise ValueError(f"foreground_class {foreground_class!r} is not among the class names {names}")
        return names.index(foreground_class)
    if isinstance(foreground_class, bool) or not isinstance(foreground_class, (int, np.integer)) \
            or not 0 <= int(foreground_class) < len(names):
        raise ValueError(f"foreground_class must be a class index in [0, {len(names) - 1}] or a name, "
                         f"got {foreground_class!r}")
    return int(foreground_class)


def _check_normalisation(normalisation: Any, channels: int) -> dict[str, list[float]] | None:
    if normalisation is None:
        return None
    if not isinstance(normalisation, Mapping) or set(normalisation) != {"mean", "std"}:
        raise ValueError(f"normalisation must be None or a dict with keys 'mean' and 'std', got {normalisation!r}")
    out = {}
    for key in ("mean", "std"):
        try:
            v = np.asarray(normalisation[key], np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"normalisation[{key!r}] must be a number or one number per channel, "
                             f"got {normalisation[key]!r}") from None
        if v.size == 1:
            v = np.repeat(v, channels)
        if v.size != channels:
            raise ValueError(f"normalisation[{key!r}] has {v.size} values for a {channels}-channel input; "
                             "give one value, or one per channel")
        if not np.isfinite(v).all() or (key == "std" and not (v > 0).all()):
            raise ValueError(f"normalisation[{key!r}] must be finite{' and > 0' if key == 'std' else ''}, "
                             f"got {v.tolist()}")
        out[key] = [float(a) for a in v]
    return out


def _check_activation(activation: Any) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return activation


def _check_extra(extra: Any) -> dict[str, Any]:
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise ValueError(f"extra must be a dict of JSON values, got {type(extra).__name__}")
    try:
        return json.loads(json.dumps(dict(extra)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"extra must hold JSON values only (numbers, strings, lists, dicts): {exc}") from None


def _model_path(path: Any, suffix: str, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValueError(f"path must be a file path, got {path!r}")
    p = Path(path)
    if p.suffix == "":
        p = p.with_name(p.name + suffix)
    elif p.suffix != suffix:
        raise ValueError(f"{what} is saved as a {suffix} file; got a path ending in {p.suffix!r} ({p})")
    if p.is_dir():
        raise ValueError(f"{p} is a folder; give a file name")
    return p


def _base_metadata(*, framework: str, path: Path, task: str, names: list[str], num_outputs: int, activation: str,
                   measurement: str | None, foreground: int | None, layout: str, channels: int,
                   size: tuple[int | None, int | None], normalisation: dict | None, applied: str,
                   how_to_load: str, versions: dict[str, str], model_name: str, extra: dict) -> dict[str, Any]:
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "framework": framework, "file": path.name,
        "task": task, "class_names": names, "num_outputs": num_outputs,
        "output": ("probabilities (N, K, H, W)" if layout == "NCHW" else "probabilities (N, H, W, K)")
        if task == "segmentation" else "probabilities (N, K)",
        "activation": activation, "threshold": 0.5 if num_outputs == 1 else None,
        "foreground_class": foreground, "measurement": measurement,
        "input": {"layout": layout, "channels": channels, "height": size[0], "width": size[1], "dtype": "float32",
                  "range": [0.0, 1.0], "colour": "grey" if channels == 1 else "rgb" if channels == 3 else "other",
                  "scaling": "pixel values / their dtype's range (8-bit / 255, 16-bit / 65535), never by the "
                             "image's own maximum"},
        "normalisation": None if normalisation is None else {**normalisation, "applied": applied},
        "how_to_load": how_to_load, "model": model_name, "course_version": _course_version(), **versions,
        "extra": extra,
    }


def _write_sidecar(path: Path, meta: Mapping[str, Any]) -> None:
    sidecar_path(path).write_text(json.dumps(meta, indent=2) + "\n")


def _example_tensor(example_input: Any):
    import torch

    if isinstance(example_input, (tuple, list)) and all(isinstance(d, (int, np.integer)) for d in example_input):
        shape = tuple(int(d) for d in example_input)
        if len(shape) == 3:
            shape = (2, *shape)
        if len(shape) != 4 or min(shape) < 1:
            raise ValueError(f"example_input as a shape must be (C, H, W) or (N, C, H, W), got {example_input!r}")
        x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    else:
        x = torch.as_tensor(np.asarray(example_input) if isinstance(example_input, np.ndarray) else example_input)
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or min(x.shape) < 1:
            raise ValueError("example_input must be images (N, C, H, W) in [0, 1] (a tensor or array) or a shape "
                             f"(C, H, W); got {getattr(x, 'shape', example_input)!r}")
        if not x.is_floating_point():
            raise ValueError(f"example_input must hold float images in [0, 1], got dtype {x.dtype}")
        x = x.detach().to("cpu", torch.float32)
    # Two images: a batch of one would let torch.export fix the batch size at 1.
    x = x[:2] if x.shape[0] >= 2 else x.repeat(2, 1, 1, 1)
    return x.contiguous()


def export_torch(model: Any, path: str | os.PathLike, *, example_input: Any,
                 normalisation: Mapping[str, Any] | None = None, task: str = "segmentation",
                 class_names: Sequence[str] | None = None, measurement: str | None = None,
                 activation: str = "auto", foreground_class: int | str | None = None, fmt: str = "export",
                 extra: Mapping[str, Any] | None = None) -> Path:
    """Save a PyTorch model for readers: raw [0, 1] images in, probabilities out, metadata beside it.

    The model is copied to the CPU in float32 and eval mode (the caller's model is left as it was) and
    wrapped so it normalises its input, keeps only the first output of a model that returns a tuple
    (the logits of PSPNet's training mode or of a grouped U-Net with features) and ends with the
    activation. The wrapper is saved with :func:`torch.export.export` (batch size free, image size
    that of ``example_input``), or traced to TorchScript with ``fmt="torchscript"``; the saved file is
    loaded back at once and must reproduce the wrapper's output.

    Args:
        model: a ``torch.nn.Module`` (a ``torch.compile`` wrapper is unwrapped) returning logits
            ``(N, K, H, W)`` at the input size (segmentation) or ``(N, K)`` (classification).
        path: the file; ``.pt2`` (``fmt="export"``) or ``.pt`` (TorchScript) is added when it has no suffix.
        example_input: images ``(N, C, H, W)`` in [0, 1] of the size the model will see (a tensor or
            array, before normalisation), or their shape ``(C, H, W)``. Fixes channels and image size.
        normalisation: ``{"mean": ..., "std": ...}`` (one value, or one per channel) the model was
            trained with, applied inside the saved model as ``(x - mean) / std``; None when it takes
            [0, 1] images.
        task: ``"segmentation"`` or ``"classification"``.
        class_names: one name per output channel; two (background first) for a one-output model.
        measurement: what :mod:`helpers.tools.predict` measures on the masks: ``"boundary"``
            (skeleton length), ``"lesion_fraction"``, ``"class_areas"``, or None (class fractions only).
        activation: ``"auto"`` (sigmoid for one output, softmax otherwise), ``"sigmoid"``,
            ``"softmax"``, or ``"none"`` when the model already returns probabilities.
        foreground_class: the class ``boundary`` / ``lesion_fraction`` measure (index or name);
            defaults to 1 for a two-class model.
        fmt: ``"export"`` (``torch.export``, ``.pt2``) or ``"torchscript"`` (``.pt``, for older PyTorch).
        extra: more JSON values to record (e.g. the training data and scores).

    Returns:
        The path of the saved model; its metadata is ``sidecar_path(path)`` and also inside the file.

    Raises:
        ValueError: a wrong argument, or a model whose output does not fit ``task``.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if fmt not in TORCH_FORMATS:
        raise ValueError(f"fmt must be one of {tuple(TORCH_FORMATS)}, got {fmt!r}")
    task = _check_task(task)
    measurement = _check_measurement(measurement, task)
    activation = _check_activation(activation)
    extra = _check_extra(extra)
    path = _model_path(path, TORCH_FORMATS[fmt], "a PyTorch model with fmt=" + repr(fmt))
    x = _example_tensor(example_input)
    channels, h, w = (int(d) for d in x.shape[1:])
    norm = _check_normalisation(normalisation, channels)

    inner = getattr(model, "_orig_mod", model)  # torch.compile's wrapper
    inner = copy.deepcopy(inner).to("cpu", torch.float32).to(memory_format=torch.contiguous_format).eval()
    with torch.no_grad():
        raw = _first(inner(_normalise(x, norm)))
    if not isinstance(raw, torch.Tensor):
        raise ValueError(f"the model returned {type(raw).__name__}; expected a tensor of logits")
    if task == "segmentation" and (raw.ndim != 4 or tuple(raw.shape[2:]) != (h, w)):
        raise ValueError(f"a segmentation model must return (N, K, H, W) at the input size {h}x{w}; "
                         f"got {tuple(raw.shape)} for input {tuple(x.shape)}")
    if task == "classification" and raw.ndim != 2:
        raise ValueError(f"a classification model must return (N, K); got {tuple(raw.shape)}")
    k = int(raw.shape[1])
    if activation == "auto":
        activation = "sigmoid" if k == 1 else "softmax"
    names = _output_classes(k, class_names, task)
    if task == "segmentation" and len(names) > 255:
        raise ValueError(f"{len(names)} classes do not fit an 8-bit mask (at most 255)")
    foreground = _foreground(foreground_class, names, measurement)

    wrapper = _TorchWrapper(inner, norm, activation)
    framework = _FRAMEWORKS[fmt]
    how = (f"torch.export.load({path.name!r}).module()(x)" if fmt == "export"
           else f"torch.jit.load({path.name!r})(x)") + f"  # x: float32 (N, {channels}, {h}, {w}) in [0, 1]"
    meta = _base_metadata(framework=framework, path=path, task=task, names=names, num_outputs=k,
                          activation=activation, measurement=measurement, foreground=foreground, layout="NCHW",
                          channels=channels, size=(h, w), normalisation=norm, applied="inside the saved model",
                          how_to_load=how, versions={"torch_version": torch.__version__},
                          model_name=type(inner).__name__, extra=extra)
    blob = json.dumps(meta, indent=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        expected = wrapper(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings of shape checks; TorchScript's deprecation notice
        if fmt == "export":
            batch = torch.export.Dim("batch", min=1, max=65536)
            try:
                program = torch.export.export(wrapper, (x,), dynamic_shapes=({0: batch},))
            except Exception as exc:  # noqa: BLE001 - many kinds; the message says what to try
                raise ValueError(f"torch.export could not capture {type(inner).__name__} ({type(exc).__name__}: "
                                 f"{str(exc)[:500]}); try fmt='torchscript'") from exc
            torch.export.save(program, path, extra_files={EMBEDDED_NAME: blob})
        else:
            traced = torch.jit.trace(wrapper, x, check_trace=False)
            torch.jit.save(traced, str(path), _extra_files={EMBEDDED_NAME: blob})
    _write_sidecar(path, meta)
    got = load_exported(path)._run(x.numpy(), layout_given="NCHW")
    want = expected.numpy()
    if task == "segmentation":
        want = want.transpose(0, 2, 3, 1)
    if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
        raise ValueError(f"the saved model {path} does not reproduce the model's output "
                         f"(largest difference {float(np.abs(got - want).max()):.3g}); try fmt='torchscript'")
    return path


def _first(y: Any) -> Any:
    if isinstance(y, (tuple, list)):
        return y[0]
    if isinstance(y, Mapping):  # torchvision's segmentation models: {"out": ..., "aux": ...}
        return y["out"]
    return y


def _normalise(x, norm: dict | None):
    if norm is None:
        return x
    import torch

    mean = torch.tensor(norm["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(norm["std"], dtype=torch.float32).view(1, -1, 1, 1)
    return (x - mean) / std


@functools.lru_cache(maxsize=None)
def _torch_wrapper_class():
    import torch

    class ExportWrapper(torch.nn.Module):
        """``(x - mean) / std`` -> model -> first output -> activation."""

        def __init__(self, model: torch.nn.Module, norm: dict | None, activation: str):
            super().__init__()
            self.model = model
            self.normalise = norm is not None
            if norm is not None:
                self.register_buffer("mean", torch.tensor(norm["mean"], dtype=torch.float32).view(1, -1, 1, 1))
                self.register_buffer("std", torch.tensor(norm["std"], dtype=torch.float32).view(1, -1, 1, 1))
            self.activation = activation

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.normalise:
                x = (x - self.mean) / self.std
            y = _first(self.model(x))
            if self.activation == "sigmoid":
                y = torch.sigmoid(y)
            elif self.activation == "softmax":
                y = torch.softmax(y, 1)
            return y

    return ExportWrapper


def _TorchWrapper(model, norm, activation):  # noqa: N802 - builds the class lazily (torch imported on use)
    return _torch_wrapper_class()(model, norm, activation)


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


# ----------------------------------------------------------------------------------------------- load
# Everything below imports NumPy and torch or Keras only: a reader's process never loads the course's
# models or training code (tests/test_export_predict.py checks it in a fresh interpreter).


def read_metadata(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """The model file and its metadata, from the model file or from its ``.json`` side file.

    The side file wins over the copy inside a ``.pt2``/``.pt`` file (so class names can be edited).

    Raises:
        FileNotFoundError: the model file (or the side file given) does not exist.
        ValueError: no metadata (a ``.keras`` file without its side file, or a file not written by
            :func:`export_torch` / :func:`export_keras`), or metadata that does not fit the file.
    """
    p = Path(path)
    if p.suffix == ".json":
        if not p.is_file():
            raise FileNotFoundError(f"metadata file {p} does not exist")
        meta = _parse_metadata(p.read_text(), p)
        model_path = p.with_name(str(meta.get("file") or p.name[:-len(".json")]))
    else:
        model_path, meta = p, None
    if not model_path.is_file():
        hint = "" if model_path.suffix in _SUFFIX_FRAMEWORK else \
            f" (exported models end in {', '.join(_SUFFIX_FRAMEWORK)})"
        raise FileNotFoundError(f"model file {model_path} does not exist{hint}")
    framework = _SUFFIX_FRAMEWORK.get(model_path.suffix)
    if framework is None:
        raise ValueError(f"{model_path} is not an exported model: expected a file ending in "
                         f"{', '.join(_SUFFIX_FRAMEWORK)} written by helpers.tools.export")
    if meta is None:
        side = sidecar_path(model_path)
        if side.is_file():
            meta = _parse_metadata(side.read_text(), side)
        elif framework != "keras":
            meta = _embedded_metadata(model_path, framework)
        if meta is None:
            raise ValueError(f"{model_path} has no metadata: expected {side.name} next to it (written with the "
                             "model by helpers.tools.export's export_keras / export_torch)")
    if meta.get("framework") != framework:
        raise ValueError(f"{model_path}: the metadata describes a {meta.get('framework')!r} model, "
                         f"but the file is a {framework!r} one")
    return model_path, meta


def _parse_metadata(text: str, where: Path) -> dict[str, Any]:
    try:
        meta = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{where} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{where} is not the metadata of an exported model (no \"format\": \"{FORMAT}\")")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{where} has format_version {meta.get('format_version')}; this code reads up to "
                         f"{FORMAT_VERSION} (update the course package)")
    for key in ("task", "class_names", "num_outputs", "input"):
        if key not in meta:
            raise ValueError(f"{where} lacks the metadata entry {key!r}")
    if meta["task"] not in TASKS:
        raise ValueError(f"{where}: task must be one of {TASKS}, got {meta['task']!r}")
    return meta


def _embedded_metadata(model_path: Path, framework: str) -> dict[str, Any] | None:
    import torch

    files = {EMBEDDED_NAME: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            if framework == "torch.export":
                torch.export.load(str(model_path), extra_files=files)
            else:
                torch.jit.load(str(model_path), map_location="cpu", _extra_files=files)
        except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file
            raise ValueError(f"cannot load {model_path} as a {framework} model ({type(exc).__name__}: "
                             f"{str(exc)[:300]})") from None
    blob = files.get(EMBEDDED_NAME)
    if isinstance(blob, bytes):
        blob = blob.decode()
    return _parse_metadata(blob, model_path) if blob else None


class ExportedModel:
    """A saved model with its metadata: NumPy images in, NumPy probabilities out.

    Attributes:
        path: the model file. metadata: the JSON dict. task, class_names, measurement,
        foreground_class, threshold: from the metadata. channels: input channels.
        input_size: ``(H, W)`` the model takes (None: any size).
    """

    def __init__(self, path: str | os.PathLike, device: str = "cpu"):
        self.path, self.metadata = read_metadata(path)
        meta = self.metadata
        self.framework: str = meta["framework"]
        self.task: str = meta["task"]
        self.class_names: list[str] = list(meta["class_names"])
        self.num_outputs = int(meta["num_outputs"])
        self.measurement: str | None = meta.get("measurement")
        self.foreground_class: int | None = meta.get("foreground_class")
        self.threshold = 0.5 if meta.get("threshold") is None else float(meta["threshold"])
        inp = meta["input"]
        self.channels = int(inp["channels"])
        self.input_size = (int(inp["height"]), int(inp["width"])) if inp.get("height") and inp.get("width") else None
        self.device = device
        self._load()

    def _load(self) -> None:
        if self.framework == "keras":
            import keras

            try:
                self._model = keras.saving.load_model(str(self.path), compile=False)
            except Exception as exc:  # noqa: BLE001
                raise ValueError(f"cannot load {self.path} as a Keras model ({type(exc).__name__}: "
                                 f"{str(exc)[:300]})") from exc
            return
        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation notice
            try:
                if self.framework == "torch.export":
                    self._model = torch.export.load(str(self.path)).module().to(self.device)
                else:
                    self._model = torch.jit.load(str(self.path), map_location=self.device).eval()
            except Exception as exc:  # noqa: BLE001
                raise ValueError(f"cannot load {self.path} as a {self.framework} model ({type(exc).__name__}: "
                                 f"{str(exc)[:300]})") from None

    def __repr__(self) -> str:
        size = "any size" if self.input_size is None else f"{self.input_size[0]}x{self.input_size[1]}"
        return (f"ExportedModel({self.path.name}: {self.framework} {self.task}, {self.channels} channel(s) at {size}, "
                f"classes {self.class_names}, measurement {self.measurement})")

    def predict(self, images: Any, batch_size: int = 8) -> np.ndarray:
        """Probabilities for images ``(N, H, W, C)`` (or ``(N, H, W)`` for one channel) in [0, 1].

        Returns:
            ``(N, H, W, K)`` for segmentation, ``(N, K)`` for classification (K: output channels,
            1 for a sigmoid model: the probability of class 1).

        Raises:
            ValueError: wrong shape, channels, image size, or values outside [0, 1].
        """
        x = np.asarray(images)
        if x.dtype.kind != "f":
            raise ValueError(f"images must be floats in [0, 1], got dtype {x.dtype} (scale 8-bit by 255, "
                             "16-bit by 65535)")
        x = x.astype(np.float32, copy=False)
        if x.ndim == 3 and self.channels == 1:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] != self.channels or x.shape[0] == 0:
            raise ValueError(f"images must be (N, H, W, {self.channels}) with N >= 1 (channels last), "
                             f"got shape {x.shape}")
        if self.input_size is not None and tuple(x.shape[1:3]) != self.input_size:
            raise ValueError(f"the model takes {self.input_size[0]}x{self.input_size[1]} images, got "
                             f"{x.shape[1]}x{x.shape[2]}; resize them first (helpers.tools.predict does)")
        if not np.isfinite(x).all() or x.min() < -_RANGE_SLACK or x.max() > 1 + _RANGE_SLACK:
            raise ValueError(f"images must lie in [0, 1] (the model normalises them itself), got values in "
                             f"[{float(np.nanmin(x)):.4g}, {float(np.nanmax(x)):.4g}]")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        return np.concatenate([self._run(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    __call__ = predict

    def _run(self, x: np.ndarray, layout_given: str = "NHWC") -> np.ndarray:
        """One batch, channels last in and out (``layout_given="NCHW"``: already channels first)."""
        if self.framework == "keras":
            import keras

            return keras.ops.convert_to_numpy(self._model(x, training=False)).astype(np.float32)
        import torch

        if layout_given == "NHWC":
            x = x.transpose(0, 3, 1, 2)
        t = torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(self.device)
        with torch.no_grad():
            y = self._model(t).float().cpu().numpy()
        return y.transpose(0, 2, 3, 1) if y.ndim == 4 else y

    def labels(self, probabilities: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Class indices (``uint8``) from :meth:`predict`'s output: ``p > threshold`` for one output
        (default: the metadata's, 0.5), the most probable class otherwise."""
        p = np.asarray(probabilities)
        if p.shape[-1] == 1:
            t = self.threshold if threshold is None else float(threshold)
            return (p[..., 0] > t).astype(np.uint8)
        return p.argmax(-1).astype(np.uint8 if p.shape[-1] <= 256 else np.int64)


def load_exported(path: str | os.PathLike, device: str = "cpu") -> ExportedModel:
    """Load a model saved by :func:`export_torch` / :func:`export_keras` (model file or its ``.json``).

    Needs only NumPy and torch (``.pt2``, ``.pt``) or Keras (``.keras``); ``device`` applies to
    PyTorch models (``"cpu"``, ``"cuda"``).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: no metadata, or a file that cannot be loaded (the message says which).
    """
    return ExportedModel(path, device=device)
