"""Training speed of every model of the course: the optimised GPU path against plain fp32 eager.

``python -m helpers.bench`` trains each model of the notebooks at the notebooks' full sizes for a
few steps on synthetic batches and measures, in one run and for two twins of the same model:

* **fp32 eager**: PyTorch's defaults (float32, contiguous NCHW tensors, no ``torch.compile``,
  ``cudnn.benchmark`` off). Keras models: the ``float32`` dtype policy.
* **optimised**: bf16 autocast, ``channels_last`` model and images, ``cudnn.benchmark`` on,
  gradients released with ``set_to_none`` and no host synchronisation inside the timed steps;
  then the same once more with ``torch.compile`` of the model (as ``helpers.training.fit(compile=True)``
  does), whose compilation time is reported apart (``compile_seconds``: the wall time of the first
  compiled step) and kept out of the steady state. The faster of the two is the optimised figure
  (``optimized_variant`` says which). Keras models: the ``mixed_bfloat16`` policy
  (:func:`helpers.keras_utils.configure_keras`), and with ``--keras-jit`` also ``jit_compile=True``
  (``torch.compile`` of Keras' whole train step on the torch backend; off by default: with torch 2.15
  and Keras 3.15 dynamo fails on it, "exception table entry start instruction has no offset").

Models and sizes are those of the notebooks' full profile (:func:`model_specs`); the data are random
batches of the right shapes (speed does not depend on the values), and augmentation is left out of the
step (the busy-fraction loops below keep the notebooks' data paths).

In both twins the batch already sits on the device (the course's datasets fit on the GPU), so the
figures are those of the training step itself: forward, loss, backward and optimiser update.

What is measured, and how:

* **step time**: ``warmup`` steps are run and discarded, then ``steps`` steps are timed between two
  ``torch.cuda.Event`` records, with one synchronisation after the last (none inside the window);
  ``step_ms`` is the window over ``steps``; images/s is ``batch / step``.
* **peak memory**: ``torch.cuda.max_memory_allocated`` over the twin's warm-up and timed steps
  (the statistics are reset before each twin; Keras on the torch backend allocates through PyTorch too).
* **FLOPs**: one fp32 eager training step under ``torch.utils.flop_counter.FlopCounterMode``, which counts
  the matrix products and convolutions of the forward and backward passes (element-wise work and the
  optimiser are not counted, so the figure is a slight under-count). Keras models run their step
  through the torch backend, so the same counter sees their ``aten`` convolutions.
* **host synchronisations** of one optimised (bf16 eager) step, counted with
  ``torch.cuda.set_sync_debug_mode("warn")`` after the timed window (``host_syncs_per_step``; 0 is the aim).
* **TFLOP/s** = FLOPs per step / optimised step time; **peak_fraction** = TFLOP/s / the GPU's dense bf16
  peak (:data:`PEAK_BF16_TFLOPS`; ``None`` for an unknown device or a CPU).
* **GPU busy fraction** (:func:`gpu_busy_fraction`): during one notebook training loop per framework
  (``helpers.training.fit`` on PSPNet with the notebook's albumentations DataLoader; Keras ``fit`` through
  ``helpers.keras_training.train_segmenter`` on the residual U-Net with NumPy arrays), plus a reference
  (the same PSPNet ``fit`` on images already on the GPU: what the data path costs), sampled from NVML
  when ``pynvml`` is importable, else the union of the CUDA kernels' intervals in a ``torch.profiler``
  trace over the loop's wall time.

Results go to ``results/bench.json`` (a ``rows`` list, one row per model, and a ``busy`` list) and
``results/bench.md``; :func:`write_performance_page` renders ``book/performance.md`` from that JSON and the
runner's ``results/summary.json``. Usage::

    KERAS_BACKEND=torch python -m helpers.bench                   # every model, full sizes, on the GPU
    python -m helpers.bench --models pspnet,dcn --no-busy         # a subset ...
    python -m helpers.bench --models filler_cnn --merge           # ... and the rest into the same table
    python -m helpers.bench --device cpu --quick --markdown       # every model at toy sizes (tests)
    python -m helpers.bench --page-only                           # book/performance.md from the JSON files

The Keras models need ``KERAS_BACKEND=torch``; ``main`` sets it when Keras is not yet imported. A twin
that fails (an out-of-memory error, a compiler error) is recorded in its row's ``errors`` and the run goes
on; the exit status is then 1. ``bench.json`` is rewritten after every model, so a run cut short keeps
what it measured.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import json
import math
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .results import atomic_write_text

__all__ = [
    "PEAK_BF16_TFLOPS", "TARGET_SPEEDUP", "TARGET_BUSY", "TARGET_FULL_SECONDS", "TARGET_SMOKE_SECONDS",
    "TARGET_LITE_CPU_SECONDS", "TARGET_LITE_GPU_SECONDS", "profile_column",
    "TARGET_PARALLEL_GAIN", "ModelSpec", "model_specs", "peak_bf16_tflops", "derive_metrics", "time_steps",
    "count_flops", "count_host_syncs", "interval_union", "gpu_busy_fraction", "bench_model", "run_bench",
    "bench_markdown",
    "write_bench", "performance_markdown", "write_performance_page", "build_parser", "main",
]

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = 1

#: Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, from NVIDIA's data sheets, matched by substring
#: of ``torch.cuda.get_device_name()`` in this order (the PCIe and NVL H100s before the SXM default).
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("GH200", 989.0),
    ("H100", 989.0),   # H100 SXM ("NVIDIA H100 80GB HBM3")
    ("H200", 989.0),
    ("A100", 312.0),
)

#: The targets of issue 8.
TARGET_SPEEDUP = 2.5          # optimised step vs its fp32-eager twin, each torch model, on the H100
TARGET_BUSY = 0.90            # GPU busy fraction in the notebooks' training loops
TARGET_FULL_SECONDS = 900.0   # all notebooks, full profile, one H100
TARGET_SMOKE_SECONDS = 600.0  # all notebooks, smoke profile, 2 CPU cores
TARGET_LITE_CPU_SECONDS = 1200.0  # each paper notebook, lite profile, 2 CPU cores (a class period)
# Each paper notebook, lite profile, on one H200: the proxy for at most 10 minutes on a free Colab T4, which
# has about 1/15 of the H200's bf16/fp16 throughput and of its memory bandwidth (65 vs 989 TFLOP/s dense;
# 320 GB/s vs 4.8 TB/s), so 600 s / 15 = 40 s of pure GPU work; 60 s leaves room for the start-up both share.
TARGET_LITE_GPU_SECONDS = 60.0
TARGET_PARALLEL_GAIN = 3.0    # notebook 3: trials/hour of 4 workers over 1 worker on one H100


def peak_bf16_tflops(device_name: str | None) -> float | None:
    """The dense bf16 peak of a GPU by name (see :data:`PEAK_BF16_TFLOPS`), ``None`` when unknown.

    Example:
        >>> [peak_bf16_tflops(n) for n in ("NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB", "cpu")]
        [989.0, 312.0, None]
    """
    if not device_name:
        return None
    for key, peak in PEAK_BF16_TFLOPS:
        if key.lower() in device_name.lower():
            return peak
    return None


# ----------------------------------------------------------------------------- arithmetic


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or not math.isfinite(a) or not math.isfinite(b):
        return None
    return a / b


def derive_metrics(row: dict[str, Any], peak_tflops: float | None) -> dict[str, Any]:
    """Fill a row's derived fields from its measured ones (in place; also returned).

    From ``batch``, ``fp32_step_ms``, ``optimized_step_ms``, ``flops_per_step`` (each may be ``None``):
    ``fp32_images_per_s = batch / fp32 step``, ``optimized_images_per_s`` likewise, ``speedup =
    optimized_images_per_s / fp32_images_per_s``, ``tflops = flops_per_step / optimised step / 1e12``
    (``fp32_tflops`` likewise) and ``peak_fraction = tflops / peak_tflops``.

    Example:
        >>> r = derive_metrics({"batch": 8, "fp32_step_ms": 40.0, "optimized_step_ms": 10.0,
        ...                     "flops_per_step": 5e12}, 1000.0)
        >>> r["fp32_images_per_s"], r["optimized_images_per_s"], r["speedup"], r["tflops"], r["peak_fraction"]
        (200.0, 800.0, 4.0, 500.0, 0.5)
    """
    batch = row["batch"]
    for prefix in ("fp32", "optimized"):
        ms = row.get(f"{prefix}_step_ms")
        row[f"{prefix}_images_per_s"] = None if not ms else batch / (ms / 1e3)
    row["speedup"] = _ratio(row["optimized_images_per_s"], row["fp32_images_per_s"])
    flops = row.get("flops_per_step")
    for prefix, key in (("optimized", "tflops"), ("fp32", "fp32_tflops")):
        ms = row.get(f"{prefix}_step_ms")
        row[key] = None if not flops or not ms else flops / (ms / 1e3) / 1e12
    row["peak_tflops"] = peak_tflops
    row["peak_fraction"] = _ratio(row["tflops"], peak_tflops)
    return row


def interval_union(intervals: Iterable[tuple[float, float]]) -> float:
    """Total length covered by ``(start, end)`` intervals (overlaps counted once).

    Example:
        >>> interval_union([(0, 2), (1, 3), (5, 6)])
        4
    """
    total, cur_s, cur_e = 0, None, None
    for s, e in sorted((s, e) for s, e in intervals if e > s):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


# ----------------------------------------------------------------------------- timing and counting


def _sync(device: Any) -> None:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step: Callable[[], Any], device: Any, *, warmup: int = 5, steps: int = 20) -> dict[str, float]:
    """Mean wall time of ``step()`` over ``steps`` calls after ``warmup`` discarded ones.

    On CUDA the window is bounded by two ``torch.cuda.Event`` records and synchronised once, after the
    last step; nothing inside the window waits for the GPU. On a CPU ``time.perf_counter`` is used.

    Returns:
        ``{"step_ms": ..., "first_step_s": ...}``: the mean step and the wall time of the very first
        call (compilation and autotuning included), synchronised.
    """
    import torch

    if steps < 1 or warmup < 0:
        raise ValueError(f"need steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    cuda = getattr(device, "type", str(device)) == "cuda"
    _sync(device)
    t0 = time.perf_counter()
    step()
    _sync(device)
    first = time.perf_counter() - t0
    for _ in range(max(warmup - 1, 0)):
        step()
    _sync(device)
    if cuda:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(steps):
            step()
        end.record()
        end.synchronize()
        ms = start.elapsed_time(end) / steps
    else:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        ms = (time.perf_counter() - t0) * 1e3 / steps
    return {"step_ms": ms, "first_step_s": first}


def count_host_syncs(step: Callable[[], Any], device: Any) -> int | None:
    """How many host synchronisations one call of ``step`` makes (``torch.cuda.set_sync_debug_mode``).

    ``None`` off CUDA. Each synchronising CUDA call (``.item()``, ``bool(tensor)``, a blocking copy ...)
    inside ``step`` raises one warning in the debug mode; they are counted, not shown.
    """
    import warnings

    import torch

    if getattr(device, "type", str(device)) != "cuda":
        return None
    old = torch.cuda.get_sync_debug_mode()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            step()
        finally:
            torch.cuda.set_sync_debug_mode(old)
    return sum("synchroniz" in str(w.message).lower() for w in caught)


def count_flops(step: Callable[[], Any]) -> int:
    """FLOPs of one call of ``step`` counted by ``torch.utils.flop_counter.FlopCounterMode``."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


