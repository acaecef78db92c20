"""The two ways the course is installed for readers keep working, proved with pip's own resolver.

Colab: the install cell asks for ``<distribution>[colab]`` from the repository. Resolved against Colab's published
package list (``tests/fixtures/colab/``, its pins given to pip as constraints, as the packages already installed there
would be), it must not replace, upgrade or downgrade any package Colab ships, nor add a second TensorFlow or
another twin of a Colab package. A requirement of ours that Colab's pins cannot meet makes the resolution fail,
and so the test.

Binder / JupyterHub: the pip section of ``environment.yml`` must resolve on its Python (3.11) with one TensorFlow.

The resolving tests need the package index; they skip when it cannot be reached (CI reaches it). The course's own
package is resolved from a copy of this checkout, so they test the code as it is, not the pushed branch.
"""

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helpers.tools import publish as pub

ROOT = Path(__file__).resolve().parents[2]
COLAB_FREEZE = ROOT / "tests" / "fixtures" / "colab" / "pip-freeze.gpu.2026-06.txt"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Colab must keep its own builds of these; the course never installs one of them there.
NEVER_ON_COLAB = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "torch", "torchvision", "torchaudio", "keras",
                  "ipykernel", "ipython", "ipywidgets", "notebook", "nbclassic", "jupyter"}
NEVER_ON_COLAB_PREFIXES = ("jupyter", "tensorflow", "tf-", "torch", "nvidia-")
# Distributions that provide the same import package: a second one installed beside the first overwrites its files.
TWINS = [
    {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos", "tensorflow-rocm",
     "intel-tensorflow", "tf-nightly", "tf-nightly-cpu", "tf-nightly-gpu"},
    {"psycopg2", "psycopg2-binary"},
    {"opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless"},
    {"pillow", "pillow-simd"},
]
TENSORFLOWS = TWINS[0]
# What the notebooks import, by extra: Colab's list or the colab extra must provide each of them.
NOTEBOOK_EXTRAS = ("torch", "keras", "hpo", "augment")


def _colab_header() -> dict[str, str]:
    head = {}
    for line in COLAB_FREEZE.read_text().splitlines():
        m = re.match(r"# (Source|Python|Date \(\"image time\"\)): (.*)", line)
        if m:
            head[m.group(1).split(" ")[0].lower()] = m.group(2)
    return head


def colab_packages() -> dict[str, str | None]:
    """Colab's packages: canonical name -> pinned version (None for a direct URL, which pip cannot pin)."""
    out = {}
    for line in COLAB_FREEZE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        pins = [s.version for s in req.specifier if s.operator == "=="]
        out[canonicalize_name(req.name)] = pins[0] if pins else None
    return out


def _twins(name: str) -> set[str]:
    return next((group - {name} for group in TWINS if name in group), set())


def _names(requirements: list[str]) -> list[str]:
    return [canonicalize_name(Requirement(r).name) for r in requirements]


def _forbidden_on_colab(name: str) -> bool:
    return name in NEVER_ON_COLAB or name.startswith(NEVER_ON_COLAB_PREFIXES)


# ---------------------------------------------------------------------------------------------------------
# Offline checks of what is declared


def test_colab_list_says_where_and_when_it_is_from():
    head = _colab_header()
    assert re.search(r"googlecolab/backend-info, file pip-freeze\.gpu\.txt at commit [0-9a-f]{40}", head["source"])
    assert re.match(r"3\.1[2-9]\b", head["python"]), head["python"]
    month = re.search(r"(\w+) (20\d\d)", head["date"])
    assert month, head["date"]
    assert COLAB_FREEZE.name == "pip-freeze.gpu.2026-06.txt" and month.groups() == ("June", "2026")
    setup = (ROOT / "book" / "setup.md").read_text()
    assert COLAB_FREEZE.name in setup and "June 2026" in setup, "the setup page states the Colab image time"
    assert len(colab_packages()) > 500


def test_colab_extra_only_adds_what_colab_lacks():
    colab = colab_packages()
    extra = _names(PYPROJECT["project"]["optional-dependencies"]["colab"])
    assert extra, "the colab extra lists what the notebooks need beyond Colab's image"
    for name in extra:
        assert not _forbidden_on_colab(name), f"the colab extra must never install {name} over Colab's"
        assert name not in colab, f"Colab already ships {name} ({colab[name]}): leave it out of the colab extra"
        assert not _twins(name) & set(colab), f"{name} would be a second copy of Colab's {_twins(name) & set(colab)}"


def test_colab_provides_everything_the_notebooks_import():
    colab = set(colab_packages())
    extras = PYPROJECT["project"]["optional-dependencies"]
    extra = set(_names(extras["colab"]))
    needed = _names(PYPROJECT["project"]["dependencies"]) + [n for e in NOTEBOOK_EXTRAS for n in _names(extras[e])]
    missing = [n for n in needed if n not in colab and n not in extra and not _twins(n) & colab]
    assert not missing, f"neither Colab's image nor the colab extra provides {missing}"


def test_install_cell_asks_for_the_colab_extra_only():
    s = pub.load_settings(ROOT)
    req = Requirement(re.search(r'"([^"]+ @ git\+[^"]+)"', pub.install_cell_source(s)).group(1))
    assert req.name == PYPROJECT["project"]["name"] and req.extras == {"colab"}


