"""Fixtures of the tools' tests: a fake course repository for the notebook runner."""

import shutil
from pathlib import Path

import pytest

RUNNER_FIXTURES = Path(__file__).parents[1] / "fixtures" / "runner"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake course repository (pyproject.toml + the runner's fixture notebooks) as the working directory."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'fake'\n")
    shutil.copytree(RUNNER_FIXTURES, tmp_path / "notebooks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # auto -> smoke without importing torch
    return tmp_path
