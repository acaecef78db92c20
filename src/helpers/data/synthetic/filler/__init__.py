"""Synthetic 3D silica-filler structures in rubber and the 2D slices the filler paper classifies.

The paper classifies 2D slices of 3D filler structures into three classes: end-modified SBR
(**M-SBR**, well dispersed, small aggregates), unmodified SBR (**n-SBR**, large branched aggregates)
and randomly placed particles (**Rnd**). Its structures are not public, so the course builds all
three here and cuts them the way the paper does: planes at random positions and orientations,
square fields of view of (250 nm)^2, (500 nm)^2 or (1000 nm)^2.

The code, by concern: :mod:`~helpers.data.synthetic.filler.packing` (hard spheres in a periodic box),
:mod:`~helpers.data.synthetic.filler.structure` (the three morphologies; its docstring describes how
each is built), :mod:`~helpers.data.synthetic.filler.slicing` (planar cuts rendered as micrographs) and
:mod:`~helpers.data.synthetic.filler.dataset` (the labelled data set, built in worker processes, with
its structures cached, and the example figure).

Every random number comes from one ``np.random.default_rng(seed)``, so a seed gives the same
structure, the same slices and the same data set.
"""

from helpers.data.synthetic.filler.dataset import filler_dataset, plot_filler_examples
from helpers.data.synthetic.filler.slicing import render_plane, slice_images
from helpers.data.synthetic.filler.structure import MORPHOLOGIES, PAPER_NAMES, filler_structure

__all__ = ["MORPHOLOGIES", "PAPER_NAMES", "filler_dataset", "filler_structure", "plot_filler_examples",
           "render_plane", "slice_images"]
