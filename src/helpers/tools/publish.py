"""One repository setting; every place that names the repository is generated from it.

The repository's address and branch live in ``_config.yml`` only (``repository.url``, ``repository.branch``;
Jupyter Book's launch buttons read them there too), the hub's address in ``launch_buttons.jupyterhub_url``
and the distribution name in ``pyproject.toml``. From them this tool writes:

- the first cell of every notebook in ``notebooks/`` and ``notebooks/exercises/``: the Colab install cell
  (tag ``remove-cell``), which pip-installs ``<distribution>[colab] @ git+<url>@<branch>`` on Colab only;
- the blocks between ``<!-- publish:begin NAME -->`` and ``<!-- publish:end NAME -->`` in ``README.md`` and
  ``book/setup.md``: Colab and JupyterHub (nbgitpuller) links, the clone command, the Colab install command;
- ``repository-code`` and ``url`` in ``CITATION.cff``.

Run it after changing the setting; ``--check`` writes nothing and exits with status 1, listing every place
that disagrees (also a course URL written by hand outside the generated parts)::

    python -m helpers.tools.publish                 # rewrite everything
    python -m helpers.tools.publish README.md       # only these files or folders
    python -m helpers.tools.publish --check
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urlparse

from helpers.core.checks import check_dir, check_file
from helpers.core.results import atomic_write_text

ROOT = Path(__file__).resolve().parents[3]
INSTALL_TAG = "remove-cell"
INSTALL_CELL_ID = "colab-install"
COLAB_URL = "https://colab.research.google.com"
# Which generated blocks each page must carry (a page may not drop one silently).
PAGE_BLOCKS = {
    "README.md": ("open-notebooks",),
    "book/setup.md": ("colab-install", "clone", "hub-link"),
}
CITATION = "CITATION.cff"
NOTEBOOK_DIRS = ("notebooks", "notebooks/exercises")
_BLOCK = re.compile(r"(<!-- publish:begin (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- publish:end (?P=name) -->)", re.S)
_MARKER = re.compile(r"<!-- publish:(?:begin|end) [\w-]+ -->")
# Course addresses a person might write by hand: an install from git, a clone, a Colab or an nbgitpuller link.
# Each names the repository as a URL, except Colab's, which names OWNER/NAME.
_HAND_URLS = (
    ("url", re.compile(r"git\+(https?://[^\s\"'@]+)")),
    ("url", re.compile(r"git clone\s+(https?://\S+?)(?:\.git)?(?=\s|$|`)")),
    ("owner_repo", re.compile(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/")),
    ("quoted_url", re.compile(r"git-pull\?repo=([^&\s)\"'>]+)")),
)


@dataclass(frozen=True)
class Settings:
    """What the generated parts are made from (all of it read from ``_config.yml`` and ``pyproject.toml``)."""

    url: str
    branch: str
    distribution: str
    hub_url: str
    colab_url: str = COLAB_URL
    interface: str = "jupyterlab"

    @property
    def owner_repo(self) -> str:
        """``owner/name`` of a GitHub repository (Colab opens notebooks from GitHub only)."""
        parts = urlparse(self.url)
        path = parts.path.strip("/")
        if parts.netloc != "github.com" or path.count("/") != 1:
            raise ValueError(f"repository.url must be a GitHub repository (https://github.com/OWNER/NAME) for Colab "
                             f"links, got {self.url!r}")
        return path

    @property
    def repo_name(self) -> str:
        """The folder a clone makes (and nbgitpuller pulls into)."""
        return urlparse(self.url).path.strip("/").rsplit("/", 1)[-1]

    @property
    def book_url(self) -> str:
        """Where GitHub Pages serves the book built from this repository."""
        owner, name = self.owner_repo.split("/")
        return f"https://{owner.lower()}.github.io/{name}/"


def _clean_url(value: Any, key: str) -> str:
    if not isinstance(value, str) or not re.match(r"https?://[^\s/]+", value):
        raise ValueError(f"_config.yml: {key} must be an http(s) address, got {value!r}")
    return value.strip().rstrip("/").removesuffix(".git")


def load_settings(root: str | Path = ROOT) -> Settings:
    """Read the repository setting from ``root/_config.yml`` and the distribution name from ``pyproject.toml``.

    Raises:
        FileNotFoundError: either file is missing.
        ValueError: the URL, branch or distribution name is missing or malformed.
    """
    import yaml

    root = check_dir(root, "root")
    config = yaml.safe_load(check_file(root / "_config.yml", "_config.yml").read_text()) or {}
    repo = config.get("repository") or {}
    launch = config.get("launch_buttons") or {}
    url = _clean_url(repo.get("url"), "repository.url")
    branch = repo.get("branch")
    if not isinstance(branch, str) or not re.fullmatch(r"[\w./-]+", branch):
        raise ValueError(f"_config.yml: repository.branch must be a branch name, got {branch!r}")
    hub = _clean_url(launch.get("jupyterhub_url", "https://jupyterhub.example.org"), "launch_buttons.jupyterhub_url")
    colab = _clean_url(launch.get("colab_url", COLAB_URL), "launch_buttons.colab_url")
    interface = launch.get("notebook_interface", "jupyterlab")
    settings = Settings(url=url, branch=branch, distribution=distribution_name(root), hub_url=hub,
                        colab_url=colab, interface=interface)
    settings.owner_repo  # noqa: B018 (raises now, not halfway through a rewrite, when Colab cannot open it)
    return settings


def distribution_name(root: str | Path = ROOT) -> str:
    """``[project] name`` of ``root/pyproject.toml``."""
    text = check_file(Path(root) / "pyproject.toml", "pyproject.toml").read_text()
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the one key is found by hand
        m = re.search(r'^\[project\][^\[]*?^name\s*=\s*"([^"]+)"', text, re.M | re.S)
        name = m.group(1) if m else None
    else:
        name = tomllib.loads(text).get("project", {}).get("name")
    if not name:
        raise ValueError("pyproject.toml has no [project] name")
    return name


# ---------------------------------------------------------------------------------------------------------
# What is generated


def install_requirement(s: Settings) -> str:
    """The pip requirement the Colab cell installs: only the ``colab`` extra, from the configured branch."""
    return f"{s.distribution}[colab] @ git+{s.url}@{s.branch}"


def install_cell_source(s: Settings) -> str:
    """Source of the first cell of every notebook."""
    return (
        "# Colab only: install the course's helpers package from its repository (does nothing elsewhere).\n"
        "# Written by `python -m helpers.tools.publish` from _config.yml: change the repository there.\n"
        "import subprocess, sys\n"
        "if \"google.colab\" in sys.modules:\n"
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\",\n"
        f"                    \"{install_requirement(s)}\"], check=True)"
    )


def colab_link(s: Settings, path: str) -> str:
    """Colab's address for the notebook at ``path`` (relative to the repository root) on the branch."""
    return f"{s.colab_url}/github/{s.owner_repo}/blob/{s.branch}/{path}"


