"""Downloading public datasets: hash-checked, cached, or read from a local folder.

Files are fetched with pooch into ``$HELPERS_DATA_DIR`` (default ``~/.cache/helpers``) and
checked against the SHA-256 recorded here; pooch writes to a temporary file and moves it into
place only after the check, so a broken download never leaves a partial file in the cache.
Offline, pass ``data_root=`` pointing at a copy laid out like the public one.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from helpers.core.checks import check_dir

def data_dir() -> Path:
    """Where downloads are cached: ``$HELPERS_DATA_DIR`` or ``~/.cache/helpers``."""
    return Path(os.environ.get("HELPERS_DATA_DIR", Path.home() / ".cache" / "helpers")).expanduser()


def fetch_files(dataset: str, base_url: str, files: dict[str, str], remote_path=None,
                data_root: str | os.PathLike | None = None) -> Path:
    """Make ``files`` (relative path -> sha256) available locally and return their root folder.

    Args:
        dataset: name of the cache sub-folder.
        base_url: URL the remote paths are appended to.
        files: local relative path -> sha256.
        remote_path: function mapping a local relative path to the remote one (default: same).
        data_root: a local copy; its files are checked for presence (no download).

    Raises:
        ValueError: a key of ``files`` is absolute or climbs out of the folder with ``..``.
        FileNotFoundError: ``data_root`` lacks a file (named in the message).
        RuntimeError: a download failed (offline, or the hash did not match); the message names
            the URL and says how to use ``data_root`` instead.
    """
    for rel in files:  # a registry entry must stay inside the dataset folder (no path traversal)
        parts = PurePosixPath(str(rel).replace("\\", "/")).parts
        if not parts or parts[0] == "/" or ".." in parts or ":" in parts[0]:
            raise ValueError(f"files: {rel!r} is not a relative path inside the {dataset} folder; "
                             "expected e.g. 'train/images/1.png'")
    if data_root is not None:
        root = check_dir(data_root, "data_root")
        missing = [f for f in files if not (root / f).is_file()]
        if missing:
            raise FileNotFoundError(f"data_root {root} lacks {len(missing)} file(s) of {dataset}, e.g. {missing[:3]}")
        return root
    import pooch

    root = data_dir() / dataset
    remote_path = remote_path or (lambda rel: rel)
    for rel, sha in files.items():
        url = base_url + remote_path(rel)
        try:
            pooch.retrieve(url, known_hash=f"sha256:{sha}", fname=Path(rel).name, path=root / Path(rel).parent,
                           progressbar=False)
        except Exception as exc:
            raise RuntimeError(
                f"could not download {url} ({type(exc).__name__}: {exc}). If this machine is offline, "
                f"copy the {dataset} files to a folder and pass data_root=that folder."
            ) from exc
    return root
