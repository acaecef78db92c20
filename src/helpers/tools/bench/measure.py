"""Measurement utilities that know nothing of the course's models: the arithmetic of a benchmark row,
step timing, FLOP and host-synchronisation counting, and the GPU busy fraction of any piece of work.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["derive_metrics", "interval_union", "time_steps", "count_host_syncs", "count_flops",
           "gpu_busy_fraction"]


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
