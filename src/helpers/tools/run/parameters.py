"""What each notebook is given: its profile (``auto`` resolved from the GPU) and its ``-p`` parameters.

``-p`` values are typed like papermill's CLI, and checked before anything runs: names must be
identifiers the runner does not set itself, values of the contract's parameters must be usable,
and every name must be declared by at least one notebook's ``parameters`` cell.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PROFILES = ("auto", "smoke", "lite", "full")
_RESERVED = ("profile", "output_dir")


def parse_value(text: str) -> Any:
    """Type a ``-p`` value the way papermill's CLI does, plus JSON/YAML lists and dicts.

    ``"3"`` -> 3, ``"1e-3"`` -> 0.001, ``"True"``/``"true"`` -> True, ``"None"``/``"null"`` -> None,
    ``"[1, 2]"`` -> [1, 2], anything else stays a string (``"yes"`` stays ``"yes"``).

    Example:
        >>> parse_value("3"), parse_value("0.5"), parse_value("false"), parse_value("none")
        (3, 0.5, False, None)
        >>> parse_value("[1, 2]"), parse_value("real")
        ([1, 2], 'real')
    """
    if not isinstance(text, str):
        return text
    s = text.strip()
    low = s.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low in ("none", "null", "~"):
        return None
    for cast in (int, float):
        try:
            return cast(s)
        except ValueError:
            pass
    if s[:1] in "[{" and s:
        try:
            return json.loads(s)
        except json.JSONDecodeError:
            try:
                import yaml

                value = yaml.safe_load(s)
                if isinstance(value, (list, dict)):
                    return value
            except Exception:  # noqa: BLE001 - anything unparsable stays a string
                pass
    return text


def _validate_name(name: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"parameter names must be Python identifiers, got {name!r}")
    if name in _RESERVED:
        flag = "--profile" if name == "profile" else "--output"
        raise ValueError(f"parameter {name!r} is set by the runner; use {flag} instead of -p {name}")


_DATA_SOURCES = ("synthetic", "real")


def _validate_values(params: Mapping[str, Any]) -> None:
    """Reject values of the contract's parameters (spec section 3) that no notebook can use."""
    from helpers.core.checks import check_choice, check_seed

    if "data_source" in params:
        check_choice(params["data_source"], "parameter data_source", _DATA_SOURCES)
    if "seed" in params:
        check_seed(params["seed"], "parameter seed")
    if "data_root" in params and params["data_root"] is not None and not isinstance(params["data_root"], str):
        raise ValueError(f"parameter data_root must be a folder path or None, got {params['data_root']!r}")


def declared_parameters(nb: str | os.PathLike) -> list[str] | None:
    """Names assigned in the notebook's ``parameters`` cell (``None`` when it has none)."""
    import ast

    import nbformat

    book = nbformat.read(str(nb), as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return None
            names = [t.id for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
                     for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                     if isinstance(t, ast.Name)]
            return sorted(set(names))
    return None


def _validate_declared(params: Mapping[str, Any], paths: Sequence[Path]) -> None:
    """A parameter that none of the notebooks declares is a typo papermill would only warn about."""
    if not params:
        return
    declared = [d for d in (declared_parameters(p) for p in paths) if d is not None]
    if not declared:
        return
    known = set().union(*declared)
    unknown = [name for name in params if name not in known]
    if unknown:
        names = ", ".join(p.stem for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
        raise ValueError(f"unknown parameter {unknown[0]!r} (-p {unknown[0]}): no notebook of {names} declares it "
                         f"in its parameters cell; known parameters: {', '.join(sorted(known))}")


# ------------------------------------------------------------------ devices


def _visible_gpus() -> list[str]:
    """GPU ids to hand out: ``CUDA_VISIBLE_DEVICES`` when set, else torch's device count.

    Torch is imported only when an NVIDIA/AMD device node or ``nvidia-smi`` exists.
    """
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [s.strip() for s in env.split(",") if s.strip()]
        # "-1" (or any invalid id) hides every GPU after it.
        return ids[: ids.index("-1")] if "-1" in ids else ids
    if not _may_have_gpu():
        return []
    try:
        import torch
    except ImportError:
        return []
    return [str(i) for i in range(torch.cuda.device_count())]


def _may_have_gpu() -> bool:
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None and env.strip() in ("", "-1"):
        return False
    return bool(
        shutil.which("nvidia-smi") or Path("/dev/nvidia0").exists() or Path("/dev/kfd").exists()
    )


def resolve_run_profile(profile: str) -> str:
    """``smoke``/``lite``/``full`` unchanged; ``auto`` -> ``full`` on a GPU of at least 40 GB, else ``lite``.

    Same rule as :func:`helpers.core.runtime.resolve_profile`, but torch is not imported on
    machines that have no GPU driver at all.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    if profile != "auto":
        return profile
    from helpers.core.runtime import auto_profile, gpu_memory_gb

    return auto_profile(gpu_memory_gb() if _may_have_gpu() else None)[0]
