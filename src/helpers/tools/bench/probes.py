"""The per-model probes: one model's fp32-eager, bf16 and compiled twins of its training step (PyTorch and
Keras on the torch backend) into one benchmark row (:func:`bench_model`), and the notebooks' own training
loops (notebook 02's PSPNet ``fit``, notebook 01's Keras ``train_segmenter``) watched for the GPU busy fraction.
"""

from __future__ import annotations

import math
import os
import time
import traceback
from collections.abc import Callable
from typing import Any

from helpers.tools.bench.measure import count_flops, count_host_syncs, derive_metrics, gpu_busy_fraction, time_steps
from helpers.tools.bench.specs import ModelSpec, model_specs

__all__ = ["bench_model"]


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

    from helpers.training_keras import configure_keras

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


# ----------------------------------------------------------------------------- busy loops


def _busy_torch(device: Any, quick: bool, method: str, resident: bool = False) -> dict[str, Any]:
    """Notebook 02's training loop: ``fit`` on PSPNet with the albumentations DataLoader.

    ``resident=True`` is its reference: the same ``fit`` on the same images already on the GPU (no
    DataLoader, no augmentation), so the two busy fractions show what the data path costs.
    """
    import warnings

    import torch

    from helpers.data.synthetic.scenes import synthetic_scenes
    from helpers.losses import main_aux_loss
    from helpers.models.pspnet import pspnet
    from helpers.papers.pspnet_augmentation.experiments import augmented_loader, default_workers, make_optimizer
    from helpers.training import fit

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

    from helpers.papers.grain_boundary_unet.training import train_segmenter
    from helpers.training_keras import configure_keras

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
    return {"loop": "helpers.papers.grain_boundary_unet.training.train_segmenter: residual U-Net d5 l7, NumPy arrays (notebook 01)",
            "framework": "keras (torch backend)", "batch": batch, "image_size": size,
            "steps": epochs * math.ceil(n / batch), **r}