def test_environment_yml_names_one_tensorflow_and_the_course():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e .[all]" in pip
    pins = [Requirement(p) for p in pip if not p.startswith("-e")]
    assert all(str(r.specifier).startswith("==") for r in pins), "environment.yml pins exact versions"
    assert [r.name for r in pins if canonicalize_name(r.name) in TENSORFLOWS] == ["tensorflow-cpu"]


# ---------------------------------------------------------------------------------------------------------
# Resolving with pip (needs the package index)


def _pip_env() -> dict[str, str]:
    # The machine's pip settings (extra indexes, local wheel folders, a global constraints file) would change
    # what resolves; only the index address and the certificates a network needs are kept.
    keep = {"PIP_INDEX_URL", "PIP_CERT", "PIP_CLIENT_CERT", "PIP_TRUSTED_HOST", "PIP_PROXY", "PIP_DEFAULT_TIMEOUT",
            "PIP_RETRIES"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in keep}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


@pytest.fixture(scope="module")
def index_reachable():
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    try:
        urllib.request.urlopen(f"{index}/pip/", timeout=20, context=context).close()
    except OSError as err:
        pytest.skip(f"the package index {index} cannot be reached ({err}); the install paths are checked in CI")


@pytest.fixture(scope="module")
def course_copy(tmp_path_factory):
    """The course's package as this checkout has it, outside the tree (a build leaves files beside it)."""
    dest = tmp_path_factory.mktemp("course") / "course"
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest


_PIP_PROGRESS = ("Collecting", "Downloading", "Using cached", "Obtaining", "Processing", "Installing build",
                 "Getting requirements", "Preparing metadata", "Requirement already")


def resolve(requirements: list[str], python: str, tmp_path: Path, constraints: list[str] = ()) -> dict[str, str]:
    """What ``pip install`` would install on Linux x86-64 with CPython ``python``: canonical name -> version."""
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--report",
           str(report), "--python-version", python, "--implementation", "cp", "--abi", f"cp{python.replace('.', '')}",
           "--only-binary=:all:"]
    # Colab and Binder run Ubuntu 22.04 (glibc 2.35): every manylinux tag up to it.
    cmd += [f"--platform=manylinux_2_{minor}_x86_64" for minor in range(35, 16, -1)]
    cmd += ["--platform=manylinux2014_x86_64", "--platform=linux_x86_64"]
    if constraints:
        (tmp_path / "constraints.txt").write_text("\n".join(constraints) + "\n")
        cmd += ["-c", str(tmp_path / "constraints.txt")]
    proc = subprocess.run(cmd + list(requirements), capture_output=True, text=True, env=_pip_env(), timeout=300)
    if proc.returncode != 0:
        # pip explains a conflict on stdout ("The conflict is caused by ...") among its progress lines.
        why = "\n".join(line for line in proc.stdout.splitlines()
                        if not line.lstrip().startswith(_PIP_PROGRESS) and "\u2501" not in line)
        pytest.fail(f"pip cannot resolve {requirements} for Python {python}:\n{why[-3000:]}\n{proc.stderr[-2000:]}")
    return {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]}


@pytest.mark.slow
@pytest.mark.network
def test_colab_install_keeps_every_colab_package(index_reachable, course_copy, tmp_path):
    colab = colab_packages()
    s = pub.load_settings(ROOT)
    req = Requirement(pub.install_requirement(s))
    # The cell's requirement with the repository replaced by this checkout.
    local = f"{req.name}[{','.join(sorted(req.extras))}] @ {course_copy.as_uri()}"
    pins = [f"{name}=={version}" for name, version in colab.items() if version is not None]
    python = re.match(r"\d+\.\d+", _colab_header()["python"]).group(0)
    installs = resolve([local], python, tmp_path, constraints=pins)

    changed = {n: (colab[n], v) for n, v in installs.items() if n in colab and colab[n] != v}
    assert not changed, f"the Colab install would replace these of Colab's packages (Colab's, ours): {changed}"
    added = {n: v for n, v in installs.items() if n not in colab}
    assert not [n for n in added if _forbidden_on_colab(n)], f"the Colab install would add {added}"
    twins = {n: _twins(n) & set(colab) for n in added if _twins(n) & set(colab)}
    assert not twins, f"the Colab install would add a second copy of Colab's packages: {twins}"
    assert not TENSORFLOWS & set(added), "a second TensorFlow distribution"
    # It did resolve what Colab lacks: the course itself and the colab extra.
    assert {canonicalize_name(req.name), *_names(PYPROJECT["project"]["optional-dependencies"]["colab"])} <= set(added)


@pytest.mark.slow
@pytest.mark.network
def test_environment_yml_resolves_on_its_python(index_reachable, course_copy, tmp_path):
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d.split("=", 1)[1] for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    extras = re.fullmatch(r"-e \.\[([\w,]+)\]", next(p for p in pip if p.startswith("-e"))).group(1)
    name = PYPROJECT["project"]["name"]
    pins = [p for p in pip if not p.startswith("-e")]
    installs = resolve(pins + [f"{name}[{extras}] @ {course_copy.as_uri()}"], python, tmp_path)

    for pin in map(Requirement, pins):
        got = installs.get(canonicalize_name(pin.name))
        assert got is not None and pin.specifier.contains(got), f"{pin} resolved to {got}"
    assert canonicalize_name(name) in installs
    assert sorted(TENSORFLOWS & set(installs)) == ["tensorflow-cpu"], "one TensorFlow distribution"
