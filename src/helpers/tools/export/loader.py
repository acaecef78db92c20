"""Loading an exported model back: :func:`load_exported` and :class:`ExportedModel`, a predictor
with NumPy images in and NumPy probabilities out.

This module imports NumPy and torch or Keras only (the framework lazily, as the file needs it): a
reader's process never loads the course's models or training code (tests/tools/test_export_predict.py
checks it in a fresh interpreter).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from helpers.tools.export.metadata import read_metadata

_RANGE_SLACK = 1e-5  # resampled [0, 1] images may leave the range by a rounding error


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
