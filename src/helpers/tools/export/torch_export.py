"""Exporting a PyTorch model: :func:`export_torch` and the wrapper that puts the input normalisation
and the output activation inside the saved ``.pt2`` (``torch.export``) or ``.pt`` (TorchScript) file.

torch is imported only when a function here runs, so importing this module (as
:mod:`helpers.tools.export` does) costs a Keras-only reader nothing.
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

from helpers.tools.export.arguments import (_check_activation, _check_extra, _check_measurement,
                                            _check_normalisation, _check_task, _foreground, _model_path,
                                            _output_classes)
from helpers.tools.export.loader import load_exported
from helpers.tools.export.metadata import (EMBEDDED_NAME, TORCH_FORMATS, _FRAMEWORKS, _base_metadata,
                                           _write_sidecar)


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
