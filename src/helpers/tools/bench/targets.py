"""The benchmark's yardsticks: the GPUs' dense bf16 peaks and the performance targets of issue 8.

The targets are judged on the book's performance page (:mod:`helpers.tools.bench.report`); the peaks turn
a measured TFLOP/s into a fraction of what the GPU can do (:func:`helpers.tools.bench.measure.derive_metrics`).
"""

from __future__ import annotations

__all__ = [
    "PEAK_BF16_TFLOPS", "TARGET_SPEEDUP", "TARGET_BUSY", "TARGET_FULL_SECONDS", "TARGET_SMOKE_SECONDS",
    "TARGET_LITE_CPU_SECONDS", "TARGET_LITE_GPU_SECONDS", "TARGET_PARALLEL_GAIN", "peak_bf16_tflops",
]

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
TARGET_FULL_SECONDS = 900.0   # all notebooks, full profile, one GPU (issue 22: one H200)
TARGET_NOTEBOOK_BUSY = 0.80   # each paper notebook's GPU busy fraction over its whole full run (issue 22)
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
