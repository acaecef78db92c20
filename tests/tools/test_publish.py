"""One repository setting: everything that names the repository is generated from ``_config.yml``.

The first test checks the real repository (it fails until ``python -m helpers.tools.publish`` has been run
after a change of the setting, or after a hand edit of a generated part); the others run the generator on a
small copy of the repository.
"""

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from helpers.tools import publish as pub

ROOT = Path(__file__).resolve().parents[2]
FORK = "https://github.com/Some-Teacher/microscopy-course-fork"


def test_repository_agrees_with_its_setting():
    report = pub.publish(ROOT, check=True)
    listing = "\n".join(f"{path}: {p}" for path, ps in report.items() for p in ps)
    assert not report, f"generated parts disagree with _config.yml; run `python -m helpers.tools.publish`:\n{listing}"


def test_setting_is_read_from_config_and_pyproject():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    s = pub.load_settings(ROOT)
    assert s.url == config["repository"]["url"].rstrip("/")
    assert s.branch == config["repository"]["branch"]
    assert s.hub_url == config["launch_buttons"]["jupyterhub_url"].rstrip("/")
    assert s.distribution != "helpers"  # taken on PyPI; the import name stays helpers


def test_install_requirement_is_the_colab_extra_from_the_branch():
    s = pub.load_settings(ROOT)
    req = Requirement(pub.install_requirement(s))
    assert req.name == s.distribution and req.extras == {"colab"}
    assert req.url == f"git+{s.url}@{s.branch}"


def test_install_cell_does_nothing_off_colab_and_installs_on_colab(monkeypatch):
    s = pub.load_settings(ROOT)
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append((args, kw)))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(pub.install_cell_source(s), {})
    assert calls == []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(pub.install_cell_source(s), {})
    assert calls == [([sys.executable, "-m", "pip", "install", "-q", pub.install_requirement(s)], {"check": True})]


def test_links_are_built_from_the_setting():
    s = pub.Settings(url=FORK, branch="teaching", distribution="microscopy-dl-course", hub_url="https://hub.uni.example")
    assert pub.colab_link(s, "notebooks/00_a.ipynb") == (
        "https://colab.research.google.com/github/Some-Teacher/microscopy-course-fork/blob/teaching/notebooks/00_a.ipynb")
    assert pub.hub_link(s, "notebooks") == (
        "https://hub.uni.example/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2FSome-Teacher%2F"
        "microscopy-course-fork&branch=teaching&urlpath=lab%2Ftree%2Fmicroscopy-course-fork%2Fnotebooks")
    assert s.book_url == "https://some-teacher.github.io/microscopy-course-fork/"
    assert "git clone https://github.com/Some-Teacher/microscopy-course-fork.git\ncd microscopy-course-fork\n" in \
        pub.render_block("clone", s)


# ---------------------------------------------------------------------------------------------------------
# The generator on a copy of the repository


def _cell(src, tags=(), cell_id=None):
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {"tags": list(tags)}, "outputs": [],
            "source": src.splitlines(keepends=True)}
    if cell_id:
        cell["id"] = cell_id
    return cell


