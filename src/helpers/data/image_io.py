"""Decoding one image or mask file into a NumPy array whose values keep their meaning.

Pixel values are returned in the file's own dtype (8-bit as ``uint8``, 16-bit as ``uint16``, never
clipped), a palette file keeps its palette indices next to its palette, and an image is scaled to
[0, 1] by its dtype's range (``/255`` for 8-bit, ``/65535`` for 16-bit) whatever the file format, so
the same picture saved as PNG or as TIFF gives the same array.

TIFF files are read with :mod:`tifffile` (Pillow when tifffile lacks a codec), the rest with Pillow;
16-bit RGB PNGs, which Pillow can only reduce to 8 bits, with OpenCV when it is installed.

Example:
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> Image.fromarray(np.array([[0, 4000]], np.uint16)).save(tmp / "a.png")
    >>> read_image(tmp / "a.png")
    array([[   0, 4000]], dtype=uint16)
    >>> scale_image(read_image(tmp / "a.png")) * 65535
    array([[   0., 4000.]], dtype=float32)
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_TIFF_SUFFIXES = (".tif", ".tiff")
_EXPECTED = "expected a PNG, JPEG, TIFF or BMP file"

__all__ = ["IMAGE_SUFFIXES", "Decoded", "decode", "read_image", "read_mask", "scale_image", "to_grey"]


class UnsupportedImage(ValueError):
    """A file that decodes but holds something the loaders refuse (a stack, a 32-bit image...)."""


@dataclass(frozen=True)
class Decoded:
    """One decoded file.

    Attributes:
        values: ``(H, W)`` or ``(H, W, 3)`` in the file's own dtype (palette files: the indices).
        palette: ``(n, 3)`` colours of a palette file (index ``i`` has colour ``palette[i]``), else None.
        fmt: what was read, e.g. ``"PNG L"``, ``"TIFF uint16"`` (for reports).
    """

    values: np.ndarray
    palette: np.ndarray | None
    fmt: str

    @property
    def kind(self) -> str:
        """``"palette"``, ``"grey"`` or ``"rgb"``."""
        if self.palette is not None:
            return "palette"
        return "rgb" if self.values.ndim == 3 else "grey"

    def colours(self) -> np.ndarray:
        """The pixels as ``(H, W, 3)`` colours (a palette file through its palette, grey repeated)."""
        if self.palette is not None:
            idx = self.values
            if idx.size and int(idx.max()) >= len(self.palette):
                raise ValueError(f"palette index {int(idx.max())} beyond the palette's {len(self.palette)} colours")
            return self.palette[idx]
        if self.values.ndim == 2:
            return np.repeat(self.values[..., None], 3, -1)
        return self.values


def _cannot(p: Path, why: str) -> ValueError:
    return ValueError(f"cannot read {p} as an image ({why}); {_EXPECTED}")


def decode(path: str | os.PathLike) -> Decoded:
    """Decode one image file, keeping its dtype, its palette indices and its channels.

    Alpha channels are dropped; an EXIF orientation (phone photos) is applied, as image viewers do.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is empty, cannot be decoded, or holds a stack or several frames
            (the message names the file).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p} does not exist")
    if p.stat().st_size == 0:
        raise _cannot(p, "empty file, 0 bytes")
    errors = []
    if p.suffix.lower() in _TIFF_SUFFIXES:
        try:
            return _decode_tiff(p)
        except UnsupportedImage:
            raise
        except Exception as exc:  # a codec tifffile lacks (LZW without imagecodecs), or not a TIFF: try Pillow
            errors.append(f"tifffile: {type(exc).__name__}: {exc}")
    try:
        return _decode_pil(p)
    except UnsupportedImage:
        raise
    except Exception as exc:  # Pillow raises many kinds of errors for corrupt files
        errors.append(f"{type(exc).__name__}: {exc}")
    raise _cannot(p, "; ".join(errors))


