"""Reading a folder of your own images: the way to point any notebook at your micrographs.

Two layouts:

* **segmentation** (:func:`load_segmentation_folder`): ``root/images/`` and ``root/masks/``, pairs
  matched by file stem (PNG, JPEG, TIFF, BMP; 8- or 16-bit; greyscale or RGB). A mask holds class
  indices (0, 1, 2, ...), a binary mask (0/255 or 0/1), a palette PNG (its palette *index* is the
  class), grey values with a ``mask_map`` (``{"0": 0, "85": 1, ...}``) or RGB colours with a colour
  map (``{"#000000": 0, "#ff0000": 1}``).
* **classification** (:func:`load_class_folder`): one sub-folder of images per class.

Both take an optional ``split/`` folder of text files (``split/train.txt``, ``val.txt``,
``test.txt``, one stem a line) or make a seeded split, refuse with a message naming the file
anything they would otherwise read wrongly (unmatched stems, mask values or colours outside the map,
empty classes, splits smaller than ``min_per_split``), and return a :class:`FolderDataset` whose
:meth:`~FolderDataset.describe` is a JSON-ready record of the folder, its map and its split for
``results.json``.

Pixel values keep their meaning: images are scaled by their dtype's range (8-bit / 255, 16-bit /
65535) whatever the file format; 16-bit masks are never clipped.

Maps come in any form papermill can carry (``-p mask_map '{"0": 0, "255": 1}'``): see
:func:`parse_mask_map`.

The code, by concern: :mod:`~helpers.data.folder.mask_maps` (parsing maps, applying them to masks),
:mod:`~helpers.data.folder.splits` (listing and pairing files by stem, splits),
:mod:`~helpers.data.folder.images` (channels, scaling, resizing), :mod:`~helpers.data.folder.dataset`
(:class:`FolderDataset` and its report) and :mod:`~helpers.data.folder.loaders` (the entry points) and :mod:`~helpers.data.folder.layouts` (what the
notebooks need around them: is ``data_root`` your folder, a tag for their caches, one-class folders).
"""

from helpers.data.folder.dataset import FolderDataset
from helpers.data.folder.layouts import crop_to, folder_tag, is_segmentation_folder, load_binary_folder
from helpers.data.folder.loaders import (load_class_folder, load_image_mask_folder, load_leaf_folder,
                                         load_segmentation_folder)
from helpers.data.folder.mask_maps import MAX_LEVELS, Key, MaskMap, format_mask_map, parse_mask_map  # noqa: F401
from helpers.data.folder.splits import DEFAULT_FRACTIONS
from helpers.data.image_io import IMAGE_SUFFIXES, read_image, read_mask, scale_image

__all__ = [
    "DEFAULT_FRACTIONS", "IMAGE_SUFFIXES", "FolderDataset", "crop_to", "folder_tag", "format_mask_map",
    "is_segmentation_folder", "load_binary_folder", "load_class_folder", "load_image_mask_folder", "load_leaf_folder",
    "load_segmentation_folder", "parse_mask_map", "read_image", "read_mask", "scale_image",
]