@pytest.fixture
def repo(tmp_path):
    """The setting, the pages, CITATION.cff and the exercises, plus one small main notebook."""
    for rel in ("_config.yml", "pyproject.toml", "README.md", "book/setup.md", "CITATION.cff"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    shutil.copytree(ROOT / "notebooks" / "exercises", tmp_path / "notebooks" / "exercises")
    s = pub.load_settings(ROOT)
    nb = {"cells": [_cell(pub.install_cell_source(s), ["remove-cell"], "a1"),
                    {"cell_type": "markdown", "id": "a2", "metadata": {}, "source": ["# A notebook\n"]},
                    _cell("x = 1\n", ["parameters"], "a3")],
          "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "notebooks" / "00_small.ipynb").write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    # The copy's README table lists the copy's notebooks: bring it up to date before the tests change anything.
    assert pub.main(["--root", str(tmp_path)]) == 0
    return tmp_path


def _set_repository(root, url, branch):
    config = root / "_config.yml"
    text = config.read_text()
    old = yaml.safe_load(text)["repository"]
    config.write_text(text.replace(f"url: {old['url']}", f"url: {url}").replace(f"branch: {old['branch']}",
                                                                               f"branch: {branch}"))


def test_changing_the_setting_is_caught_then_regenerated(repo, capsys):
    _set_repository(repo, FORK, "teaching")
    report = pub.publish(repo, check=True)
    assert set(report) == {p.relative_to(repo).as_posix() for p in pub.targets(repo)}  # every target disagrees
    assert pub.main(["--check", "--root", str(repo)]) == 1
    assert "notebooks/exercises/01_grain_boundary_exercises.ipynb: Colab install cell differs" in capsys.readouterr().out

    before = {p: json.loads(p.read_text()) for p in (repo / "notebooks").rglob("*.ipynb")}
    assert pub.main(["--root", str(repo)]) == 0
    assert pub.publish(repo, check=True) == {}
    for path, old in before.items():
        new = json.loads(path.read_text())
        assert "".join(new["cells"][0]["source"]).endswith(
            f'"microscopy-dl-course[colab] @ git+{FORK}@teaching"], check=True)')
        assert new["cells"][1:] == old["cells"][1:] and new["metadata"] == old["metadata"]  # only the cell changes
    readme = (repo / "README.md").read_text()
    assert "colab.research.google.com/github/Some-Teacher/microscopy-course-fork/blob/teaching/notebooks/00_small" \
        in readme
    assert "microscopy-dl-course/course" not in readme  # the old address is gone
    setup = (repo / "book" / "setup.md").read_text()
    assert f"git clone {FORK}.git" in setup and f"git+{FORK}@teaching" in setup
    assert f'repository-code: "{FORK}"' in (repo / "CITATION.cff").read_text()

    snapshot = {p: p.read_bytes() for p in pub.targets(repo)}
    assert pub.main(["--root", str(repo)]) == 0
    assert {p: p.read_bytes() for p in pub.targets(repo)} == snapshot  # a second run changes nothing


def test_a_hand_edited_install_cell_is_detected(repo):
    path = repo / "notebooks" / "exercises" / "02_pspnet_augmentation_exercises.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][0]["source"] = [line.replace("[colab]", "[all]") for line in nb["cells"][0]["source"]]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    assert pub.publish(repo, check=True) == {path.relative_to(repo).as_posix():
                                             ["Colab install cell differs from the generated one"]}
    pub.publish(repo, only=["notebooks/exercises"])
    assert pub.publish(repo, check=True) == {}


def test_a_missing_tag_or_cell_is_restored(repo):
    path = repo / "notebooks" / "00_small.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][0]["metadata"]["tags"] = []
    path.write_text(json.dumps(nb))
    assert pub.publish(repo, check=True)["notebooks/00_small.ipynb"] == [
        "Colab install cell lacks the tag 'remove-cell'"]
    nb["cells"] = nb["cells"][1:]
    path.write_text(json.dumps(nb))
    assert pub.publish(repo, check=True)["notebooks/00_small.ipynb"] == ["first cell is not the Colab install cell"]
    pub.publish(repo)
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["metadata"]["tags"] == ["remove-cell"] and cells[0]["id"] == pub.INSTALL_CELL_ID
    assert cells[1]["source"] == ["# A notebook\n"]


def test_hand_edits_of_pages_are_detected(repo):
    setup = repo / "book" / "setup.md"
    text = setup.read_text()
    setup.write_text(text.replace("cd course\n", "cd elsewhere\n"))
    assert pub.publish(repo, check=True) == {"book/setup.md": ["block 'clone' differs from the generated one"]}
    pub.publish(repo)
    assert setup.read_text() == text

    readme = repo / "README.md"
    original = readme.read_text()
    # an address written by hand outside the generated blocks cannot be regenerated: it is reported
    readme.write_text(original + "\nOr `pip install git+https://github.com/old-owner/course@main`.\n")
    problems = pub.publish(repo, check=True)["README.md"]
    assert len(problems) == 1 and "old-owner/course" in problems[0]
    assert pub.main(["--root", str(repo)]) == 1
    # dropping a block's markers is reported too
    readme.write_text(original.replace("<!-- publish:end open-notebooks -->\n", ""))
    problems = pub.publish(repo, check=True)["README.md"]
    assert any("unpaired" in p for p in problems) and any("'open-notebooks' is missing" in p for p in problems)


def test_a_hand_written_address_in_a_notebook_is_reported(repo):
    path = repo / "notebooks" / "00_small.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": [
        "[Open in Colab](https://colab.research.google.com/github/old-owner/course/blob/main/notebooks/00_small.ipynb)"]})
    path.write_text(json.dumps(nb))
    problems = pub.publish(repo, check=True)["notebooks/00_small.ipynb"]
    assert len(problems) == 1 and problems[0].startswith("cell 3: hand-written address")


@pytest.mark.parametrize("url, branch, message", [
    ("https://gitlab.com/owner/course", "main", "GitHub repository"),
    ("not a url", "main", "repository.url"),
    ("https://github.com/owner/course", "", "repository.branch"),
])
def test_a_bad_setting_is_refused(repo, url, branch, message):
    _set_repository(repo, url, branch)
    with pytest.raises(ValueError, match=message):
        pub.publish(repo, check=True)
