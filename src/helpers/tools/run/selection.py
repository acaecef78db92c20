"""Which notebooks to run: the repository root, and command-line names turned into notebook paths."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path

DEFAULT_PATTERN = "[0-9][0-9]_*.ipynb"
_GLOB_CHARS = set("*?[")


def find_repo_root(start: str | os.PathLike | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the working directory) holding ``pyproject.toml``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return None


def _available(notebooks_dir: Path) -> list[Path]:
    return sorted(p for p in notebooks_dir.glob("*.ipynb") if not p.name.startswith("."))


def resolve_notebooks(
    names: Sequence[str | os.PathLike] | None = None,
    notebooks_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Turn command-line names into notebook paths, in the given order, without duplicates.

    Args:
        names: paths to ``.ipynb`` files, stems (``01_grain_boundary_unet``), numbers
            (``01``, meaning ``01_*``) or globs on the stem or file name (``0[12]*``).
            ``None`` or empty: every ``NN_*.ipynb`` of ``notebooks_dir``.
        notebooks_dir: where names are looked up; default ``<repo root>/notebooks``.

    Returns:
        Absolute paths of existing notebooks.

    Raises:
        ValueError: a name matches no notebook (the message lists the available ones),
            or there is no notebook to run.
        FileNotFoundError: the notebooks folder does not exist.
    """
    folder = _notebooks_dir(notebooks_dir, needed=not names or any(not Path(n).is_file() for n in names))
    if not names:
        found = sorted(folder.glob(DEFAULT_PATTERN))
        if not found:
            raise ValueError(f"no notebook matching {DEFAULT_PATTERN} in {folder}")
        return [p.resolve() for p in found]
    chosen: list[Path] = []
    for raw in names:
        path = Path(raw)
        if path.is_file():
            if path.suffix != ".ipynb":
                raise ValueError(f"{path} is not a notebook (.ipynb)")
            matches = [path]
        else:
            assert folder is not None
            matches = _match(str(raw), _available(folder))
            if not matches:
                listing = ", ".join(p.stem for p in _available(folder)) or "(none)"
                raise ValueError(f"unknown notebook {str(raw)!r} in {folder}; available: {listing}")
        for m in matches:
            m = m.resolve()
            if m not in chosen:
                chosen.append(m)
    return chosen


def _match(name: str, available: list[Path]) -> list[Path]:
    if "/" in name or os.sep in name:  # a path: only an existing file or a glob relative to the cwd
        if not _GLOB_CHARS & set(name):
            return []
        base = Path(name).anchor or "."
        pattern = name[len(Path(name).anchor):] if Path(name).anchor else name
        return sorted(p for p in Path(base).glob(pattern) if p.suffix == ".ipynb" and p.is_file())
    key = name[:-6] if name.endswith(".ipynb") else name
    if _GLOB_CHARS & set(key):
        return [p for p in available if fnmatch.fnmatch(p.stem, key) or fnmatch.fnmatch(p.name, key)]
    exact = [p for p in available if p.stem == key]
    if exact:
        return exact
    return [p for p in available if p.stem.startswith(key + "_")]


def _notebooks_dir(notebooks_dir: str | os.PathLike | None, needed: bool = True) -> Path | None:
    if notebooks_dir is not None:
        folder = Path(notebooks_dir)
    else:
        root = find_repo_root()
        if root is None:
            if not needed:
                return None
            raise FileNotFoundError(
                f"no pyproject.toml at or above {Path.cwd()}: run from inside the course repository "
                "or pass --notebooks-dir"
            )
        folder = root / "notebooks"
    if not folder.is_dir():
        if not needed:
            return None
        raise FileNotFoundError(f"notebooks folder {folder} does not exist")
    return folder.resolve()
