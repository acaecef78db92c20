"""Notebook 03 (rubber-filler classification): the C4Fk study, the search strategies run in parallel,
and the classical baselines."""
