"""Training speed of every model of the course: the optimised GPU path against plain fp32 eager.

``python -m helpers.tools.bench`` trains each model of the notebooks at the notebooks' full sizes for a
few steps on synthetic batches and measures, in one run and for two twins of the same model:

* **fp32 eager**: PyTorch's defaults (float32, contiguous NCHW tensors, no ``torch.compile``,
  ``cudnn.benchmark`` off). Keras models: the ``float32`` dtype policy.
* **optimised**: bf16 autocast, ``channels_last`` model and images, ``cudnn.benchmark`` on,
  gradients released with ``set_to_none`` and no host synchronisation inside the timed steps;
  then the same once more with ``torch.compile`` of the model (as ``helpers.training.fit(compile=True)``
  does), whose compilation time is reported apart (``compile_seconds``: the wall time of the first
  compiled step) and kept out of the steady state. The faster of the two is the optimised figure
  (``optimized_variant`` says which). Keras models: the ``mixed_bfloat16`` policy
  (:func:`helpers.training_keras.configure_keras`), and with ``--keras-jit`` also ``jit_compile=True``
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
  ``helpers.papers.grain_boundary_unet.training.train_segmenter`` on the residual U-Net with NumPy arrays), plus a reference
  (the same PSPNet ``fit`` on images already on the GPU: what the data path costs), sampled from NVML
  when ``pynvml`` is importable, else the union of the CUDA kernels' intervals in a ``torch.profiler``
  trace over the loop's wall time.

Results go to ``results/bench.json`` (a ``rows`` list, one row per model, and a ``busy`` list) and
``results/bench.md``; :func:`write_performance_page` renders ``book/performance.md`` from that JSON and the
runner's ``results/summary.json``. Usage::

    KERAS_BACKEND=torch python -m helpers.tools.bench                   # every model, full sizes, on the GPU
    python -m helpers.tools.bench --models pspnet,dcn --no-busy         # a subset ...
    python -m helpers.tools.bench --models filler_cnn --merge           # ... and the rest into the same table
    python -m helpers.tools.bench --device cpu --quick --markdown       # every model at toy sizes (tests)
    python -m helpers.tools.bench --page-only                           # book/performance.md from the JSON files

The Keras models need ``KERAS_BACKEND=torch``; ``main`` sets it when Keras is not yet imported. A twin
that fails (an out-of-memory error, a compiler error) is recorded in its row's ``errors`` and the run goes
on; the exit status is then 1. ``bench.json`` is rewritten after every model, so a run cut short keeps
what it measured.

The code, by concern: :mod:`~helpers.tools.bench.targets` (GPU peaks, the targets),
:mod:`~helpers.tools.bench.measure` (timing, counting, the busy fraction), :mod:`~helpers.tools.bench.specs`
(the models and their sizes), :mod:`~helpers.tools.bench.probes` (one model's twins, the notebooks' busy
loops), :mod:`~helpers.tools.bench.suite` (the whole run into ``bench.json``), :mod:`~helpers.tools.bench.report`
(``bench.md`` and the book page) and :mod:`~helpers.tools.bench.cli` (the command line). This package
re-exports their public names.
"""

from __future__ import annotations

from helpers.tools.bench.cli import build_parser, main
from helpers.tools.bench.measure import (count_flops, count_host_syncs, derive_metrics, gpu_busy_fraction,
                                         interval_union, time_steps)
from helpers.tools.bench.probes import bench_model
from helpers.tools.bench.report import (ROOT, bench_markdown, performance_markdown, profile_column,
                                        results_json_records, write_performance_page)
from helpers.tools.bench.specs import ModelSpec, model_specs
from helpers.tools.bench.suite import SCHEMA, run_bench, write_bench
from helpers.tools.bench.targets import (PEAK_BF16_TFLOPS, TARGET_BUSY, TARGET_FULL_SECONDS, TARGET_LITE_CPU_SECONDS,
                                         TARGET_LITE_GPU_SECONDS, TARGET_PARALLEL_GAIN, TARGET_SMOKE_SECONDS,
                                         TARGET_SPEEDUP, peak_bf16_tflops)

__all__ = [
    "PEAK_BF16_TFLOPS", "TARGET_SPEEDUP", "TARGET_BUSY", "TARGET_FULL_SECONDS", "TARGET_SMOKE_SECONDS",
    "TARGET_LITE_CPU_SECONDS", "TARGET_LITE_GPU_SECONDS", "profile_column",
    "TARGET_PARALLEL_GAIN", "ModelSpec", "model_specs", "peak_bf16_tflops", "derive_metrics", "time_steps",
    "count_flops", "count_host_syncs", "interval_union", "gpu_busy_fraction", "bench_model", "run_bench",
    "bench_markdown",
    "write_bench", "performance_markdown", "write_performance_page", "build_parser", "main",
]
