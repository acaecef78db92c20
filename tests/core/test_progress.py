"""Progress bars (helpers.core.progress): live where someone watches, one final line where no one does.

* headless (a pipe, no kernel): a bar, a sweep's bar and fit's bar each leave exactly one line, with
  the totals, also when the loop stops with an error;
* ``HELPERS_PROGRESS`` chooses the mode (``live`` refreshes in place, ``off`` writes nothing) and a bad
  value is an error that names the variable;
* in a Jupyter kernel the mode follows the kernel's parent (papermill, nbclient, nbconvert, nbval,
  pytest: final; a notebook server: live), checked with a stand-in shell and with a real kernel that
  nbclient starts from this pytest process: one line in the cell's output, where ``live`` gives many.
"""

import os
import subprocess
import sys
import textwrap
import types

import pytest

from helpers.core import progress
from helpers.core.progress import FinalLineBar, progress_bar, progress_mode


def _headless(script: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter with stdout and stderr piped (no terminal, no kernel)."""
    base = {k: v for k, v in os.environ.items() if k != "HELPERS_PROGRESS"}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, timeout=120,
                          env={**base, **env})
    # Decoded by hand: text=True would turn tqdm's carriage returns into newlines.
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


LOOP = """
    import time
    from helpers.core.progress import progress_bar
    for i in progress_bar(range(40), desc="demo", mininterval=0, miniters=1):
        time.sleep(0.005)
    print("after", flush=True)
"""


def test_headless_bar_leaves_one_final_line():
    proc = _headless(LOOP)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if "demo" in line]
    assert len(lines) == 1 and proc.stderr.count("demo") == 1, proc.stderr
    assert "\r" not in proc.stderr
    assert "40/40" in lines[0] and "100%" in lines[0]
    assert proc.stdout == "after\n"


def test_env_var_live_refreshes_and_off_is_silent():
    live = _headless(LOOP, HELPERS_PROGRESS="live")
    assert live.returncode == 0, live.stderr[-2000:]
    assert live.stderr.count("\r") > 5  # the regression this module fixes: one fragment per refresh
    off = _headless(LOOP, HELPERS_PROGRESS="off")
    assert off.returncode == 0 and "demo" not in off.stderr


def test_headless_sweep_and_fit_leave_one_line_each():
    proc = _headless("""
        import torch
        from helpers.core.sweeps import cached_sweep
        from helpers.models import unet
        from helpers.training import fit

        cached_sweep([{"k": k} for k in range(5)], lambda k: {"v": k}, None, desc="my sweep")
        x = torch.rand(8, 1, 16, 16)
        y = (x[:, 0] > 0.5).long()
        fit(unet(1, 2, base=2, depth=1), (x, y), loss_fn=torch.nn.functional.cross_entropy, epochs=3,
            batch_size=4, num_classes=2, device="cpu")
    """, CUDA_VISIBLE_DEVICES="")
    assert proc.returncode == 0, proc.stderr[-2000:]
    sweep = [line for line in proc.stderr.splitlines() if "my sweep" in line]
    training = [line for line in proc.stderr.splitlines() if line.startswith("training")]
    assert len(sweep) == 1 and "5/5" in sweep[0], proc.stderr
    assert len(training) == 1 and "3/3" in training[0] and "train=" in training[0], proc.stderr


def test_a_final_bar_stopped_by_an_error_says_how_far_it_got(capsys):
    with pytest.raises(RuntimeError):
        for i in progress_bar(range(10), desc="broken", mode="final"):
            if i == 3:
                raise RuntimeError("stop")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "broken" in err and "3/10" in err


def test_final_bar_counts_by_hand_and_leave_false_writes_nothing(capsys):
    bar = progress_bar(total=4, desc="by hand", mode="final")
    assert isinstance(bar, FinalLineBar)
    bar.update(2)
    bar.set_postfix(loss=0.5)
    assert capsys.readouterr().err == ""  # nothing until it closes
    bar.update(2)
    bar.close()
    bar.close()  # a second close writes nothing more
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "4/4" in err and "loss=0.5" in err
    with progress_bar(total=2, desc="inner", mode="final", leave=False) as inner:
        inner.update(2)
    assert capsys.readouterr().err == ""


def test_mode_from_the_environment_variable(monkeypatch):
    for mode in ("live", "final", "off"):
        monkeypatch.setenv("HELPERS_PROGRESS", mode)
        assert progress_mode() == mode
    monkeypatch.setenv("HELPERS_PROGRESS", " FINAL ")
    assert progress_mode() == "final"
    monkeypatch.setenv("HELPERS_PROGRESS", "quiet")
    with pytest.raises(ValueError, match="HELPERS_PROGRESS must be one of live, final, off, got 'quiet'"):
        progress_mode()
    with pytest.raises(ValueError, match="mode must be one of"):
        progress_bar(range(2), mode="silent")


def test_mode_without_a_kernel_follows_the_terminal(monkeypatch):
    monkeypatch.delenv("HELPERS_PROGRESS", raising=False)
    monkeypatch.setitem(sys.modules, "IPython", None)
    monkeypatch.setattr(progress, "_stderr_is_terminal", lambda: True)
    assert progress_mode() == "live"
    monkeypatch.setattr(progress, "_stderr_is_terminal", lambda: False)
    assert progress_mode() == "final"


@pytest.mark.parametrize("parent, mode", [
    ("/usr/bin/python3 -m papermill 01.ipynb out.ipynb", "final"),
    ("/usr/bin/python3 /usr/local/bin/jupyter-nbconvert --execute 01.ipynb", "final"),
    ("python -m pytest --nbval-lax build/nbtest", "final"),
    ("python my_script.py", "live"),  # nothing says headless (then set HELPERS_PROGRESS=final)
    ("/opt/conda/bin/python /opt/conda/bin/jupyter-lab", "live"),
    ("", "live"),  # no /proc: a kernel is assumed watched
])
def test_mode_in_a_kernel_follows_its_parent(monkeypatch, parent, mode):
    monkeypatch.delenv("HELPERS_PROGRESS", raising=False)
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.setattr(progress, "_parent_command", lambda: parent)
    monkeypatch.setattr(progress, "_stderr_is_terminal", lambda: True)  # a kernel ignores the terminal
    assert progress_mode() == mode


@pytest.mark.slow
def test_a_kernel_started_by_an_executor_keeps_one_line(monkeypatch):
    """nbclient starts a real kernel from this (pytest) process, as nbval and papermill do."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.delenv("HELPERS_PROGRESS", raising=False)
    loop = "for _ in progress_bar(range(40), desc='demo', mininterval=0, miniters=1):\n    time.sleep(0.005)"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os, time\nfrom helpers.core.progress import progress_bar"),
        nbformat.v4.new_code_cell(loop),
        nbformat.v4.new_code_cell(f"os.environ['HELPERS_PROGRESS'] = 'live'\n{loop}"),
    ])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()

    def text(cell):
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")

    headless, live = text(nb.cells[1]), text(nb.cells[2])
    assert headless.count("demo") == 1 and "\r" not in headless and "40/40" in headless, headless
    assert live.count("\r") > 5, live


# Bars still made elsewhere, to move onto progress_bar (none today).
NOT_YET: set[str] = set()


def test_every_bar_of_the_package_comes_from_progress_bar():
    import re
    from pathlib import Path

    package = Path(progress.__file__).resolve().parents[1]
    own = re.compile(r"^\s*(from tqdm|import tqdm)|show_progress_bar=(?!False)", re.MULTILINE)
    found = {p.relative_to(package).as_posix() for p in package.rglob("*.py")
             if p.name != "progress.py" and own.search(p.read_text())}
    assert found - NOT_YET == set(), "use helpers.core.progress.progress_bar for these bars"
    assert NOT_YET <= found, f"done: remove {NOT_YET - found} from NOT_YET"
