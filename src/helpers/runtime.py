"""Profiles, devices, seeds and the facts a notebook reports about where it ran.

The notebook contract (``COURSE_SPEC.md`` section 3) gives every notebook a
``profile`` parameter: ``"smoke"`` proves the notebook runs end to end on two CPU
cores in minutes, ``"full"`` reproduces the paper at its scale on one GPU, and
``"auto"`` picks ``"full"`` when a GPU is visible and ``"smoke"`` otherwise.
"""

from __future__ import annotations

import os
import platform
import random
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .checks import check_choice, check_seed

PROFILES = ("auto", "smoke", "full")
T = TypeVar("T")


def gpu_available() -> bool:
    """True when PyTorch sees a CUDA GPU (False when torch is not installed)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def resolve_profile(profile: str = "auto") -> str:
    """Turn ``"auto"`` into ``"full"`` on a GPU machine and ``"smoke"`` elsewhere.

    Example:
        >>> resolve_profile("smoke")
        'smoke'
    """
    check_choice(profile, "profile", PROFILES)
    if profile == "auto":
        if gpu_available():
            return "full"
        print(NO_GPU_HINT)
        return "smoke"
    return profile


# What a reader without a GPU sees when a notebook picks its profile: how to get one.
NO_GPU_HINT = ("No GPU visible: running the smoke profile (small sizes, minutes on a CPU). For the paper's scale, "
               "on Colab choose Runtime > Change runtime type > GPU and run the notebook again; elsewhere see the "
               "book's setup page.")


def pick(profile: str, *, smoke: T, full: T, override: T | None = None) -> T:
    """Choose a cost-changing size by profile; an explicit ``override`` wins.

    Example:
        >>> pick("smoke", smoke=2, full=100)
        2
        >>> pick("full", smoke=2, full=100, override=7)
        7
    """
    check_choice(profile, "profile", ("smoke", "full"))
    if override is not None:
        return override
    return smoke if profile == "smoke" else full


def resolve_device(device: str | None = None) -> Any:
    """Return a ``torch.device``: the given one, else CUDA when available, else CPU.

    Raises:
        ValueError: ``device`` names CUDA on a machine without a GPU.
    """
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asks for a GPU but torch sees none; use 'cpu' or 'auto'")
    return dev


def seed_everything(seed: int, deterministic: bool = False) -> int:
    """Seed Python, NumPy, PyTorch and Keras (whichever are installed).

    Args:
        seed: a non-negative integer.
        deterministic: also ask PyTorch for deterministic kernels (slower on GPU;
            on CPU the course's runs are already repeatable).

    Returns:
        The seed, so a notebook can log it.
    """
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if "torch" in sys.modules or _importable("torch"):
        import torch

        torch.manual_seed(seed)
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
    if "keras" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)
    return seed


def _importable(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


def device_name() -> str:
    """A human name for the device the notebook runs on: the GPU's model or the CPU."""
    if gpu_available():
        import torch

        return torch.cuda.get_device_name(0)
    cpu = platform.processor() or platform.machine()
    return f"CPU ({cpu}, {os.cpu_count()} cores)"


def package_versions(names: tuple[str, ...] = (
    "helpers", "numpy", "torch", "torchvision", "keras", "tensorflow", "tensorflow-cpu",
    "albumentations", "optuna", "scikit-image", "scikit-learn", "matplotlib", "papermill",
)) -> dict[str, str]:
    """Installed version of each package (``"-"`` when absent)."""
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "-"
    return out


def environment_report() -> dict[str, Any]:
    """Python, packages, Keras backend, GPU: what a reader checks before a run."""
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_cores": os.cpu_count(),
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow (default)"),
        "gpu": None,
        "in_colab": "google.colab" in sys.modules,
        "packages": package_versions(),
    }
    if gpu_available():
        import torch

        props = torch.cuda.get_device_properties(0)
        report["gpu"] = {
            "name": props.name,
            "memory_gb": round(props.total_memory / 2**30, 1),
            "capability": f"{props.major}.{props.minor}",
            "bf16": bool(torch.cuda.is_bf16_supported()),
        }
    return report


def output_dir_for(notebook: str, output_dir: str | os.PathLike | None = None) -> Path:
    """The folder a notebook writes into: ``output_dir`` or ``results/<notebook stem>/``.

    Relative default paths are taken from the repository root when the notebook runs
    from ``notebooks/`` (so results land in the same place whoever runs it).
    """
    if output_dir is not None:
        path = Path(output_dir)
    else:
        here = Path.cwd()
        root = here.parent if here.name == "notebooks" else here
        path = root / "results" / Path(notebook).stem
    path.mkdir(parents=True, exist_ok=True)
    return path
