"""Data: deterministic synthetic generators and loaders for the public datasets."""

from .download import data_dir, fetch_files, load_tbm_grain_boundaries
from .folder import load_image_mask_folder, read_image
from .scenes import plot_scene_examples, synthetic_leaves, synthetic_scenes
from .sem import plot_sem_examples, synthetic_sem
from .synthetic import synthetic_shapes

__all__ = ["data_dir", "fetch_files", "load_image_mask_folder", "load_tbm_grain_boundaries", "plot_sem_examples",
           "plot_scene_examples", "read_image", "synthetic_leaves", "synthetic_scenes", "synthetic_sem", "synthetic_shapes"]
