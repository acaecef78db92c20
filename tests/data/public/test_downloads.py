"""Downloads through :func:`helpers.data.public.download.fetch_files`, with pooch's HTTP layer replaced (no network).

Covers issue 10, item 2: every download is hash-checked; a corrupted or truncated download
(or one cut off halfway) raises and leaves no file, partial or temporary, in the cache; a
corrupted file already in the cache is fetched again; offline use says so and points to
``data_root``; registry paths cannot climb out of the cache folder. The course extracts no
archives itself (torchvision unpacks VOC), which a source scan pins down.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pooch.core
import pytest
import requests

from helpers.data.public import download, tbm
from helpers.data.public.download import fetch_files

BASE = "https://example.invalid/data/"
CONTENT = {"train/images/a.png": b"\x89PNG first image" * 20, "train/masks/a.png": b"\x89PNG first mask" * 20}
HASHES = {rel: hashlib.sha256(data).hexdigest() for rel, data in CONTENT.items()}


class FakeServer:
    """Stands in for pooch's HTTPDownloader: serves bytes from a dict, records the requests."""

    def __init__(self, files: dict[str, bytes], *, truncate: bool = False, fail_after: int | None = None,
                 offline: bool = False):
        self.files, self.truncate, self.fail_after, self.offline = files, truncate, fail_after, offline
        self.requests: list[str] = []

    def __call__(self, url: str, output_file, pooch_obj) -> None:
        self.requests.append(url)
        if self.offline:
            raise requests.exceptions.ConnectionError(f"Failed to resolve '{url.split('/')[2]}'")
        data = self.files[url[len(BASE):]]
        if self.truncate:
            data = data[: len(data) // 2]
        with open(output_file, "wb") as fh:
            if self.fail_after is not None:  # the connection drops halfway through
                fh.write(data[: self.fail_after])
                fh.flush()
                raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")
            fh.write(data)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HELPERS_DATA_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def serve(monkeypatch, server: FakeServer) -> FakeServer:
    monkeypatch.setattr(pooch.core, "choose_downloader", lambda url, progressbar=False: server)
    return server


def cached_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_good_download_is_cached_and_not_fetched_again(cache, monkeypatch):
    server = serve(monkeypatch, FakeServer(CONTENT))
    root = fetch_files("toy", BASE, HASHES)
    assert root == cache / "toy"
    assert cached_files(root) == sorted(CONTENT)
    assert (root / "train/images/a.png").read_bytes() == CONTENT["train/images/a.png"]
    fetch_files("toy", BASE, HASHES)
    assert len(server.requests) == 2  # the second call found both files with the right hash


def test_hash_mismatch_raises_and_leaves_nothing(cache, monkeypatch):
    tampered = {**CONTENT, "train/masks/a.png": b"something else entirely"}
    serve(monkeypatch, FakeServer(tampered))
    with pytest.raises(RuntimeError, match=r"could not download https://example.invalid/data/train/masks/a\.png "
                                           r"\(ValueError: .*hash.*does not match"):
        fetch_files("toy", BASE, HASHES)
    assert cached_files(cache / "toy") == ["train/images/a.png"]  # the good file stays; no trace of the bad one


def test_truncated_download_raises_and_leaves_no_partial_file(cache, monkeypatch):
    serve(monkeypatch, FakeServer(CONTENT, truncate=True))
    with pytest.raises(RuntimeError, match=r"could not download .*train/images/a\.png"):
        fetch_files("toy", BASE, HASHES)
    assert cached_files(cache / "toy") == []  # no partial file, no pooch temporary file


def test_connection_dropped_midway_leaves_no_partial_file(cache, monkeypatch):
    serve(monkeypatch, FakeServer(CONTENT, fail_after=10))
    with pytest.raises(RuntimeError, match=r"ChunkedEncodingError"):
        fetch_files("toy", BASE, HASHES)
    assert cached_files(cache / "toy") == []


def test_corrupted_cache_file_is_downloaded_again(cache, monkeypatch):
    server = serve(monkeypatch, FakeServer(CONTENT))
    root = fetch_files("toy", BASE, HASHES)
    (root / "train/images/a.png").write_bytes(b"bit rot")  # e.g. a disk error or an edited file
    fetch_files("toy", BASE, HASHES)
    assert (root / "train/images/a.png").read_bytes() == CONTENT["train/images/a.png"]
    assert server.requests.count(BASE + "train/images/a.png") == 2


def test_offline_says_so_and_points_to_data_root(cache, monkeypatch):
    serve(monkeypatch, FakeServer(CONTENT, offline=True))
    with pytest.raises(RuntimeError, match=r"ConnectionError.*If this machine is offline, copy the toy files to a "
                                           r"folder and pass data_root=that folder"):
        fetch_files("toy", BASE, HASHES)
    assert cached_files(cache / "toy") == []


def test_offline_tbm_loader_points_to_data_root(cache, monkeypatch):
    serve(monkeypatch, FakeServer({}, offline=True))
    with pytest.raises(RuntimeError, match=r"tbm_grain_boundaries files .* data_root="):
        tbm.load_tbm_grain_boundaries("test")


def test_data_root_is_used_without_any_download(tmp_path, monkeypatch):
    server = serve(monkeypatch, FakeServer(CONTENT, offline=True))
    for rel, data in CONTENT.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    assert fetch_files("toy", BASE, HASHES, data_root=tmp_path) == tmp_path
    assert server.requests == []


@pytest.mark.parametrize("rel", ["../escape.png", "train/../../escape.png", "/etc/passwd", "C:/evil.png",
                                 "..\\..\\escape.png"])
def test_registry_paths_cannot_leave_the_cache(cache, monkeypatch, rel):
    server = serve(monkeypatch, FakeServer({rel: b"x"}))
    with pytest.raises(ValueError, match=r"files: .* is not a relative path inside the toy folder"):
        fetch_files("toy", BASE, {rel: hashlib.sha256(b"x").hexdigest()})
    assert server.requests == [] and not (cache.parent / "escape.png").exists()


def test_no_archive_is_extracted_by_the_course():
    # Archive members could carry "../" paths; the course downloads single files only. If an
    # extraction is ever added, it must use a safe filter (tarfile's filter="data") and a test.
    src = Path(__file__).resolve().parents[3] / "src"
    pattern = re.compile(r"\b(tarfile|zipfile|extractall|Untar|Unzip|shutil\.unpack_archive)\b")
    hits = [f"{p.relative_to(src)}:{i}" for p in src.rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == [], f"archive extraction found, add a path-traversal test for it: {hits}"


def test_every_registered_file_has_a_sha256():
    from helpers.data.public import isbi, sstem

    registries = {"tbm": tbm.TBM_FILES}
    registries.update({name: getattr(mod, name) for mod in (isbi, sstem) for name in dir(mod)
                       if name.endswith("_FILES") and isinstance(getattr(mod, name), dict)})
    assert len(registries) >= 2
    for name, files in registries.items():
        for rel, sha in files.items():
            assert re.fullmatch(r"[0-9a-f]{64}", sha), (name, rel, sha)
