"""Data: deterministic synthetic generators and loaders for the public datasets."""

from .download import data_dir, fetch_files, load_tbm_grain_boundaries
from .folder import (FolderDataset, load_class_folder, load_image_mask_folder, load_leaf_folder,
                     load_segmentation_folder, parse_mask_map, read_image)
from .isbi import load_isbi2012
from .scenes import plot_scene_examples, synthetic_leaves, synthetic_scenes
from .sem import plot_sem_examples, synthetic_sem
from .sstem import SSTEM_CLASSES, load_sstem, load_sstem_unlabelled
from .synthetic import synthetic_shapes
from .synthetic_em import plot_em_examples, synthetic_em
from .synthetic_membranes import plot_membrane_examples, synthetic_membranes

__all__ = ["FolderDataset", "SSTEM_CLASSES", "data_dir", "fetch_files", "load_class_folder", "load_image_mask_folder",
           "load_isbi2012", "load_leaf_folder", "load_segmentation_folder", "load_sstem", "load_sstem_unlabelled",
           "load_tbm_grain_boundaries", "parse_mask_map", "plot_em_examples", "plot_membrane_examples",
           "plot_scene_examples", "plot_sem_examples", "read_image", "synthetic_em", "synthetic_leaves",
           "synthetic_membranes", "synthetic_scenes", "synthetic_sem", "synthetic_shapes"]