# ----------------------------------------------------------------------------- models


@dataclass
class ModelSpec:
    """One model of the course as the benchmark trains it.

    ``build(quick, size)`` returns ``(model, loss_fn, optimizer_factory)`` for ``size`` px inputs: for torch
    models ``loss_fn(output, target)`` and ``optimizer_factory(params)``; for Keras models the ``loss`` and
    ``optimizer_factory()`` that ``model.compile`` takes. ``make_batch(quick, n, size, device)`` returns
    ``(x, y)`` on ``device`` (NCHW for torch models, NHWC for Keras models). Both get the sizes from
    :meth:`size`, so a spec states them once.
    """

    name: str
    framework: str  # "torch" or "keras"
    notebook: str
    batch: int
    image_size: int
    quick_batch: int
    quick_image_size: int
    build: Callable[[bool, int], tuple[Any, Any, Callable[[Any], Any]]]
    make_batch: Callable[[bool, int, int, Any], tuple[Any, Any]]
    description: str = ""

    def size(self, quick: bool) -> tuple[int, int]:
        return (self.quick_batch, self.quick_image_size) if quick else (self.batch, self.image_size)


def _gen(seed: int = 0):
    import torch

    return torch.Generator().manual_seed(seed)


def _images(n: int, c: int, s: int, device: Any, nhwc: bool = False):
    import torch

    x = torch.rand(n, c, s, s, generator=_gen(0))
    return (x.permute(0, 2, 3, 1).contiguous() if nhwc else x).to(device)


def _labels(n: int, s: int, classes: int, device: Any, dtype=None):
    import torch

    y = torch.randint(0, classes, (n, s, s), generator=_gen(1))
    return (y if dtype is None else y.to(dtype)).to(device)


