"""Profiles, devices, seeds and the facts a notebook reports about where it ran.

The notebook contract (``CONTRIBUTING.md``) gives every notebook a ``profile`` parameter:

* ``"smoke"`` proves the notebook runs end to end on two CPU cores in minutes (tests, CI); its
  numbers mean nothing and it is only chosen explicitly;
* ``"lite"`` gives a learner the paper's headline experiment at reduced scale within a class period
  (at most 20 minutes on two CPU cores, 10 on a free Colab T4);
* ``"full"`` reproduces the paper's experiments at their scale on one large GPU;
* ``"auto"`` picks ``"full"`` on a GPU with at least :data:`FULL_MIN_GPU_GB` GB of memory and
  ``"lite"`` everywhere else, and says what it picked and why.
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

from helpers.core.checks import check_choice, check_seed

PROFILES = ("auto", "smoke", "lite", "full")
RESOLVED_PROFILES = ("smoke", "lite", "full")
# The full profile's sweeps hold several models at once; below this much GPU memory (a free Colab T4 has
# 15 GB) they would not fit, or would take hours, so auto falls back to lite.
FULL_MIN_GPU_GB = 40.0
T = TypeVar("T")


def gpu_available() -> bool:
    """True when PyTorch sees a CUDA GPU (False when torch is not installed)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def gpu_memory_gb() -> float | None:
    """Memory of the first visible CUDA GPU in GiB, or None without one."""
    if not gpu_available():
        return None
    import torch

    return torch.cuda.get_device_properties(0).total_memory / 2**30


def auto_profile(memory_gb: float | None) -> tuple[str, str]:
    """The profile ``"auto"`` stands for on a machine whose GPU has ``memory_gb`` GiB (None: no GPU), and why.

    Example:
        >>> auto_profile(80.0)[0], auto_profile(15.0)[0], auto_profile(None)[0]
        ('full', 'lite', 'lite')
    """
    if memory_gb is None:
        return "lite", ("no GPU visible: the lite profile (the paper's headline experiment at reduced scale, "
                        "at most about 20 minutes on two CPU cores)")
    if memory_gb >= FULL_MIN_GPU_GB:
        return "full", f"a GPU with {memory_gb:.0f} GB (>= {FULL_MIN_GPU_GB:.0f} GB): the full profile, the paper's scale"
    return "lite", (f"a GPU with {memory_gb:.0f} GB (< {FULL_MIN_GPU_GB:.0f} GB needed for the full profile): the "
                    "lite profile, the paper's headline experiment at reduced scale")


def resolve_profile(profile: str = "auto") -> str:
    """Turn ``"auto"`` into ``"full"`` or ``"lite"`` (see :func:`auto_profile`) and say why.

    Example:
        >>> resolve_profile("smoke")
        'smoke'
    """
    check_choice(profile, "profile", PROFILES)
    if profile != "auto":
        return profile
    chosen, why = auto_profile(gpu_memory_gb())
    print(f"profile auto -> {chosen}: {why}.")
    if chosen != "full":
        print(NO_GPU_HINT)
    return chosen


# What a reader without a large GPU sees when a notebook picks its profile: how to get the full one.
NO_GPU_HINT = ("For the paper's scale (profile = \"full\") you need a GPU with at least "
               f"{FULL_MIN_GPU_GB:.0f} GB; on Colab choose Runtime > Change runtime type and a large GPU, "
               "elsewhere see the book's setup page. You can also set profile = \"full\" yourself.")


def pick(profile: str, *, smoke: T, lite: T, full: T, override: T | None = None) -> T:
    """Choose a cost-changing size by profile; an explicit ``override`` wins.

    Example:
        >>> pick("smoke", smoke=2, lite=20, full=100)
        2
        >>> pick("lite", smoke=2, lite=20, full=100)
        20
        >>> pick("full", smoke=2, lite=20, full=100, override=7)
        7
    """
    check_choice(profile, "profile", RESOLVED_PROFILES)
    if override is not None:
        return override
    return {"smoke": smoke, "lite": lite, "full": full}[profile]


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
    "microscopy-dl-course", "numpy", "torch", "torchvision", "keras", "tensorflow", "tensorflow-cpu",
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
