"""Data: deterministic synthetic generators and loaders for the public datasets."""

from helpers.data.public.download import data_dir, fetch_files
from helpers.data.public.tbm import load_tbm_grain_boundaries
from helpers.data.folder import (FolderDataset, load_class_folder, load_image_mask_folder, load_leaf_folder,
                     load_segmentation_folder, parse_mask_map, read_image)
from helpers.data.public.isbi import load_isbi2012
from helpers.data.synthetic.scenes import plot_scene_examples, synthetic_leaves, synthetic_scenes
from helpers.data.synthetic.sem import plot_sem_examples, synthetic_sem
from helpers.data.public.sstem import SSTEM_CLASSES, load_sstem, load_sstem_unlabelled
from helpers.data.synthetic.noise import synthetic_shapes
from helpers.data.synthetic.em import plot_em_examples, synthetic_em
from helpers.data.synthetic.membranes import plot_membrane_examples, synthetic_membranes

__all__ = ["FolderDataset", "SSTEM_CLASSES", "data_dir", "fetch_files", "load_class_folder", "load_image_mask_folder",
           "load_isbi2012", "load_leaf_folder", "load_segmentation_folder", "load_sstem", "load_sstem_unlabelled",
           "load_tbm_grain_boundaries", "parse_mask_map", "plot_em_examples", "plot_membrane_examples",
           "plot_scene_examples", "plot_sem_examples", "read_image", "synthetic_em", "synthetic_leaves",
           "synthetic_membranes", "synthetic_scenes", "synthetic_sem", "synthetic_shapes"]
