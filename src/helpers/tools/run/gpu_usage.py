"""How busy the GPU was while a notebook ran: NVML sampled in a thread of the runner.

The runner watches each notebook's process from outside (the notebook itself is not touched): every
``interval`` seconds it reads NVML's utilisation of the notebook's GPUs (the share of NVML's last sample
period in which a kernel ran) and their memory in use. The mean over the readings is the notebook's
*GPU busy fraction* (issue 22's measure), the maximum memory its peak. Readings come from ``pynvml``
(the ``nvidia-ml-py`` distribution) when it is importable, else from ``nvidia-smi``; on a machine with
neither (a CPU seat) the figures are ``None``.

Notebooks that share one GPU (``--jobs`` above the number of GPUs) share its readings: each then
reports the busy fraction of the whole GPU while it ran, not its own share.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import Any

Reader = Callable[[], list[tuple[float, float]]]  # one (utilisation %, memory MiB) per GPU


def _gpu_indices(gpu: str | None, visible: str | None) -> list[int] | None:
    """NVML indices of the GPUs a notebook sees: ``gpu`` (the runner's choice), else
    ``CUDA_VISIBLE_DEVICES`` when it lists numbers, else ``None`` (all GPUs).

    Example:
        >>> _gpu_indices("1", None), _gpu_indices(None, "0,2"), _gpu_indices(None, None)
        ([1], [0, 2], None)
        >>> _gpu_indices(None, "GPU-5f3c")  # UUIDs: not mapped, so every GPU is read
    """
    spec = gpu if gpu is not None else visible
    if spec is None or not spec.strip():
        return None
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        return None
    return [int(p) for p in parts]


def _nvml_reader(indices: Sequence[int] | None) -> Reader | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in (indices if indices is not None else range(count))]
    except Exception:  # no driver, no device: NVML raises its own error classes
        return None
    if not handles:
        return None

    def read() -> list[tuple[float, float]]:
        return [(float(pynvml.nvmlDeviceGetUtilizationRates(h).gpu),
                 pynvml.nvmlDeviceGetMemoryInfo(h).used / 2**20) for h in handles]

    return read


def _smi_reader(indices: Sequence[int] | None) -> Reader | None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    cmd = [smi, "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"]
    if indices is not None:
        cmd += ["-i", ",".join(str(i) for i in indices)]

    def read() -> list[tuple[float, float]]:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True).stdout
        return [(float(u), float(m)) for u, m in (line.split(",") for line in out.strip().splitlines())]

    try:
        read()
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return read


def summarise_readings(readings: Sequence[Sequence[tuple[float, float]]], method: str | None) -> dict[str, Any]:
    """The record of a watch: mean busy fraction over readings and GPUs, peak memory of any GPU.

    Example:
        >>> summarise_readings([[(100.0, 900.0)], [(50.0, 1200.0)], [(0.0, 1000.0)]], "nvml")
        {'gpu_busy_fraction': 0.5, 'gpu_memory_peak_mib': 1200.0, 'gpu_samples': 3, 'gpu_monitor': 'nvml'}
        >>> summarise_readings([], None)["gpu_busy_fraction"] is None
        True
    """
    flat = [r for reading in readings for r in reading]
    if not flat:
        return {"gpu_busy_fraction": None, "gpu_memory_peak_mib": None, "gpu_samples": 0, "gpu_monitor": method}
    return {"gpu_busy_fraction": round(sum(u for u, _ in flat) / len(flat) / 100.0, 4),
            "gpu_memory_peak_mib": round(max(m for _, m in flat), 1),
            "gpu_samples": len(readings), "gpu_monitor": method}


class GpuUsage:
    """Sample the GPUs' utilisation and memory in a thread while a ``with`` block runs.

    Args:
        gpu: the ``CUDA_VISIBLE_DEVICES`` value the runner gives the notebook (``None``: inherited).
        visible: the runner's own ``CUDA_VISIBLE_DEVICES`` (used when ``gpu`` is ``None``).
        interval: seconds between readings (nvidia-smi's ``-lms 500`` is the usual 0.5 s).
        reader: a function returning one ``(utilisation %, memory MiB)`` per GPU (tests pass their own);
            default NVML, else nvidia-smi, else nothing.

    After the block, :attr:`record` holds :func:`summarise_readings`' dict.

    Example:
        >>> with GpuUsage(reader=lambda: [(80.0, 2048.0)], interval=0.01) as usage:
        ...     pass
        >>> usage.record["gpu_busy_fraction"], usage.record["gpu_monitor"]
        (0.8, 'given')
    """

    def __init__(self, gpu: str | None = None, visible: str | None = None, *, interval: float = 0.5,
                 reader: Reader | None = None) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
        self.interval = float(interval)
        self._indices = _gpu_indices(gpu, visible)
        self._reader, self.method = reader, ("given" if reader is not None else None)
        self._readings: list[list[tuple[float, float]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.record: dict[str, Any] = summarise_readings([], None)

    def _sample(self) -> None:
        while True:
            try:
                self._readings.append(self._reader())
            except Exception:  # a reading that fails (driver reset, nvidia-smi timeout) ends the watch
                return
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> GpuUsage:
        if self._reader is None:
            for method, make in (("nvml", _nvml_reader), ("nvidia-smi", _smi_reader)):
                self._reader = make(self._indices)
                if self._reader is not None:
                    self.method = method
                    break
        if self._reader is not None:
            self._thread = threading.Thread(target=self._sample, name="helpers-gpu-usage", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.record = summarise_readings(self._readings, self.method)
