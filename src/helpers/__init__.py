"""Shared code for the course *Deep learning for microscopy and materials images*.

Every notebook imports from this one package (the d2l habit): data generators and
loaders, models, losses, metrics, training loops, search, plots and the papermill
runner. Submodules import their heavy dependencies (torch, keras) lazily, so
``import helpers`` is cheap and a Keras notebook never pays for PyTorch.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
