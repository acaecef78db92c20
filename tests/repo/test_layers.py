"""The package's layers: each module imports only from its own layer or the layers below it.

    core  <-  shared ML (data, models, losses, augment, metrics, training, training_keras, plots)
          <-  papers/<notebook>  <-  tools (and the command-line entry points run, predict)
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "helpers"
LAYERS = {"core": 0, "data": 1, "models": 1, "losses": 1, "augment": 1, "metrics": 1, "training": 1,
          "training_keras": 1, "plots": 1, "papers": 2, "tools": 3, "run": 3, "predict": 3}
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "__init__.py")


def _top(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "helpers" else None


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):  # function-level (lazy) imports count too
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_every_top_level_name_has_a_layer():
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in MODULES}
    assert tops <= set(LAYERS), f"modules without a layer: {sorted(tops - set(LAYERS))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_from_a_higher_layer(path):
    own = LAYERS[path.relative_to(PACKAGE).parts[0].removesuffix(".py")]
    upward = sorted(m for m in _imports(path) if _top(m) in LAYERS and LAYERS[_top(m)] > own)
    assert not upward, f"{path.relative_to(PACKAGE)} (layer {own}) imports from a higher layer: {upward}"


def test_no_relative_imports():
    """Absolute imports name the layer they reach into, which this test and a reader can see."""
    relative = [str(p.relative_to(PACKAGE)) for p in MODULES
                if any(isinstance(n, ast.ImportFrom) and n.level > 0 for n in ast.walk(ast.parse(p.read_text())))]
    assert not relative, relative


def test_papers_do_not_import_each_other():
    for path in (PACKAGE / "papers").rglob("*.py"):
        mine = path.relative_to(PACKAGE).parts[1] if len(path.relative_to(PACKAGE).parts) > 2 else None
        others = {m.split(".")[2] for m in _imports(path) if m.startswith("helpers.papers.") and m.count(".") >= 2}
        assert others <= {mine}, f"{path.relative_to(PACKAGE)} imports another paper's code: {others - {mine}}"


def test_modules_stay_readable():
    long = {str(p.relative_to(PACKAGE)): n for p in MODULES if (n := len(p.read_text().splitlines())) > 650}
    assert not long, f"modules over 650 lines (split them by concern): {long}"