def hub_link(s: Settings, path: str) -> str:
    """An nbgitpuller link: the hub clones (or updates) the repository, then opens ``path`` in it."""
    ui = "lab/tree" if s.interface == "jupyterlab" else "tree"
    query = urlencode({"repo": s.url, "branch": s.branch, "urlpath": f"{ui}/{s.repo_name}/{path}"})
    return f"{s.hub_url}/hub/user-redirect/git-pull?{query}"


def _main_notebooks(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def render_block(name: str, s: Settings, root: str | Path = ROOT) -> str:
    """The text between the markers of block ``name`` (ends with a newline).

    Raises:
        ValueError: no such block.
    """
    root = Path(root)
    if name == "open-notebooks":
        rows = [f"| `{Path(p).stem}` | [Colab]({colab_link(s, p)}) | [JupyterHub]({hub_link(s, p)}) |"
                for p in _main_notebooks(root)]
        return "\n".join([
            f"Repository: <{s.url}> (branch `{s.branch}`); book: <{s.book_url}>.",
            "",
            "| notebook | Colab | your JupyterHub (nbgitpuller) |",
            "|---|---|---|",
            *rows,
            "",
            ("The exercises open the same way from `notebooks/exercises/`. The JupyterHub links go to the hub named "
             f"in `_config.yml` ({s.hub_url}): set yours there and regenerate."),
        ]) + "\n"
    if name == "colab-install":
        return ("```bash\n"
                "# what the first cell runs on Colab, and only there\n"
                f"pip install -q \"{install_requirement(s)}\"\n"
                "```\n")
    if name == "clone":
        return ("```bash\n"
                f"git clone {s.url}.git\n"
                f"cd {s.repo_name}\n"
                "```\n")
    if name == "hub-link":
        return (f"With [nbgitpuller](https://github.com/jupyterhub/nbgitpuller) on the hub, this link clones the "
                f"course into each user's home (or updates their copy, keeping their changes) and opens its "
                f"notebooks folder: [open the course on {s.hub_url}]({hub_link(s, 'notebooks')}).\n")
    raise ValueError(f"unknown generated block {name!r}; known: open-notebooks, colab-install, clone, hub-link")


def _citation_lines(s: Settings) -> dict[str, str]:
    return {"repository-code": f'repository-code: "{s.url}"', "url": f'url: "{s.book_url}"'}


# ---------------------------------------------------------------------------------------------------------
# Checking and writing


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _as_lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _write_notebook(path: Path, nb: dict[str, Any]) -> None:
    # The layout nbformat and papermill write (indent 1, unicode kept), so a rewrite changes only the cell.
    atomic_write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def sync_notebook(path: str | Path, s: Settings, write: bool = False) -> list[str]:
    """Compare (and with ``write``, fix) the Colab install cell of one notebook; returns the problems found."""
    path = check_file(path, "notebook")
    nb = json.loads(path.read_text())
    cells = nb.get("cells", [])
    want = install_cell_source(s)
    problems = []
    first = cells[0] if cells else None
    is_install = first is not None and first.get("cell_type") == "code" and "google.colab" in _source(first)
    if not is_install:
        problems.append("first cell is not the Colab install cell")
    else:
        if _source(first) != want:
            problems.append("Colab install cell differs from the generated one")
        if INSTALL_TAG not in first.get("metadata", {}).get("tags", []):
            problems.append(f"Colab install cell lacks the tag {INSTALL_TAG!r}")
    problems += [f"cell {i}: {p}" for i, c in enumerate(cells[1:], 1) for p in stray_urls(_source(c), s)]
    if write and any(not p.startswith("cell ") for p in problems):
        if not is_install:
            cell = {"cell_type": "code", "execution_count": None, "metadata": {"tags": [INSTALL_TAG]},
                    "outputs": [], "source": _as_lines(want)}
            if (nb.get("nbformat", 4), nb.get("nbformat_minor", 0)) >= (4, 5):
                cell["id"] = INSTALL_CELL_ID
            cells.insert(0, cell)
        else:
            first["source"] = _as_lines(want)
            tags = first.setdefault("metadata", {}).setdefault("tags", [])
            if INSTALL_TAG not in tags:
                tags.append(INSTALL_TAG)
        # A hand-written address in another cell is reported, never rewritten: it sits in prose or code
        # this tool does not own.
        _write_notebook(path, nb)
    return problems


def stray_urls(text: str, s: Settings) -> list[str]:
    """Course addresses written by hand in ``text`` that name another repository than the setting."""
    found = []
    for kind, pattern in _HAND_URLS:
        for m in pattern.finditer(text):
            value = m.group(1)
            if kind == "owner_repo":
                ok = value == s.owner_repo
            else:
                value = unquote(value) if kind == "quoted_url" else value
                ok = value.rstrip("/").removesuffix(".git") == s.url
            if not ok:
                found.append(f"hand-written address {m.group(0)!r} names another repository than {s.url}")
    return found


def sync_page(path: str | Path, s: Settings, root: str | Path = ROOT, write: bool = False,
              required: Sequence[str] = ()) -> list[str]:
    """Compare (and with ``write``, fix) the generated blocks of one markdown page; returns the problems."""
    path = check_file(path, "page")
    text = path.read_text()
    problems: list[str] = []
    names = [m.group("name") for m in _BLOCK.finditer(text)]
    if len(_MARKER.findall(text)) != 2 * len(names):
        problems.append("unpaired publish markers (each block needs <!-- publish:begin NAME --> ... "
                        "<!-- publish:end NAME -->)")
    problems += [f"block {n!r} is missing (add its markers where it belongs)" for n in required if n not in names]

    def replace(m: re.Match) -> str:
        name = m.group("name")
        try:
            body = render_block(name, s, root)
        except ValueError as err:
            problems.append(str(err))
            return m.group(0)
        if m.group("body") != body:
            problems.append(f"block {name!r} differs from the generated one")
        return m.group(1) + body + m.group(4)

    new = _BLOCK.sub(replace, text)
    outside = _BLOCK.sub("", text)
    problems += stray_urls(outside, s)
    if write and new != text:
        atomic_write_text(path, new)
    return problems


def sync_citation(path: str | Path, s: Settings, write: bool = False) -> list[str]:
    """Compare (and with ``write``, fix) ``repository-code`` and ``url`` of ``CITATION.cff``."""
    path = check_file(path, "CITATION.cff")
    text = path.read_text()
    problems = []
    for key, line in _citation_lines(s).items():
        pattern = re.compile(rf"^{re.escape(key)}:.*$", re.M)
        m = pattern.search(text)
        if m is None:
            problems.append(f"no top-level {key!r}")
        elif m.group(0) != line:
            problems.append(f"{key!r} differs: {m.group(0)!r}, expected {line!r}")
            text = pattern.sub(line, text, count=1)
    if write and problems:
        atomic_write_text(path, text)
    return problems


def targets(root: str | Path = ROOT) -> list[Path]:
    """Every file this tool writes: the notebooks, the pages with generated blocks, ``CITATION.cff``."""
    root = Path(root)
    files = [p for d in NOTEBOOK_DIRS for p in sorted((root / d).glob("*.ipynb"))]
    return files + [root / page for page in PAGE_BLOCKS] + [root / CITATION]


def publish(root: str | Path = ROOT, *, check: bool = False, only: Iterable[str | Path] | None = None) -> dict[str, list[str]]:
    """Generate (or with ``check``, only compare) every target under ``root``; ``only`` limits the files
    (files or folders, relative to ``root`` or absolute).

    Returns:
        ``{relative path: [problem, ...]}`` for every file that disagreed (in write mode: before the rewrite).
    """
    root = Path(root).resolve()
    s = load_settings(root)
    chosen = targets(root)
    if only:
        limits = [(Path(o) if Path(o).is_absolute() else root / o).resolve() for o in only]
        for lim in limits:
            if not lim.exists():
                raise FileNotFoundError(f"{lim} does not exist")
        chosen = [t for t in chosen if any(t == lim or lim in t.parents for lim in limits)]
    report: dict[str, list[str]] = {}
    for path in chosen:
        rel = path.relative_to(root).as_posix()
        if not path.exists():
            report[rel] = ["missing"]
            continue
        if path.suffix == ".ipynb":
            problems = sync_notebook(path, s, write=not check)
        elif path.name == CITATION:
            problems = sync_citation(path, s, write=not check)
        else:
            problems = sync_page(path, s, root, write=not check, required=PAGE_BLOCKS.get(rel, ()))
        if problems:
            report[rel] = problems
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m helpers.tools.publish [--check] [--root DIR] [PATH ...]``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.tools.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="only these files or folders (default: every generated file)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when anything disagrees")
    parser.add_argument("--root", default=str(ROOT), help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    s = load_settings(root)
    print(f"repository {s.url} @ {s.branch}; Colab installs {install_requirement(s)!r}")
    if not args.check:
        before = {p: p.read_bytes() for p in targets(root) if p.exists()}
        publish(root, only=args.paths or None)
        for p, old in before.items():
            if p.read_bytes() != old:
                print(f"{p.relative_to(root).as_posix()}: regenerated")
    # After a rewrite, what is left (a missing block, a hand-written address) needs a person.
    found = publish(root, check=True, only=args.paths or None)
    for rel, problems in found.items():
        for p in problems:
            print(f"{rel}: {p}")
    if found:
        hint = "run `python -m helpers.tools.publish`" if args.check else "these need a hand edit"
        print(f"{len(found)} file(s) disagree with _config.yml: {hint}", file=sys.stderr)
        return 1
    print("every generated part agrees with _config.yml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