def model_specs() -> list[ModelSpec]:
    """The models of the course with the notebooks' full training sizes (and toy sizes for ``--quick``).

    * ``residual_unet``: notebook 01's final model (depth 5, layer 7, 16 filters), 256 px, batch 32,
      momentum SGD with BCE + Dice (``train_segmenter``).
    * ``deeplabv3plus_xception``, ``deeplabv3plus_mobilenetv2``: notebook 01's comparison, 256 px,
      batch 32, random backbone weights (the committed run had no download either; speed is the same).
    * ``pspnet``: notebook 02, dilated ResNet-50, 8 classes, 256 px, batch 32, SGD, main + aux loss;
      the whole network trains (random weights: the backbone is not frozen, the slower case).
    * ``grouped_unet``: draft notebook 04, base 16, depth 4, 3 classes x 8 maps, 256 px, batch 4, Adam,
      CE + the two-image pixel-relation loss.
    * ``dcn``: notebook 05, width 32, kernels (4, 8, 16), 512 px, batch 8, Adam, the auxiliary-loss schedule.
    * ``filler_cnn``: notebook 03's C4F3 (32 filters, Dense 1024-256), 64 px, batch 128, Adam,
      sparse categorical cross-entropy.
    """
    import torch

    def adam(lr: float = 1e-3):
        return lambda params: torch.optim.Adam(params, lr=lr)

    def b_residual_unet(quick: bool, s: int):
        from .keras_training import sgd
        from .keras_utils import bce_dice_loss
        from .models.residual_unet import residual_unet

        kw = dict(depth=3, layers=3, filters=4) if quick else dict(depth=5, layers=7, filters=16)
        return residual_unet((s, s, 1), **kw), bce_dice_loss, lambda: sgd(0.05, 0.9, 1e-4)

    def b_deeplab(backbone: str):
        def build(quick: bool, s: int):
            from .keras_training import sgd
            from .keras_utils import bce_dice_loss
            from .models.deeplabv3plus import deeplabv3plus

            model = deeplabv3plus((s, s, 1), backbone=backbone, weights=None, aspp_filters=16 if quick else 256)
            return model, bce_dice_loss, lambda: sgd(0.05, 0.9, 1e-4)
        return build

    def binary_nhwc(quick: bool, n: int, s: int, device: Any):
        return _images(n, 1, s, device, nhwc=True), _labels(n, s, 2, device, torch.float32)[..., None]

    def b_filler(quick: bool, s: int):
        import keras

        from .models.filler_cnn import filler_cnn

        kw = dict(filters=4, fc_scale=0.05) if quick else dict(filters=32, fc_scale=1.0)
        model = filler_cnn((s, s, 1), fc_layers=3, dropout=0.5, num_classes=3, input_mean=0.5, input_std=0.25, **kw)
        return model, "sparse_categorical_crossentropy", lambda: keras.optimizers.Adam(1e-3)

    def filler_batch(quick: bool, n: int, s: int, device: Any):
        return _images(n, 1, s, device, nhwc=True), torch.randint(0, 3, (n,), generator=_gen(1)).to(device)

    def b_pspnet(quick: bool, s: int):
        from .losses import main_aux_loss
        from .models.pspnet import pspnet

        model = pspnet(3 if quick else 8, backbone_weights=None, freeze_backbone=False)
        return model, main_aux_loss, lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)

    def pspnet_batch(quick: bool, n: int, s: int, device: Any):
        return _images(n, 3, s, device), _labels(n, s, 3 if quick else 8, device)

    def b_grouped(quick: bool, s: int):
        from .models.grouped_unet import GroupedUNet
        from .pixel_relation import FewShotLoss

        kw = dict(base=4, depth=2, group_channels=2) if quick else dict(base=16, depth=4, group_channels=8)
        model = GroupedUNet(1, 3, return_features=True, **kw)
        return model, FewShotLoss(1.0, variant="two_image"), adam(1e-4)

    def grouped_batch(quick: bool, n: int, s: int, device: Any):
        return _images(n, 1, s, device), _labels(n, s, 3, device)

    def b_dcn(quick: bool, s: int):
        from .models.dcn import DCNLoss, dcn

        model = dcn(kernels=(4, 8, 16), width=4 if quick else 32)
        return model, DCNLoss(total_steps=1000), adam(1e-3)

    def dcn_batch(quick: bool, n: int, s: int, device: Any):
        return _images(n, 1, s, device), _labels(n, s, 2, device, torch.float32)

    lst = [
        ModelSpec("residual_unet", "keras", "01_grain_boundary_unet", 32, 256, 2, 32, b_residual_unet, binary_nhwc,
                  "residual U-Net, depth 5, layer 7, 16 filters; SGD, BCE + Dice"),
        ModelSpec("deeplabv3plus_xception", "keras", "01_grain_boundary_unet", 32, 256, 1, 80,
                  b_deeplab("xception"), binary_nhwc,
                  "DeepLabv3+ with Xception; SGD, BCE + Dice"),
        ModelSpec("deeplabv3plus_mobilenetv2", "keras", "01_grain_boundary_unet", 32, 256, 2, 32,
                  b_deeplab("mobilenetv2"), binary_nhwc,
                  "DeepLabv3+ with MobileNetV2; SGD, BCE + Dice"),
        ModelSpec("pspnet", "torch", "02_pspnet_augmentation", 32, 256, 2, 32, b_pspnet, pspnet_batch,
                  "PSPNet, dilated ResNet-50, 8 classes; SGD, main + 0.4 aux CE"),
        ModelSpec("filler_cnn", "keras", "03_filler_classification_hpo", 128, 64, 4, 32, b_filler, filler_batch,
                  "C4F3 (32 filters, Dense 1024-256); Adam, sparse CE"),
        ModelSpec("grouped_unet", "torch", "04_fewshot_pixel_relation", 4, 256, 2, 32, b_grouped, grouped_batch,
                  "grouped U-Net (base 16, depth 4, 3 x 8 maps); Adam, CE + two-image pixel relation"),
        ModelSpec("dcn", "torch", "05_dcn_kernel_tuning", 8, 512, 2, 32, b_dcn, dcn_batch,
                  "DCN width 32, kernels (4, 8, 16); Adam, fused + decaying auxiliary BCE"),
    ]
    return lst


# ----------------------------------------------------------------------------- one model


