"""Packaging facts: the distribution's name, the licence, the citation file and the data-licence page."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from helpers.data.public import isbi, sstem, tbm

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
BIB = (ROOT / "book" / "references.bib").read_text()
SEED_PAPERS = ("kurino_grain_boundary", "hirokawa_pspnet", "hagita_filler_hpo", "hotta_fewshot_pixel_relation",
               "takaya_dcn_kernel")


def _bib_field(key: str, field: str) -> str:
    entry = re.search(rf"@\w+\{{{key},(.*?)\n\}}", BIB, re.S).group(1)
    value = re.search(rf"^\s*{field}\s*=\s*\{{(.*)\}},?\s*$", entry, re.M).group(1)
    return value.replace("{", "").replace("}", "")


def test_distribution_name_is_not_the_import_name():
    name = PROJECT["name"]
    assert name == "microscopy-dl-course"  # free on PyPI when chosen; "helpers" is someone else's there
    assert set(metadata.packages_distributions()["helpers"]) == {name}, "the import name stays helpers"
    for extra, reqs in PROJECT["optional-dependencies"].items():
        for r in map(Requirement, reqs):
            assert r.name != "helpers", f"extra {extra!r} names the old distribution"
    assert Requirement(PROJECT["optional-dependencies"]["all"][0]).name == name
    for page in ("README.md", "book/setup.md", "CITATION.cff"):
        assert name in (ROOT / page).read_text(), f"{page} names the distribution"


def test_licence_is_mit():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 The course authors" in text
    assert PROJECT["license"] == "MIT"


def test_citation_file_cites_the_course_and_the_five_papers():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    for key in ("message", "title", "authors", "repository-code", "url"):
        assert cff.get(key), key
    assert cff["license"] == PROJECT["license"] and str(cff["version"]) == PROJECT["version"]
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cff["title"] == config["title"] + ": five papers reproduced"
    refs = cff["references"]
    assert [r["title"] for r in refs] == [_bib_field(k, "title") for k in SEED_PAPERS]
    for ref in refs:
        assert ref["type"] in {"report", "conference-paper", "article", "generic"}
        assert ref["authors"] and all(a.get("family-names") and a.get("given-names") for a in ref["authors"])
    # the same people as the bibliography (surnames of the romanised entries)
    for key, ref in zip(SEED_PAPERS, refs):
        authors = _bib_field(key, "author")
        assert all(a["family-names"] in authors for a in ref["authors"]), key


@pytest.mark.parametrize("url", [tbm.TBM_URL, isbi.ISBI_URL, sstem.SSTEM_URL])
def test_data_page_names_each_download_source(url):
    page = (ROOT / "book" / "data.md").read_text()
    repo, commit = re.search(r"githubusercontent\.com/([^/]+/[^/]+)/([0-9a-f]{40})/", url).groups()
    assert f"github.com/{repo}" in page and f"`{commit[:7]}`" in page, f"book/data.md lacks {repo} at {commit[:7]}"


def test_data_page_gives_a_licence_and_a_citation_for_each_dataset():
    page = (ROOT / "book" / "data.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| ") and not line.startswith("| data ")]
    assert len(rows) >= 8
    for row in rows:  # data | notebook | licence or terms | cite: none left empty
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 4 and all(cells), row
    keys = re.findall(r"\{cite:p\}`([^`]+)`", page)
    for key in ("tbm2023zenodo", "everingham2010voc", "leafdisease_kaggle", "gerhard2013sstem", "covid19ct2020",
                "cardona2010drosophila", "argandacarreras2015isbi"):
        assert key in keys
    assert all(re.search(rf"@\w+\{{{k},", BIB) for k in keys), "every citation is in references.bib"
    assert "CC BY-NC-SA 3.0" in page  # the ssTEM set's licence, as its source states it
    toc = (ROOT / "_toc.yml").read_text()
    assert "file: book/data" in toc
