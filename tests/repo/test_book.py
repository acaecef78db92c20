"""The Jupyter Book builds with warnings as errors, and every page in the table of contents renders.

The build never executes notebooks (``execute_notebooks: "off"`` in ``_config.yml``): the book shows
the outputs committed with the notebooks. It takes seconds, not minutes.

Environment variables:
    BOOK_BUILD_DIR      where the build goes (``<dir>/_build/html``); default: a pytest temp folder,
                        so the test never touches the repository's own ``_build``.
    BOOK_BUILD_TIMEOUT  seconds before the build is called hung (default 600).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
TOC = ROOT / "_toc.yml"
CONFIG = ROOT / "_config.yml"
LOG_TAIL = 60

pytestmark = pytest.mark.book


def _toc_files(node) -> list[str]:
    """Every ``file:`` (and the ``root:``) in a jb-book table of contents, in order."""
    out: list[str] = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                out.append(node[key])
        for value in node.values():
            if isinstance(value, (list, dict)):
                out.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(_toc_files(item))
    return out


def _source_of(entry: str) -> Path | None:
    """The file a toc entry names (entries may omit the suffix)."""
    path = ROOT / entry
    if path.suffix in (".md", ".ipynb") and path.is_file():
        return path
    for suffix in (".md", ".ipynb"):
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def _page_name(entry: str) -> str:
    return entry[: -len(Path(entry).suffix)] if Path(entry).suffix in (".md", ".ipynb") else entry


def _jupyter_book_command() -> list[str]:
    """The ``jupyter-book`` of the running interpreter's environment."""
    bindir = Path(sys.executable).parent
    for name in ("jupyter-book", "jupyter-book.exe"):
        script = bindir / name
        if script.is_file():
            return [str(script)]
    # No console script (unusual installs): call the CLI entry point through this interpreter.
    return [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def toc_entries() -> list[str]:
    toc = yaml.safe_load(TOC.read_text(encoding="utf8"))
    assert toc.get("format") == "jb-book", "_toc.yml must use the jb-book format"
    entries = _toc_files(toc)
    assert entries and entries[0] == toc["root"]
    return entries


def test_toc_lists_existing_files_once(toc_entries):
    missing = [e for e in toc_entries if _source_of(e) is None]
    assert not missing, f"_toc.yml names files that do not exist (the build would fail): {missing}"
    names = [_page_name(e) for e in toc_entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"_toc.yml lists these pages more than once: {duplicates}"


def test_every_notebook_is_in_the_toc(toc_entries):
    """A notebook left out of _toc.yml silently disappears from the book (only_build_toc_files)."""
    listed = {_page_name(e) for e in toc_entries}
    notebooks = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb"))
    absent = [p.relative_to(ROOT).as_posix() for p in notebooks
              if p.relative_to(ROOT).with_suffix("").as_posix() not in listed]
    assert not absent, f"notebooks missing from _toc.yml: {absent}"


def test_book_never_executes_notebooks():
    config = yaml.safe_load(CONFIG.read_text(encoding="utf8"))
    mode = config.get("execute", {}).get("execute_notebooks")
    # YAML reads a bare `off` as False; both mean the same to Jupyter Book.
    assert mode in ("off", False), (
        f"_config.yml execute.execute_notebooks is {mode!r}: the book must show the committed "
        "GPU outputs, not re-run the notebooks"
    )


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    pytest.importorskip("jupyter_book")
    pytest.importorskip("sphinxcontrib.bibtex")
    out = Path(os.environ.get("BOOK_BUILD_DIR") or tmp_path_factory.mktemp("book"))
    out.mkdir(parents=True, exist_ok=True)
    timeout = float(os.environ.get("BOOK_BUILD_TIMEOUT", "600"))
    cmd = [*_jupyter_book_command(), "build", str(ROOT), "--path-output", str(out),
           "-W", "-n", "--keep-going", "--builder", "html"]
    log = out / "book-build.log"
    try:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout)
        output, rc = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        rc = f"timeout after {timeout:.0f} s"
    output = re.sub(r"\x1b\[[0-9;]*m", "", output)  # Sphinx colours its log even into a pipe
    log.write_text(output, encoding="utf8")
    if rc != 0:
        tail = "\n".join(output.splitlines()[-LOG_TAIL:])
        pytest.fail(f"jupyter-book build failed ({rc}): {' '.join(cmd)}\n"
                    f"full log: {log}\n--- last {LOG_TAIL} lines ---\n{tail}", pytrace=False)
    return out / "_build" / "html"


def test_book_builds_with_warnings_as_errors(built_book):
    index = built_book / "index.html"
    assert index.is_file() and index.stat().st_size > 0, f"{index} missing or empty"


# A markdown table's delimiter row (`|---|`, `| :--- |`, `|---:|`) left as text: the table was not parsed.
RAW_TABLE = re.compile(r"\|\s*:?-{3,}:?\s*\|")


def _raw_table_rows(html: str) -> list[str]:
    """Delimiter rows of markdown tables shown as text in a page's HTML, outside code blocks and scripts."""
    html = re.sub(r"(?is)<(pre|script|style|textarea)\b.*?</\1>", "", html)
    return [m.group(0) for m in RAW_TABLE.finditer(re.sub(r"<[^>]+>", "", html))]


def test_raw_table_rows_are_found():
    assert _raw_table_rows("<p>| a | b |\n|---|---:|\n| 1 | 2 |</p>") == ["|---|"]
    assert not _raw_table_rows("<pre>| a |\n|---|</pre><table><tr><td>a</td></tr></table>")


def test_every_toc_page_renders(built_book, toc_entries):
    problems = []
    for entry in toc_entries:
        page = built_book / f"{_page_name(entry)}.html"
        if not page.is_file() or page.stat().st_size == 0:
            problems.append(f"{page.relative_to(built_book)}: missing or empty")
            continue
        text = page.read_text(encoding="utf8", errors="replace")
        if "Traceback" in text:
            problems.append(f"{page.relative_to(built_book)}: contains a Traceback")
        raw = _raw_table_rows(text)
        if raw:  # e.g. display(Markdown(table)) rendered as CommonMark (no tables): one paragraph of `| ... |`
            problems.append(f"{page.relative_to(built_book)}: {len(raw)} markdown table(s) shown as raw text "
                            f"({raw[0]!r}); _config.yml sets nb_render_markdown_format so that they render")
    assert not problems, "pages with problems:\n" + "\n".join(problems)


# ----------------------------------------------------------------------------------------------------------
# The built book in a real browser: Debian's Chromium, headless, driven through its ChromeDriver.

ARTIFACTS = Path(os.environ.get("BOOK_TEST_ARTIFACTS") or ROOT / "build" / "test-artifacts")


@pytest.fixture(scope="module")
def served_book(built_book):
    """The built HTML served on a free loopback port (file:// would hide broken absolute links)."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # one line per request would drown the test log
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(built_book)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    import shutil

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1600", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


_PAGE_STATE = """
// The page's own content (the header's launch-button logos sit in closed dropdowns: not figures).
const main = document.querySelector('article') || document.querySelector('main') || document.body;
const imgs = Array.from(main.querySelectorAll('img'));
// The text a reader sees outside code blocks (a printed `|---|` inside a stream output is fine).
const prose = main.cloneNode(true);
prose.querySelectorAll('pre, script, style').forEach(e => e.remove());
return {
  ready: document.readyState,
  text: main.innerText,
  prose: prose.textContent,
  images: imgs.length,
  broken_images: imgs.filter(i => !(i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0))
                     .map(i => (i.getAttribute('src') || '').slice(0, 80)),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
};
"""


def test_every_page_loads_in_chromium_with_figures_and_working_links(browser, served_book, built_book, toc_entries):
    from urllib.parse import unquote, urlsplit

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems, checked_links = [], set()
    for entry in toc_entries:
        name = _page_name(entry)
        browser.get(f"{served_book}/{name}.html")
        for _ in range(50):  # scripts from a CDN (MathJax) fail slowly on an offline machine
            state = browser.execute_script(_PAGE_STATE)
            if state["ready"] == "complete":
                break
            time.sleep(0.2)
        where = f"{name}.html"
        if state["ready"] != "complete":
            problems.append(f"{where}: did not finish loading")
        if "Traceback (most recent call last)" in state["text"]:
            problems.append(f"{where}: shows a Python traceback")
        if re.search(r"\.py:\d+: [A-Z]\w*Warning: ", state["text"]):
            problems.append(f"{where}: shows a Python warning")
        raw = RAW_TABLE.findall(state["prose"])
        if raw:
            problems.append(f"{where}: {len(raw)} markdown table row(s) shown as raw text, e.g. {raw[0]!r}")
        if state["broken_images"]:
            problems.append(f"{where}: figures that do not render: {state['broken_images'][:3]}")
        if re.match(r"notebooks/\d\d_", entry) and state["images"] == 0:  # the paper notebooks
            problems.append(f"{where}: a notebook page without a single figure")
        for href in state["links"]:
            parts = urlsplit(href)
            if not href.startswith(served_book) or parts.path in checked_links:
                continue  # external links are not followed: the test machine is offline
            checked_links.add(parts.path)
            target = built_book / unquote(parts.path).lstrip("/")
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{where}: broken internal link {parts.path}")
        if name in (_page_name(toc_entries[0]), "notebooks/01_grain_boundary_unet"):
            browser.save_screenshot(str(ARTIFACTS / f"{name.replace('/', '_')}.png"))
    assert not problems, "\n".join(problems)
    shots = sorted(ARTIFACTS.glob("*.png"))
    assert len(shots) >= 2 and all(s.stat().st_size > 10_000 for s in shots), shots


# The scorecard must read on a phone: nothing in the page's content wider than its column, and no table
# scrolled sideways inside its own container (the theme wraps tables in a scrollable box, which would
# hide an overflow from the page's own scroll width).
_WIDTH_STATE = """
const main = document.querySelector('article') || document.querySelector('main') || document.body;
const box = main.getBoundingClientRect();
const wide = [];
for (const el of main.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1)) {
    wide.push(`${el.tagName.toLowerCase()}.${el.className} ${Math.round(r.width)} px`);
  }
  if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible' && el.clientWidth > 0) {
    wide.push(`${el.tagName.toLowerCase()}.${el.className} scrolls: ${el.scrollWidth} px in ${el.clientWidth} px`);
  }
}
// Inside a table, nothing may stick out of its own cell (a long claim id running into the next column).
for (const cell of main.querySelectorAll('td, th')) {
  const c = cell.getBoundingClientRect();
  for (const el of cell.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > c.right + 1) {
      wide.push(`${el.tagName.toLowerCase()}.${el.className} sticks out of its cell by ${Math.round(r.right - c.right)} px`);
    }
  }
}
const badges = Array.from(main.querySelectorAll('.sd-badge'));
return {
  viewport: window.innerWidth,
  page: document.documentElement.scrollWidth,
  column: Math.round(box.width),
  wide: wide.slice(0, 5),
  tables: Array.from(main.querySelectorAll('table')).map(t => t.rows[0] ? t.rows[0].cells.length : 0),
  fixed: Array.from(main.querySelectorAll('table.scorecard')).map(t => getComputedStyle(t).tableLayout),
  badges: badges.length,
  colourless: badges.filter(b => {
    const s = getComputedStyle(b);
    return s.backgroundColor === 'rgba(0, 0, 0, 0)' && s.borderTopColor === 'rgba(0, 0, 0, 0)';
  }).length,
};
"""


@pytest.mark.parametrize("width", [1280, 400])
def test_scorecard_fits_the_column_and_a_phone(browser, served_book, width):
    from helpers.tools.scorecard import MAX_COLUMNS

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
    try:
        browser.get(f"{served_book}/book/scorecard.html")
        for _ in range(50):
            if browser.execute_script("return document.readyState") == "complete":
                break
            time.sleep(0.2)
        state = browser.execute_script(_WIDTH_STATE)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / f"book_scorecard_{width}px.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert state["viewport"] == width, state
    assert state["page"] <= width + 1, f"the page scrolls sideways at {width} px: {state}"
    assert not state["wide"], f"content wider than the book's column ({state['column']} px) at {width} px: {state}"
    assert state["tables"] and max(state["tables"]) <= MAX_COLUMNS, state
    assert state["fixed"] and set(state["fixed"]) == {"fixed"}, f"book/_static/scorecard.css not applied: {state}"
    assert state["badges"] > 0 and state["colourless"] == 0, f"verdicts without a colour: {state}"