def _reset_peak(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gb(device: Any) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def _torch_twin(spec: ModelSpec, quick: bool, device: Any, *, optimized: bool, compile: bool,
                compile_mode: str | None, warmup: int, steps: int, flops: bool) -> dict[str, Any]:
    import torch

    torch.manual_seed(0)
    n, size = spec.size(quick)
    model, loss_fn, make_opt = spec.build(quick, size)
    model = model.to(device).train()
    x, y = spec.make_batch(quick, n, size, device)
    if optimized:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = make_opt([p for p in model.parameters() if p.requires_grad])
    step_model = torch.compile(model, mode=compile_mode) if compile else model
    amp = optimized

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = step_model(x)
            loss = loss_fn(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    out: dict[str, Any] = {"params": sum(p.numel() for p in model.parameters())}
    if flops:
        out["flops_per_step"] = count_flops(step)  # also the first warm-up step
    _reset_peak(device)
    out.update(time_steps(step, device, warmup=warmup, steps=steps))
    out["peak_memory_gb"] = _peak_gb(device)
    if optimized and not compile:
        out["host_syncs_per_step"] = count_host_syncs(step, device)
    del model, opt, step_model
    return out


def _keras_twin(spec: ModelSpec, quick: bool, device: Any, *, optimized: bool, jit: bool,
                warmup: int, steps: int, flops: bool) -> dict[str, Any]:
    import contextlib

    import keras
    import torch

    from .keras_utils import configure_keras

    if keras.config.backend() != "torch":
        raise RuntimeError(f"Keras models are benchmarked on the torch backend; Keras runs on "
                           f"{keras.config.backend()!r} here: start the process with KERAS_BACKEND=torch")
    configure_keras(mixed_precision=optimized)
    scope = keras.device("cpu") if device.type == "cpu" and torch.cuda.is_available() else contextlib.nullcontext()
    try:
        with scope:
            keras.utils.set_random_seed(0)
            n, size = spec.size(quick)
            model, loss, make_opt = spec.build(quick, size)
            model.compile(optimizer=make_opt(), loss=loss, jit_compile=bool(jit))
            x, y = spec.make_batch(quick, n, size, device)
            model.make_train_function()
            fn = model.train_function

            def step() -> None:
                fn([(x, y)])

            out: dict[str, Any] = {"params": int(sum(math.prod(w.shape) for w in model.trainable_weights))}
            if flops:
                out["flops_per_step"] = count_flops(step)
            _reset_peak(device)
            out.update(time_steps(step, device, warmup=warmup, steps=steps))
            out["peak_memory_gb"] = _peak_gb(device)
            if optimized and not jit:
                out["host_syncs_per_step"] = count_host_syncs(step, device)
            out["policy"] = keras.mixed_precision.global_policy().name
    finally:
        keras.backend.clear_session()  # frees the model's variables; also resets the dtype policy ...
        configure_keras(mixed_precision=False)  # ... which is set to float32 explicitly all the same
    return out


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:300]


def bench_model(spec: ModelSpec, device: Any, *, quick: bool = False, warmup: int = 5, steps: int = 20,
                compile: bool = True, compile_mode: str | None = None, keras_jit: bool = False,
                device_name: str | None = None, peak_tflops: float | None = None, log: Callable[[str], Any] = print
                ) -> dict[str, Any]:
    """Measure one model's fp32-eager and optimised twins; returns its row (see the module docstring).

    A twin that fails leaves its fields ``None`` and its error in ``errors``; the row is still returned.
    """
    import torch

    batch, size = spec.size(quick)
    row: dict[str, Any] = {
        "model": spec.name, "framework": "keras (torch backend)" if spec.framework == "keras" else "torch",
        "notebook": spec.notebook, "description": spec.description, "batch": batch, "image_size": size,
        "device": device_name or str(device), "params": None, "flops_per_step": None, "flop_method": None,
        "fp32_step_ms": None, "bf16_step_ms": None, "compiled_step_ms": None, "optimized_step_ms": None,
        "optimized_variant": None, "compile_seconds": None, "peak_memory_gb": None, "fp32_peak_memory_gb": None,
        "host_syncs_per_step": None,
        "errors": {},
    }
    t_model = time.perf_counter()
    common = dict(warmup=warmup, steps=steps)
    if spec.framework == "torch":
        twins = [("fp32", dict(optimized=False, compile=False, flops=True)),
                 ("bf16", dict(optimized=True, compile=False, flops=False))]
        if compile:
            twins.append(("compiled", dict(optimized=True, compile=True, flops=False)))
    else:
        twins = [("fp32", dict(optimized=False, jit=False, flops=True)),
                 ("bf16", dict(optimized=True, jit=False, flops=False))]
        if keras_jit:
            twins.append(("compiled", dict(optimized=True, jit=True, flops=False)))
    bench_old = torch.backends.cudnn.benchmark
    results: dict[str, dict[str, Any]] = {}
    for twin, kw in twins:
        torch.backends.cudnn.benchmark = twin != "fp32"  # fp32 eager keeps PyTorch's default (off)
        try:
            if spec.framework == "torch":
                r = _torch_twin(spec, quick, device, compile_mode=compile_mode, **kw, **common)
            else:
                r = _keras_twin(spec, quick, device, **kw, **common)
            results[twin] = r
            log(f"  {spec.name:<26} {twin:<9} {r['step_ms']:9.2f} ms/step  {batch / r['step_ms'] * 1e3:9.1f} img/s"
                + (f"  first step {r['first_step_s']:.1f} s" if twin == "compiled" else ""))
        except Exception as exc:  # one failing twin must not lose the others
            row["errors"][twin] = _err(exc)
            log(f"  {spec.name:<26} {twin:<9} FAILED {row['errors'][twin]}")
            if os.environ.get("HELPERS_BENCH_TRACEBACK"):
                traceback.print_exc()
        finally:
            torch.backends.cudnn.benchmark = bench_old
            if twin == "compiled":
                torch._dynamo.reset()  # free the compiled graphs before the next model
            if device.type == "cuda":
                torch.cuda.empty_cache()
    fp32 = results.get("fp32", {})
    row["params"] = next((r["params"] for r in results.values() if r.get("params")), None)
    row["flops_per_step"] = fp32.get("flops_per_step")
    row["flop_method"] = "torch.utils.flop_counter.FlopCounterMode (fp32 eager step)" if row["flops_per_step"] else None
    row["fp32_step_ms"] = fp32.get("step_ms")
    row["fp32_peak_memory_gb"] = fp32.get("peak_memory_gb")
    row["bf16_step_ms"] = results.get("bf16", {}).get("step_ms")
    row["host_syncs_per_step"] = results.get("bf16", {}).get("host_syncs_per_step")
    if "compiled" in results:
        row["compiled_step_ms"] = results["compiled"]["step_ms"]
        row["compile_seconds"] = results["compiled"]["first_step_s"]
    best = min((t for t in ("bf16", "compiled") if t in results), key=lambda t: results[t]["step_ms"], default=None)
    if best is not None:
        row["optimized_step_ms"] = results[best]["step_ms"]
        row["optimized_variant"] = {"torch": {"bf16": "bf16 eager", "compiled": "bf16 + compile"},
                                    "keras": {"bf16": "mixed_bfloat16", "compiled": "mixed_bfloat16 + jit_compile"},
                                    }[spec.framework][best]
        row["peak_memory_gb"] = results[best].get("peak_memory_gb")
    row["seconds"] = time.perf_counter() - t_model
    return derive_metrics(row, peak_tflops)


# ----------------------------------------------------------------------------- GPU busy fraction


def gpu_busy_fraction(run: Callable[[], Any], device: Any = "cuda", *, method: str = "auto",
                      interval: float = 0.05) -> dict[str, Any]:
    """Fraction of ``run()``'s wall time during which the GPU executed kernels.

    Args:
        run: the work to watch, e.g. a ``fit`` call (synchronised at its end by this function).
        device: the CUDA device; on a CPU the result is ``{"busy_fraction": None, ...}``.
        method: ``"nvml"`` (``torch.cuda.utilization()`` sampled every ``interval`` seconds in a
            thread; needs ``pynvml``; NVML's own figure is the share of its last sample period with a
            kernel running), ``"profiler"`` (``torch.profiler`` trace: the union of the CUDA kernels'
            intervals over the wall time; the profiler's own overhead makes it a lower bound), or
            ``"auto"`` (NVML when importable, else the profiler).

    Returns:
        ``{"busy_fraction", "method", "seconds", "samples"}`` (``samples``: NVML readings or kernels).
    """
    import torch

    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        t0 = time.perf_counter()
        run()
        return {"busy_fraction": None, "method": None, "seconds": time.perf_counter() - t0, "samples": 0}
    if method == "auto":
        try:
            import pynvml  # noqa: F401

            method = "nvml"
        except ImportError:
            method = "profiler"
    if method == "nvml":
        readings: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                try:
                    readings.append(float(torch.cuda.utilization(device)))
                except Exception:
                    return
                stop.wait(interval)

        th = threading.Thread(target=sample, daemon=True)
        t0 = time.perf_counter()
        th.start()
        try:
            run()
            torch.cuda.synchronize(device)
        finally:
            stop.set()
            th.join()
        secs = time.perf_counter() - t0
        frac = sum(readings) / len(readings) / 100 if readings else None
        return {"busy_fraction": frac, "method": "nvml", "seconds": secs, "samples": len(readings)}
    if method != "profiler":
        raise ValueError(f"method must be 'auto', 'nvml' or 'profiler', got {method!r}")
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize(device)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        t0 = time.perf_counter()
        run()
        torch.cuda.synchronize(device)
        secs = time.perf_counter() - t0
    kernels = [(e.time_range.start, e.time_range.end) for e in prof.events()
               if e.device_type == DeviceType.CUDA]
    busy_us = interval_union(kernels)
    return {"busy_fraction": min(busy_us / 1e6 / secs, 1.0) if secs > 0 else None, "method": "profiler",
            "seconds": secs, "samples": len(kernels)}


def _busy_torch(device: Any, quick: bool, method: str, resident: bool = False) -> dict[str, Any]:
    """Notebook 02's training loop: ``fit`` on PSPNet with the albumentations DataLoader.

    ``resident=True`` is its reference: the same ``fit`` on the same images already on the GPU (no
    DataLoader, no augmentation), so the two busy fractions show what the data path costs.
    """
    import warnings

    import torch

    from .data.scenes import synthetic_scenes
    from .losses import main_aux_loss
    from .models.pspnet import pspnet
    from .seg_experiments import augmented_loader, default_workers, make_optimizer
    from .training import fit

    # Full: 240 steps (about 15 s on an H100), long against NVML's sample period (up to 1 s) and the
    # workers' start; a 12-step epoch measured 0.8 s, too short to mean anything.
    size, batch, n = (32, 2, 8) if quick else (256, 32, 32 * 24)
    epochs = 1 if quick else 10
    data = synthetic_scenes(n, size, num_classes=8, seed=0)
    if resident:
        train: Any = (torch.from_numpy(data["images"]).permute(0, 3, 1, 2).contiguous(),
                      torch.from_numpy(data["masks"]).long())
        loop, steps = "helpers.training.fit: PSPNet, images resident on the GPU (reference for notebook 02)", n // batch
    else:
        train = augmented_loader(data["images"], data["masks"], augmentation="affine_blur", size=size,
                                 batch_size=batch, num_workers=default_workers(), seed=0)
        loop, steps = "helpers.training.fit: PSPNet, albumentations DataLoader (notebook 02)", len(train)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = pspnet(8, backbone_weights=None, freeze_backbone=False)
    opt, sched = make_optimizer("sgd_poly", model, total_steps=(epochs + 1) * steps)
    kw = dict(loss_fn=main_aux_loss, optimizer=opt, scheduler=sched, scheduler_interval="step", batch_size=batch,
              num_classes=8, ignore_index=255, progress=False, device=device)
    fit(model, train, epochs=1, **kw)  # warm-up: workers, cudnn autotuning
    r = gpu_busy_fraction(lambda: fit(model, train, epochs=epochs, **kw), device, method=method)
    return {"loop": loop, "framework": "torch", "batch": batch, "image_size": size, "steps": epochs * steps,
            **({"reference": True} if resident else {}), **r}


def _busy_keras(device: Any, quick: bool, method: str) -> dict[str, Any]:
    """Notebook 01's training loop: ``train_segmenter`` (Keras ``fit`` on NumPy arrays) on the residual U-Net."""
    import keras
    import numpy as np

    from .keras_training import train_segmenter
    from .keras_utils import configure_keras

    if keras.config.backend() != "torch":
        raise RuntimeError("the Keras loop is measured on the torch backend: set KERAS_BACKEND=torch")
    spec = next(s for s in model_specs() if s.name == "residual_unet")  # the benchmark's model and sizes
    batch, size = spec.size(quick)
    n = 8 if quick else 100
    rng = np.random.default_rng(0)
    x = rng.random((n, size, size), dtype=np.float32)
    y = (rng.random((n, size, size)) > 0.8).astype(np.float32)
    configure_keras(mixed_precision=device.type == "cuda")
    try:
        model = spec.build(quick, size)[0]
        train_segmenter(model, (x, y), epochs=1, batch_size=batch, jit_compile=False)  # warm-up
        epochs = 2 if quick else 20  # full: 80 steps, about 20 s (see _busy_torch)
        r = gpu_busy_fraction(lambda: train_segmenter(model, (x, y), epochs=epochs, batch_size=batch,
                                                      jit_compile=False), device, method=method)
    finally:
        configure_keras(mixed_precision=False)
    return {"loop": "helpers.keras_training.train_segmenter: residual U-Net d5 l7, NumPy arrays (notebook 01)",
            "framework": "keras (torch backend)", "batch": batch, "image_size": size,
            "steps": epochs * math.ceil(n / batch), **r}


# ----------------------------------------------------------------------------- the whole run


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in ("torch", "keras"):
        mod = sys.modules.get(name)
        out[name] = getattr(mod, "__version__", None) if mod else None
    return out


def write_bench(doc: Mapping[str, Any], output: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``bench.json`` at ``output`` and the Markdown table beside it (``.md``); returns both paths."""
    out = Path(output)
    atomic_write_text(out, json.dumps(doc, indent=2, default=float) + "\n")
    md = out.with_suffix(".md")
    atomic_write_text(md, bench_markdown(doc))
    return out, md


def run_bench(*, device: str | None = None, quick: bool = False, models: Sequence[str] | None = None,
              warmup: int | None = None, steps: int | None = None, compile: bool | None = None,
              compile_mode: str | None = None, keras_jit: bool = False, busy: bool | None = None,
              busy_method: str = "auto", output: str | os.PathLike | None = None, command: str | None = None,
              merge: bool = False, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Benchmark the models and return the document written to ``bench.json``.

    Args:
        device: ``"cuda"``, ``"cpu"`` or ``None`` (CUDA when available).
        quick: toy sizes (a CPU smoke test of every code path), 1 warm-up and 1 timed step by default.
        models: names from :func:`model_specs` (default: all; ``[]``: none, e.g. only the busy loops).
        warmup, steps: discarded and timed steps per twin (default 5 and 20; quick: 1 and 1).
        compile: also measure the ``torch.compile`` twin of torch models (default: on CUDA only).
        compile_mode: ``torch.compile``'s ``mode`` (``None``, ``"reduce-overhead"``, ``"max-autotune"`` ...).
        keras_jit: also measure Keras' ``jit_compile=True`` twin.
        busy: measure the GPU busy fraction of one notebook loop per framework and of the PSPNet loop
            without its DataLoader (default: on CUDA only).
        busy_method: see :func:`gpu_busy_fraction`.
        output: ``bench.json`` path, rewritten after every model (a cut-off run keeps what it measured).
        command: the command line recorded in the document.
        merge: keep the rows (and busy loops) of an existing ``output`` that this run does not measure
            again, so a run split over several commands (``--models``) still ends in one table. Rows
            measured on another device are dropped.
    """
    import torch

    from .runtime import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    warmup = (1 if quick else 5) if warmup is None else int(warmup)
    steps = (1 if quick else 20) if steps is None else int(steps)
    compile = (dev.type == "cuda") if compile is None else bool(compile)
    busy = (dev.type == "cuda") if busy is None else bool(busy)
    specs = all_specs = model_specs()
    if models is not None:  # [] = no model rows (the busy loops only)
        known = {s.name for s in specs}
        unknown = [m for m in models if m not in known]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; choose from {sorted(known)}")
        specs = [s for s in specs if s.name in models]
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    peak = peak_bf16_tflops(name)  # None for "cpu" and unknown GPUs
    doc: dict[str, Any] = {
        "schema": SCHEMA, "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command, "device": name, "peak_bf16_tflops": peak, "quick": quick,
        "settings": {"warmup": warmup, "steps": steps, "compile": compile, "compile_mode": compile_mode,
                     "keras_jit": keras_jit, "busy_method": busy_method,
                     "fp32_cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
                     "fp32_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
                     "keras_backend": os.environ.get("KERAS_BACKEND")},
        "versions": _versions(), "rows": [], "busy": [], "seconds": None,
    }
    kept_rows: list[dict[str, Any]] = []
    kept_busy: list[dict[str, Any]] = []
    if merge and output is not None and Path(output).is_file():
        try:
            old = json.loads(Path(output).read_text())
        except ValueError:
            old = {}
        if old.get("device") == name and bool(old.get("quick")) == quick:
            mine = {s.name for s in specs}
            kept_rows = [r for r in old.get("rows", []) if r.get("model") not in mine]
            kept_busy = [] if busy else list(old.get("busy", []))
            doc["commands"] = list(old.get("commands") or [old.get("command")]) + [command]
    order = {s.name: i for i, s in enumerate(all_specs)}

    def rows_now(new: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(kept_rows + new, key=lambda r: order.get(r.get("model"), len(order)))

    new_rows: list[dict[str, Any]] = []
    doc["rows"] = rows_now(new_rows)  # a run of the busy loops only keeps every row
    doc["busy"] = list(kept_busy)
    t0 = time.perf_counter()
    log(f"benchmark on {name} ({dev}); warm-up {warmup}, timed {steps} steps per twin; compile={compile}")
    for spec in specs:
        row = bench_model(spec, dev, quick=quick, warmup=warmup, steps=steps, compile=compile,
                          compile_mode=compile_mode, keras_jit=keras_jit, device_name=name, peak_tflops=peak, log=log)
        new_rows.append(row)
        doc["rows"] = rows_now(new_rows)
        doc["versions"] = _versions()
        doc["seconds"] = time.perf_counter() - t0
        if output is not None:
            write_bench(doc, output)
    if busy:
        for what, fn in (("torch", _busy_torch), ("torch", functools.partial(_busy_torch, resident=True)),
                         ("keras", _busy_keras)):
            try:
                r = fn(dev, quick, busy_method)
                log(f"  busy fraction, {r['loop']}: {r['busy_fraction']} ({r['method']})")
            except Exception as exc:
                r = {"loop": what, "framework": what, "busy_fraction": None, "error": _err(exc)}
                log(f"  busy fraction, {what}: FAILED {r['error']}")
            doc["busy"].append(r)
            if output is not None:
                write_bench(doc, output)
    doc["seconds"] = time.perf_counter() - t0
    doc["versions"] = _versions()
    if output is not None:
        write_bench(doc, output)
    return doc


# ----------------------------------------------------------------------------- Markdown


def _f(v: Any, fmt: str = "{:.3g}") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return fmt.format(v)
    return str(v).replace("|", "/")


def bench_markdown(doc: Mapping[str, Any]) -> str:
    """The benchmark table of a ``bench.json`` document (as Markdown)."""
    lines = [f"Device: {doc.get('device')}; dense bf16 peak: {_f(doc.get('peak_bf16_tflops'))} TFLOP/s; "
             f"timed steps per twin: {doc.get('settings', {}).get('steps')}, after "
             f"{doc.get('settings', {}).get('warmup')} warm-up steps"
             f"{' (quick: toy sizes)' if doc.get('quick') else ''}.", "",
             "| model | framework | batch | image | fp32 img/s | optimised img/s | speedup | optimised path | "
             "step ms fp32 / bf16 / compiled | peak mem GB | TFLOP/s | of bf16 peak | compile s |",
             "|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|"]
    for r in doc.get("rows", []):
        steps = " / ".join(_f(r.get(k), "{:.1f}") for k in ("fp32_step_ms", "bf16_step_ms", "compiled_step_ms"))
        frac = r.get("peak_fraction")
        speed = r.get("speedup")
        lines.append("| " + " | ".join([
            r["model"], r["framework"], str(r["batch"]), f"{r['image_size']} px",
            _f(r.get("fp32_images_per_s"), "{:.1f}"), _f(r.get("optimized_images_per_s"), "{:.1f}"),
            "-" if speed is None else f"{speed:.2f}x", _f(r.get("optimized_variant")), steps,
            _f(r.get("peak_memory_gb"), "{:.2f}"), _f(r.get("tflops"), "{:.3g}"),
            "-" if frac is None else f"{100 * frac:.1f} %", _f(r.get("compile_seconds"), "{:.0f}")]) + " |")
    syncs = [(r["model"], r["host_syncs_per_step"]) for r in doc.get("rows", []) if r.get("host_syncs_per_step")]
    if any(r.get("host_syncs_per_step") is not None for r in doc.get("rows", [])):
        lines += ["", "Host synchronisations per optimised (bf16 eager) step, counted with "
                  "`torch.cuda.set_sync_debug_mode`: " + ("; ".join(f"{m}: {n}" for m, n in syncs) if syncs
                                                          else "none in any model") + "."]
    errors = [(r["model"], k, v) for r in doc.get("rows", []) for k, v in (r.get("errors") or {}).items()]
    if errors:
        lines += ["", "Failed twins: " + "; ".join(f"{m} {k}: {v}" for m, k, v in errors) + "."]
    busy = doc.get("busy") or []
    if busy:
        lines += ["", "| training loop | batch | image | GPU busy | method | seconds |",
                  "|---|---:|---:|---:|---|---:|"]
        for b in busy:
            frac = b.get("busy_fraction")
            lines.append(f"| {_f(b.get('loop'))} | {_f(b.get('batch'))} | {_f(b.get('image_size'))} | "
                         f"{'-' if frac is None else f'{100 * frac:.0f} %'} | "
                         f"{_f(b.get('method') or b.get('error'))} | "
                         f"{_f(b.get('seconds'), '{:.1f}')} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- the book page


def _load_summaries(paths: Sequence[str | os.PathLike]) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(notebook, profile): record}`` from one or more runner summaries; later files win."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for p in paths:
        p = Path(p)
        if not p.is_file():
            continue
        for rec in json.loads(p.read_text()).get("runs", []):
            out[(rec["notebook"], profile_column(rec.get("profile"), rec.get("device")))] = rec
    return out


def profile_column(profile: str | None, device: str | None) -> str:
    """The cost table's column of a run: its profile, and for ``lite`` whether it ran on a CPU or a GPU
    (lite has a target on each).

    Example:
        >>> profile_column("lite", "CPU (x86_64, 2 cores)"), profile_column("lite", "NVIDIA H200")
        ('lite (CPU)', 'lite (GPU)')
    """
    profile = profile or "?"
    if profile != "lite":
        return profile
    return "lite (CPU)" if "CPU" in str(device) else "lite (GPU)"


def results_json_records(results_dir: str | os.PathLike, notebooks: Sequence[str],
                         have: Mapping[tuple[str, str], Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Records for notebooks the runner's summary lacks, from their committed ``results.json``.

    A notebook's ``results.json`` holds its own wall time (``seconds``); it is used only where no
    runner record exists for that notebook and profile, and marked ``source: results.json``.
    """
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for nb in notebooks:
        path = Path(results_dir) / nb / "results.json"
        if not path.is_file():
            continue
        doc = json.loads(path.read_text())
        key = (nb, doc.get("profile") or "?")
        if key in have or doc.get("seconds") is None:
            continue
        claims = doc.get("claims") or []
        out[key] = {"notebook": nb, "profile": key[1], "status": "ok", "seconds": float(doc["seconds"]),
                    "device": doc.get("device"), "source": "results.json", "results": doc,
                    "claims_held": sum(bool(c.get("holds")) for c in claims), "claims_total": len(claims)}
    return out


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def performance_markdown(bench: Mapping[str, Any] | None, summaries: Mapping[tuple[str, str], Mapping[str, Any]],
                         notes: Mapping[str, str] | None = None, sources: Sequence[str] = (),
                         expected_notebooks: Sequence[str] | None = None) -> str:
    """The text of ``book/performance.md`` from a ``bench.json`` document and runner summary records.

    ``summaries`` maps ``(notebook, profile)`` to the runner's record; ``expected_notebooks`` (stems)
    are the notebooks a profile's total must include to be judged against its target.
    """
    notes = dict(notes or {})
    if bench is not None:
        notes = {**(bench.get("notes") or {}), **notes}
    lines = ["# Performance", "",
             "How fast the course trains, and what a full run costs. This page is generated by "
             "`helpers.bench.write_performance_page` from " + (", ".join(f"`{s}`" for s in sources) or "the JSON files")
             + "; no number on it is typed by hand.", ""]
    # --- benchmark
    lines += ["## Training speed: optimised path against fp32 eager", ""]
    if bench is None or not bench.get("rows"):
        lines += ["No benchmark has been run yet (`KERAS_BACKEND=torch python -m helpers.bench`).", ""]
    else:
        cmds = [c for c in (bench.get("commands") or [bench.get("command")]) if c]
        if cmds:
            lines += [f"Measured with {' and '.join(f'`{c}`' for c in cmds)} on {bench.get('created', '?')}.", ""]
        lines += [bench_markdown(bench), ""]
    # --- targets
    lines += ["## Targets", "",
              "The lite profile's GPU target stands for a free Colab T4, which this project cannot rent: a T4 has "
              "about 1/15 of an H200's bf16/fp16 throughput (65 against 989 TFLOP/s dense) and of its memory "
              "bandwidth (320 GB/s against 4.8 TB/s), so 10 minutes on a T4 is taken as at most "
              f"{TARGET_LITE_GPU_SECONDS:.0f} s on the H200 (start-up included, which does not scale).", "",
              "| target | measured | verdict |", "|---|---|---|"]
    device = (bench or {}).get("device") or ""
    on_h100 = "H100" in device
    for r in (bench or {}).get("rows", []):
        if r.get("framework") != "torch":
            continue
        s = r.get("speedup")
        ok = None if s is None else s >= TARGET_SPEEDUP
        what = "-" if s is None else f"{s:.2f}x on {device}"
        if ok is False:
            what += f" ({TARGET_SPEEDUP / s:.2f}x short)"
        verdict = _verdict(ok) if on_h100 or ok is None else "not measured on an H100"
        lines.append(f"| {r['model']}: optimised step >= {TARGET_SPEEDUP}x fp32 eager | {what} | {verdict} |")
    if not (bench or {}).get("busy"):
        lines.append(f"| GPU busy >= {100 * TARGET_BUSY:.0f} % in the notebooks' training loops | - | not measured |")
    for b in (bench or {}).get("busy", []):
        if b.get("reference"):  # not a notebook's loop: shown in the busy table, not a target
            continue
        f = b.get("busy_fraction")
        ok = None if f is None else f >= TARGET_BUSY
        what = "-" if f is None else f"{100 * f:.0f} % ({b.get('method')})"
        if ok is False:
            what += f", {100 * (TARGET_BUSY - f):.0f} points short"
        lines.append(f"| GPU busy >= {100 * TARGET_BUSY:.0f} %: {_f(b.get('loop'))} | {what} | {_verdict(ok)} |")
    for profile, limit, where in (("full", TARGET_FULL_SECONDS, "one H100"),
                                  ("smoke", TARGET_SMOKE_SECONDS, "2 CPU cores")):
        recs = [v for (nb, p), v in summaries.items() if p == profile]
        if not recs:
            lines.append(f"| all notebooks, {profile} profile, <= {limit / 60:.0f} min on {where} | - | not measured |")
            continue
        total = sum(float(v.get("seconds") or 0) for v in recs)
        bad = [v["notebook"] for v in recs if v.get("status") != "ok"]
        missing = sorted(set(expected_notebooks or ()) - {v["notebook"] for v in recs})
        ok = total <= limit and not bad
        devices = sorted({str(v.get("device")) for v in recs})
        what = f"{total / 60:.1f} min for {len(recs)} notebooks ({', '.join(devices)})"
        if total > limit:
            what += f", {(total - limit) / 60:.1f} min ({100 * (total / limit - 1):.0f} %) over"
        if bad:
            what += f"; not ok: {', '.join(bad)}"
        verdict = _verdict(ok)
        if missing:
            what += f"; not run: {', '.join(missing)}"
            verdict = _verdict(False) if not ok else "incomplete"
        lines.append(f"| all notebooks, {profile} profile, <= {limit / 60:.0f} min on {where} | {what} | {verdict} |")
    for column, limit, where in (("lite (CPU)", TARGET_LITE_CPU_SECONDS, "2 CPU cores"),
                                 ("lite (GPU)", TARGET_LITE_GPU_SECONDS, "one H200 (the free-Colab-T4 proxy)")):
        recs = sorted((v for (nb, p), v in summaries.items() if p == column and nb[:2] != "00"),
                      key=lambda v: v["notebook"])
        if not recs:
            lines.append(f"| each paper notebook, {column}, <= {_duration(limit)} on {where} | - | not measured |")
        for v in recs:
            sec = float(v.get("seconds") or 0)
            ok = sec <= limit and v.get("status") == "ok"
            what = f"{sec:.0f} s ({v.get('device')})" + ("" if v.get("status") == "ok" else f", {v.get('status')}")
            if sec > limit:
                what += f", {sec - limit:.0f} s over"
            lines.append(f"| {v['notebook']}, {column}, <= {_duration(limit)} on {where} | {what} | {_verdict(ok)} |")
    tph = None
    for (nb, p), v in summaries.items():
        m = ((v.get("results") or {}).get("metrics") or {}).get("trials_per_hour")
        if nb.startswith("03") and p == "full" and isinstance(m, Mapping):
            tph = m
    gain = None if not tph or not tph.get("1") or tph.get("4") is None else float(tph["4"]) / float(tph["1"])
    what = "-" if gain is None else f"{gain:.2f}x ({float(tph['4']):.0f} vs {float(tph['1']):.0f} trials/hour)"
    if gain is not None and gain < TARGET_PARALLEL_GAIN:
        what += f", {TARGET_PARALLEL_GAIN / gain:.2f}x short"
    lines.append(f"| notebook 3: 4 workers on one GPU >= {TARGET_PARALLEL_GAIN:g}x the trials/hour of 1 | {what} | "
                 f"{_verdict(None if gain is None else gain >= TARGET_PARALLEL_GAIN)} |")
    lines.append("")
    # --- cost
    lines += ["## The course's cost: wall time of every notebook", ""]
    if not summaries:
        lines += ["No runner summary yet (`python -m helpers.run --profile full`).", ""]
    else:
        profiles = [p for p in ("smoke", "lite (CPU)", "lite (GPU)", "full") if any(k[1] == p for k in summaries)]
        profiles += sorted({k[1] for k in summaries} - set(profiles))
        names = sorted({k[0] for k in summaries})
        lines += ["| notebook | " + " | ".join(f"{p} (s)" for p in profiles) + " |",
                  "|---|" + "---:|" * len(profiles)]
        for nb in names:
            cells = []
            for p in profiles:
                v = summaries.get((nb, p))
                if v is None:
                    cells.append("-")
                else:
                    status = "" if v.get("status") == "ok" else f" ({v.get('status')})"
                    mark = " *" if v.get("source") == "results.json" else ""
                    cells.append(f"{float(v.get('seconds') or 0):.0f}{status}{mark}")
            lines.append(f"| {nb} | " + " | ".join(cells) + " |")
        totals = [sum(float(v.get("seconds") or 0) for (nb, q), v in summaries.items() if q == p) for p in profiles]
        lines.append("| **total** | " + " | ".join(f"**{t:.0f}** ({t / 60:.1f} min)" for t in totals) + " |")
        devs = {p: sorted({str(v.get('device')) for (nb, q), v in summaries.items() if q == p}) for p in profiles}
        lines += ["", "Devices: " + "; ".join(f"{p}: {', '.join(d)}" for p, d in devs.items()) + ".", ""]
        if any(v.get("source") == "results.json" for v in summaries.values()):
            lines += ["\\* Not in the runner's summary: the notebook's own timer (`seconds` in its `results.json`), "
                      "which leaves out the kernel's start.", ""]
    if notes:
        lines += ["## Notes", ""] + [f"- **{k}**: {v}" for k, v in notes.items()] + [""]
    return "\n".join(lines)


def write_performance_page(bench_json: str | os.PathLike | None, summary_json: Any,
                           path: str | os.PathLike, *, notes: Mapping[str, str] | None = None,
                           expected_notebooks: Sequence[str] | None = None,
                           results_dir: str | os.PathLike | None = None) -> Path:
    """Write ``book/performance.md`` (``path``) from ``bench.json`` and the runner's ``summary.json``.

    Args:
        bench_json: the benchmark's JSON file (missing: the page says no benchmark was run).
        summary_json: ``results/summary.json`` of :mod:`helpers.run`, or several (e.g. a full and a
            smoke run's summaries); each record is keyed by notebook and profile, later files winning.
        path: the page to write.
        notes: ``{topic: text}`` explanations (why a target is missed, what would close it), merged
            over the bench JSON's own ``notes``.
        expected_notebooks: notebook stems every profile's total must include (e.g. those of
            ``notebooks/``); a profile that misses one is "incomplete" unless already over its target.
        results_dir: where ``<notebook>/results.json`` files are; an expected notebook missing from
            the summaries is then timed by its own ``results.json`` (marked on the page).
    """
    bench = None
    if bench_json is not None and Path(bench_json).is_file():
        bench = json.loads(Path(bench_json).read_text())
    src_list = [summary_json] if isinstance(summary_json, (str, os.PathLike)) else list(summary_json or [])
    sources = [_rel(Path(p)) for p in ([bench_json] if bench_json is not None else []) + src_list]
    summaries = _load_summaries(src_list)
    if results_dir is not None and expected_notebooks:
        extra = results_json_records(results_dir, expected_notebooks, summaries)
        summaries.update(extra)
        sources += [f"{_rel(Path(results_dir))}/<notebook>/results.json"] if extra else []
    text = performance_markdown(bench, summaries, notes=notes, sources=sources,
                                expected_notebooks=expected_notebooks)
    out = Path(path)
    atomic_write_text(out, text)
    return out


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return p.name


# ----------------------------------------------------------------------------- CLI


def _load_notes(path: str | os.PathLike | None) -> dict[str, str]:
    """``{topic: text}`` from a JSON file (none when it does not exist); anything else is an error."""
    if path is None or not Path(path).is_file():
        return {}
    notes = json.loads(Path(path).read_text())
    if not isinstance(notes, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in notes.items()):
        raise ValueError(f"{path} must hold a JSON object of topic -> text (both strings)")
    return notes


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m helpers.bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    p.add_argument("--quick", action="store_true", help="toy sizes: a fast check of every code path (CPU)")
    p.add_argument("--models", default=None, help="comma-separated subset of: " +
                   ", ".join(s.name for s in model_specs()))
    p.add_argument("--warmup", type=int, default=None, help="discarded steps per twin (default 5; quick 1)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per twin (default 20; quick 1)")
    p.add_argument("--compile", dest="compile", action="store_true", default=None,
                   help="measure the torch.compile twin (default on CUDA)")
    p.add_argument("--no-compile", dest="compile", action="store_false")
    p.add_argument("--compile-mode", default=None, help="torch.compile mode, e.g. reduce-overhead, max-autotune")
    p.add_argument("--keras-jit", action="store_true", help="also measure Keras' jit_compile=True twin")
    p.add_argument("--busy", dest="busy", action="store_true", default=None,
                   help="measure the GPU busy fraction of one notebook loop per framework (default on CUDA)")
    p.add_argument("--no-busy", dest="busy", action="store_false")
    p.add_argument("--busy-method", default="auto", choices=("auto", "nvml", "profiler"))
    p.add_argument("--busy-only", action="store_true",
                   help="measure only the busy loops, keeping every model row of --output (implies --busy --merge)")
    p.add_argument("--output", default=str(ROOT / "results" / "bench.json"), help="bench.json path (and .md beside)")
    p.add_argument("--merge", action="store_true",
                   help="keep the rows of models not measured now from an existing --output (split runs)")
    p.add_argument("--markdown", action="store_true", help="print the Markdown table at the end")
    p.add_argument("--page", default=None, help="also write the performance page here (e.g. book/performance.md)")
    p.add_argument("--page-only", action="store_true",
                   help="only write the page (--page, default book/performance.md) from the existing JSON files")
    p.add_argument("--notes", default=str(ROOT / "results" / "bench_notes.json"),
                   help="JSON {topic: text} shown under Notes on the page (why a target is missed, what would "
                        "close it); default results/bench_notes.json when it exists")
    p.add_argument("--summary", action="append", default=None,
                   help="runner summary JSON for the page (repeatable; default results/summary.json and, "
                        "when it exists, results/summary_smoke.json)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The runner merges by notebook, so each profile's (and lite's each device's) runs are kept in their own file.
    extra = [ROOT / "results" / f"summary_{k}.json" for k in ("smoke", "lite_cpu", "lite_gpu")]
    summaries = args.summary or [str(ROOT / "results" / "summary.json")] + [str(p) for p in extra if p.is_file()]
    expected = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    notes = _load_notes(args.notes)
    page_args = {"notes": notes, "expected_notebooks": expected, "results_dir": ROOT / "results"}
    if args.page_only:
        page = write_performance_page(args.output, summaries, args.page or ROOT / "book" / "performance.md",
                                      **page_args)
        print(f"wrote {page}")
        return 0
    if "keras" not in sys.modules:  # the backend is fixed when Keras is first imported
        os.environ["KERAS_BACKEND"] = "torch"
    import helpers  # noqa: F401  (Triton before TensorFlow, see helpers/__init__.py)

    command = "python -m helpers.bench" + ("" if argv is None and len(sys.argv) <= 1 else " " + " ".join(
        sys.argv[1:] if argv is None else list(argv)))
    if args.busy_only and args.models:
        raise SystemExit("--busy-only measures no model: leave out --models")
    models = [] if args.busy_only else ([m.strip() for m in args.models.split(",") if m.strip()] if args.models else None)
    if args.busy_only:
        args.busy, args.merge = True, True
    doc = run_bench(device=args.device, quick=args.quick, models=models,
                    warmup=args.warmup, steps=args.steps, compile=args.compile, compile_mode=args.compile_mode,
                    keras_jit=args.keras_jit, busy=args.busy, busy_method=args.busy_method, output=args.output,
                    command=("KERAS_BACKEND=torch " + command), merge=args.merge)
    print(f"wrote {args.output} and {Path(args.output).with_suffix('.md')} ({doc['seconds']:.0f} s)")
    if args.page:
        print(f"wrote {write_performance_page(args.output, summaries, args.page, **page_args)}")
    if args.markdown:
        print(bench_markdown(doc))
    failed = [r["model"] for r in doc["rows"] if r.get("errors")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
