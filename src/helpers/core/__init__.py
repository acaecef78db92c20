"""The course's foundation, imported by every layer above it and importing none of them.

* :mod:`~helpers.core.checks`: argument checks with messages that say what was expected;
* :mod:`~helpers.core.runtime`: profiles (``auto``/``smoke``/``lite``/``full``), devices, seeds, output folders;
* :mod:`~helpers.core.results`: a notebook's ``results.json`` (metrics and claims);
* :mod:`~helpers.core.claims`: a claim as a measured comparison (effect, uncertainty, verdict);
* :mod:`~helpers.core.sweeps`: runs cached one line at a time, so an interrupted sweep resumes;
* :mod:`~helpers.core.progress`: progress bars, live in Jupyter and a single final line in an executed notebook.
"""
