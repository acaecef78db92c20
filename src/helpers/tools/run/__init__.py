"""Run the course notebooks with papermill and print a scorecard of what they measured.

Usage (from anywhere inside the repository)::

    python -m helpers.run                       # every notebooks/NN_*.ipynb, profile auto
    helpers-run 01 03 --profile smoke           # by number, stem, path or glob ("0[12]*")
    helpers-run 02 -p epochs 3 -p lr 1e-3       # extra parameters (typed like papermill's -p)
    helpers-run --profile full --in-place       # after a GPU run: write outputs into notebooks/
    helpers-run --jobs 4 --timeout 900          # 4 at once, one GPU each, 15 min per notebook
    helpers-run --prepare-only --profile smoke  # inject parameters only (for pytest --nbval-lax)
    helpers-run --list                          # what would run, and where it would write

Each notebook receives the parameters ``profile`` (``auto`` resolved to ``full`` on a
GPU of at least 40 GB, ``lite`` otherwise) and ``output_dir`` (``<output>/<stem>``), plus every
``-p NAME VALUE``. Its executed copy goes to ``<output>/<stem>/<stem>.ipynb`` (or over
the source notebook with ``--in-place``, only when it succeeded, without papermill's
injected parameters cell and with a note saying which run made the outputs), papermill's log to
``<output>/<stem>/papermill.log``, and the notebook itself writes
``<output>/<stem>/results.json`` (``CONTRIBUTING.md`` (the notebook contract)). At the end a table
lists status, seconds, headline metrics and claims held; it is also written to
``<output>/summary.json`` and ``<output>/summary.md``, merged by notebook with the
entries of earlier runs, so notebooks run one at a time still add up to one table.

Every notebook runs in its own ``python -m papermill`` process (in its own session),
with the notebook's folder as working directory. ``--timeout`` bounds the whole
notebook's wall time: on expiry the papermill process, its kernel and everything they
started are killed and the notebook is reported as ``timeout``. A failing notebook
never stops the others; the exit status is non-zero when any of them did not end
``ok`` (``ok``, ``failed``, ``timeout``, ``no-results`` are the possible statuses;
``--prepare-only`` reports ``prepared``).

Kernel: the default kernel name ``python3`` always means *the interpreter running this
runner* (a kernelspec for ``sys.executable`` is put first on ``JUPYTER_PATH`` for the
children), so notebooks see the same packages as ``helpers-run`` even when a user-level
``python3`` kernelspec points at another Python. Any other ``--kernel NAME`` is looked up
by Jupyter as usual.

Python API::

    from helpers.tools.run import run_notebooks
    runs = run_notebooks(["01"], profile="smoke", parameters={"seed": 1}, timeout=600)
    runs[0].status, runs[0].seconds, runs[0].results["metrics"]

The package, by concern:

* :mod:`~helpers.tools.run.selection`: which notebooks (names, numbers, globs -> paths; the repository root);
* :mod:`~helpers.tools.run.parameters`: the profile (``auto`` resolved from the GPU) and the ``-p`` parameters;
* :mod:`~helpers.tools.run.execute`: :func:`run_notebooks` and the papermill processes behind it;
* :mod:`~helpers.tools.run.record`: :class:`NotebookRun`, what happened to one notebook;
* :mod:`~helpers.tools.run.summary`: the summary table and ``summary.json``/``summary.md``;
* :mod:`~helpers.tools.run.cli`: the command line (:func:`main`).
"""

from helpers.tools.run.cli import build_parser, main
from helpers.tools.run.execute import DEFAULT_KERNEL, run_notebooks
from helpers.tools.run.parameters import PROFILES, declared_parameters, parse_value, resolve_run_profile
from helpers.tools.run.record import STATUSES, NotebookRun, format_number, headline_metrics
from helpers.tools.run.selection import DEFAULT_PATTERN, find_repo_root, resolve_notebooks
from helpers.tools.run.summary import summary_markdown, summary_table, write_summary

__all__ = [
    "NotebookRun",
    "run_notebooks",
    "resolve_notebooks",
    "find_repo_root",
    "resolve_run_profile",
    "parse_value",
    "headline_metrics",
    "format_number",
    "summary_table",
    "summary_markdown",
    "write_summary",
    "build_parser",
    "main",
]

# Also importable from here, as before the split: PROFILES, STATUSES, DEFAULT_PATTERN, DEFAULT_KERNEL,
# declared_parameters.
