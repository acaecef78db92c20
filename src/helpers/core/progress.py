"""Progress bars that are live where someone watches and leave one line where no one does.

Every progress bar of the package comes from :func:`progress_bar`. It has three modes:

* ``live``: a bar that refreshes in place: the Jupyter widget (``tqdm.notebook``) in a notebook
  front end with ``ipywidgets`` installed, else tqdm's text bar (refreshed at most once a second).
* ``final``: nothing while it runs, then one line with the totals when the bar closes (also after an
  exception, showing how far it got). This is what an executed notebook should keep: papermill and
  nbval store every refresh of a text bar as a fragment of the cell's output.
* ``off``: nothing at all.

How the mode is decided (:func:`progress_mode`), first match wins:

1. the environment variable ``HELPERS_PROGRESS`` (``live``, ``final`` or ``off``). ``helpers.run``
   sets ``final`` for the notebooks it executes, and ``.ci/test`` for nbval;
2. inside a Jupyter kernel: ``final`` when the kernel was started by a headless executor (its parent
   process is papermill, nbclient, nbconvert, nbval or pytest, read from ``/proc`` where there is
   one), else ``live`` (JupyterLab, classic Notebook, Colab, VS Code);
3. outside a kernel: ``live`` when stderr is a terminal, else ``final`` (a log file, a pipe, CI).

Example (the line is written when the loop ends; ``mode`` and ``file`` only make it visible here):

    >>> import sys
    >>> for _ in progress_bar(range(3), desc="demo", mode="final", file=sys.stdout,
    ...                       bar_format="{desc}: {n_fmt}/{total_fmt}"):
    ...     pass
    demo: 3/3
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from tqdm.std import tqdm as _std_tqdm

ENV = "HELPERS_PROGRESS"
MODES = ("live", "final", "off")
# A kernel whose parent process command line names one of these runs without anyone watching.
HEADLESS_EXECUTORS = ("papermill", "nbclient", "nbconvert", "nbval", "pytest")


class FinalLineBar(_std_tqdm):
    """A tqdm bar that writes nothing until it closes, then a single line with the totals.

    Counting, ``set_postfix`` and the elapsed time work as in tqdm; only the display is held back.
    A bar made with ``leave=False`` writes nothing at all.
    """

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:  # noqa: ARG002
        return True  # every refresh (from update, set_postfix or tqdm's monitor thread) is silent

    def close(self) -> None:
        if getattr(self, "disable", True):
            return
        self._ema_dt = lambda: None  # the overall rate, as tqdm's own last refresh shows it
        line = self.__str__()
        leave = self.leave is not False
        self.sp = None  # tqdm's close does its bookkeeping and writes nothing (its "GUI mode")
        super().close()
        if leave:
            self.fp.write(line + "\n")
            self.fp.flush()


def _kernel_shell() -> Any:
    """The IPython shell when this process is a Jupyter kernel, else None."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    shell = ipython.get_ipython()
    return shell if getattr(shell, "kernel", None) is not None else None


def _parent_command() -> str:
    """The parent process's command line ('' where /proc does not tell)."""
    try:
        raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress_mode() -> str:
    """``"live"``, ``"final"`` or ``"off"``, decided as the module docstring says.

    >>> progress_mode() in MODES
    True
    """
    value = os.environ.get(ENV, "").strip().lower()
    if value:
        if value not in MODES:
            raise ValueError(f"{ENV} must be one of {', '.join(MODES)}, got {value!r}")
        return value
    if _kernel_shell() is not None:
        parent = _parent_command().lower()
        return "final" if any(name in parent for name in HEADLESS_EXECUTORS) else "live"
    return "live" if _stderr_is_terminal() else "final"


def progress_bar(iterable: Iterable[Any] | None = None, *, mode: str | None = None, **kwargs: Any) -> Any:
    """A tqdm progress bar in the mode of :func:`progress_mode` (or ``mode``).

    Args:
        iterable: what to iterate over, as for tqdm (or None and ``bar.update(n)`` by hand).
        mode: ``"live"``, ``"final"`` or ``"off"``; default :func:`progress_mode`.
        **kwargs: tqdm's own arguments (``total``, ``desc``, ``unit``, ``initial``, ``leave``, ...).

    Returns:
        a tqdm bar: use it as an iterable or a context manager, or call ``close()`` when done
        (a ``final`` bar writes its line then).
    """
    mode = progress_mode() if mode is None else mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off":
        return _std_tqdm(iterable, disable=True, **kwargs)
    if mode == "final":
        kwargs.setdefault("mininterval", 3600.0)  # nothing is shown anyway: skip the work of refreshing
        return FinalLineBar(iterable, **kwargs)
    if _kernel_shell() is not None and find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm(iterable, **kwargs)
    kwargs.setdefault("mininterval", 1.0)
    return _std_tqdm(iterable, **kwargs)