def _decode_tiff(p: Path) -> Decoded:
    import tifffile

    with tifffile.TiffFile(p) as tif:
        series, page = tif.series[0], tif.pages[0]
        photometric = int(page.photometric)
        if photometric not in (0, 1, 2, 3):  # CMYK, YCbCr, CIELab...: Pillow converts those
            raise ValueError(f"photometric {photometric}")
        arr, axes = np.asarray(series.asarray()), str(series.axes)
        colormap = page.colormap if photometric == 3 else None
    keep = [i for i, s in enumerate(arr.shape) if s != 1 or axes[i] in "YX"]
    arr, axes = arr.reshape([arr.shape[i] for i in keep]), "".join(axes[i] for i in keep)
    if arr.ndim == 3 and axes.startswith("S") and arr.shape[0] in (2, 3, 4):  # planar RGB(A)
        arr, axes = np.moveaxis(arr, 0, -1), axes[1:] + "S"
    if arr.ndim == 3 and axes.endswith("S") and arr.shape[-1] in (2, 3, 4):
        arr = arr[..., 0] if arr.shape[-1] == 2 else arr[..., :3]  # drop alpha
    if arr.ndim != 2 and not (arr.ndim == 3 and arr.shape[-1] == 3):
        raise UnsupportedImage(f"{p} holds an array of shape {arr.shape} (axes {axes}); expected one 2-D image per "
                               "file, greyscale or RGB (save each slice of a stack as its own file)")
    if photometric == 0 and arr.ndim == 2:  # MINISWHITE: 0 is white
        arr = ~arr if arr.dtype == bool else (np.iinfo(arr.dtype).max - arr if arr.dtype.kind in "ui" else arr.max() - arr)
    palette = None
    if colormap is not None:
        cmap = np.asarray(colormap).T  # (n, 3), 16-bit in TIFF
        palette = (cmap // 257).astype(np.uint8) if bool((cmap % 257 == 0).all()) else cmap.astype(np.uint16)
    return Decoded(np.ascontiguousarray(arr), palette, f"TIFF {arr.dtype}")


def _decode_pil(p: Path) -> Decoded:
    from PIL import Image, ImageOps

    with Image.open(p) as im:
        fmt = im.format or p.suffix.lstrip(".").upper()
        if getattr(im, "n_frames", 1) > 1:
            raise UnsupportedImage(f"{p} holds {im.n_frames} frames; expected one image per file "
                                   "(save each slice of a stack as its own file)")
        raw = im.tile[0][3] if im.tile and len(im.tile[0]) > 3 else None
        if isinstance(raw, str) and raw.startswith("RGB") and raw.endswith(";16B"):
            return Decoded(_read_rgb16(p), None, f"{fmt} RGB 16-bit")
        im = ImageOps.exif_transpose(im)
        mode = im.mode
        if mode == "P" or mode == "PA":
            idx = np.asarray(im)
            idx = idx[..., 0] if idx.ndim == 3 else idx
            pal = im.getpalette() or []
            palette = np.asarray(pal, np.uint8).reshape(-1, 3) if pal else np.zeros((0, 3), np.uint8)
            return Decoded(np.array(idx, np.uint8), palette, f"{fmt} palette")
        if mode in ("1", "L", "F"):
            arr = np.array(im)
        elif mode == "LA":
            arr = np.array(im)[..., 0]
        elif mode.startswith("I;16"):
            arr = np.array(im).astype(np.uint16)
        elif mode == "I":
            arr = np.array(im)
            if fmt == "PNG" and (arr.size == 0 or (int(arr.min()) >= 0 and int(arr.max()) <= 65535)):
                arr = arr.astype(np.uint16)  # older Pillow opens 16-bit grey PNGs as 32-bit "I"
        elif mode == "RGB":
            arr = np.array(im)
        elif mode == "RGBA":
            arr = np.array(im)[..., :3]
        else:  # CMYK, YCbCr, LAB, HSV, ...
            arr = np.array(im.convert("RGB"))
    return Decoded(np.ascontiguousarray(arr), None, f"{fmt} {mode}")


def _read_rgb16(p: Path) -> np.ndarray:
    """A 16-bit RGB PNG at full depth (OpenCV); without OpenCV, Pillow's 8-bit reduction with a warning."""
    try:
        import cv2
    except ImportError:
        from PIL import Image

        warnings.warn(f"{p} is a 16-bit RGB PNG; without OpenCV (pip install opencv-python-headless) it is read "
                      "at 8 bits (the high byte of each value)", stacklevel=4)
        with Image.open(p) as im:
            return np.array(im.convert("RGB"))
    arr = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ValueError("OpenCV could not decode it")
    if arr.ndim == 3:
        arr = arr[..., 2::-1]  # BGR(A) -> RGB
    return np.ascontiguousarray(arr)


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """Luminance of ``(H, W, 3)`` pixels in their own dtype (ITU-R 601-2, rounded as Pillow's ``"L"``).

    Example:
        >>> to_grey(np.array([[[255, 0, 0], [10, 10, 10]]], np.uint8))
        array([[76, 10]], dtype=uint8)
    """
    w = np.array([19595, 38470, 7471], np.float64) / 65536.0
    lum = rgb.astype(np.float64) @ w
    if rgb.dtype.kind in "ui":
        return np.floor(lum + 0.5).astype(rgb.dtype)
    return lum.astype(rgb.dtype if rgb.dtype.kind == "f" else np.float32)


def read_image(path: str | os.PathLike, grayscale: bool = True) -> np.ndarray:
    """Read one image file as a NumPy array in its own dtype (8-bit ``uint8``, 16-bit ``uint16``).

    Palette files come back as their colours; ``grayscale=True`` turns RGB into luminance (same
    dtype), ``grayscale=False`` keeps the file's channels (a grey file stays ``(H, W)``).
    Scale it to [0, 1] with :func:`scale_image`.

    Raises:
        ValueError: the file cannot be decoded as one image (the message names it).
    """
    d = decode(path)
    arr = d.values
    if d.palette is not None:
        arr = d.colours()
        if bool((arr == arr[..., :1]).all()):
            arr = arr[..., 0]
    if grayscale and arr.ndim == 3:
        arr = to_grey(arr)
    return arr


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read one mask file as stored: palette indices (not colours), grey values in their own dtype
    (a 16-bit label of 300 stays 300), or ``(H, W, 3)`` colours; 1-bit files as 0/1 ``uint8``."""
    d = decode(path)
    return d.values.astype(np.uint8) if d.values.dtype == bool else d.values


def scale_image(arr: np.ndarray, name: str = "image") -> np.ndarray:
    """Scale pixel values to float32 in [0, 1] by the range of their dtype.

    ``uint8`` / 255, ``uint16`` / 65535 (signed 8/16-bit: from the dtype's minimum), booleans as
    0/1, floats kept when they already lie in [0, 1]. Never by the image's own maximum, so values
    keep their meaning across images and file formats.

    Raises:
        ValueError: 32/64-bit integers, or floats outside [0, 1] (``name`` goes in the message).

    Example:
        >>> scale_image(np.array([0, 255], np.uint8)), scale_image(np.array([0, 65535], np.uint16))
        (array([0., 1.], dtype=float32), array([0., 1.], dtype=float32))
    """
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if arr.dtype.kind in "ui":
        if arr.dtype.itemsize > 2:
            raise ValueError(f"{name} holds {arr.dtype} pixels; expected an 8- or 16-bit image "
                             "(save it as 8- or 16-bit PNG/TIFF)")
        info = np.iinfo(arr.dtype)
        return ((arr.astype(np.float64) - info.min) / (info.max - info.min)).astype(np.float32)
    if arr.dtype.kind == "f":
        out = arr.astype(np.float32)
        if out.size and not (np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0):
            finite = out[np.isfinite(out)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (float("nan"),) * 2
            raise ValueError(f"{name} holds floating-point pixels in [{lo:.4g}, {hi:.4g}] (or NaN/inf); expected "
                             "values in [0, 1] (a float image has no fixed range: scale it, or save it as 8- or 16-bit)")
        return out
    raise ValueError(f"{name} holds {arr.dtype} pixels; expected 8- or 16-bit integers or floats in [0, 1]")
