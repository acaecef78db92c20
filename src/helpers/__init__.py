"""Shared code for the course *Deep learning for microscopy and materials images*.

Every notebook imports from this one package (the d2l habit). It is built in layers, each
importing only from the layers below it (README, "Architecture"):

* :mod:`helpers.core`: checks, runtime profiles, results and claims, resumable sweeps;
* shared ML: :mod:`helpers.data` (generated, public and your own images), :mod:`helpers.models`,
  :mod:`helpers.losses`, :mod:`helpers.metrics`, :mod:`helpers.augment`, :mod:`helpers.training`,
  :mod:`helpers.training_keras`, :mod:`helpers.plots`;
* :mod:`helpers.papers`: each paper's own code, one folder per notebook;
* :mod:`helpers.tools`: the runner, benchmark, scorecard, student copies, export and predict.

Submodules import their heavy dependencies (torch, keras) lazily, so ``import helpers`` is cheap
and a Keras notebook never pays for PyTorch.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec

__version__ = "0.1.0"

__all__ = ["__version__"]


def _load_triton_before_tensorflow() -> None:
    """TensorFlow and Triton (which PyTorch loads for its optimisers and ``torch.compile``) each
    bundle LLVM; loading Triton's library *after* TensorFlow's segfaults the process. Loading it
    first is safe and costs half a second, so a notebook that imports ``helpers`` before Keras can
    mix both frameworks in one kernel."""
    if "tensorflow" in sys.modules or find_spec("tensorflow") is None or find_spec("triton") is None:
        return
    try:
        import triton._C.libtriton  # noqa: F401
    except Exception:  # a broken Triton install must not break the course; torch will say more
        pass


_load_triton_before_tensorflow()


def _quiet_headless_runs() -> None:
    """Silence two messages that only say a headless, offline machine is one, and print file paths:
    albumentations' online version check, and tqdm.auto's notice that ipywidgets is missing (Optuna's
    bar then falls back to text; the package's own bars come from helpers.core.progress)."""
    import os
    import warnings

    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    warnings.filterwarnings("ignore", message="IProgress not found")


_quiet_headless_runs()
