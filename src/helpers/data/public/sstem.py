"""The Drosophila ssTEM set of Gerhard et al. (2013), read from its original files.

*Segmented anisotropic ssTEM dataset of neural tissue* (S. Gerhard, J. Funke, J. Martel,
A. Cardona, R. Fetter; figshare 2013, doi:10.6084/m9.figshare.856713; licence CC BY-NC-SA 3.0,
non-commercial use, cite the authors): serial-section TEM of the *Drosophila* third-instar larva
ventral nerve cord, 4.6 x 4.6 nm per pixel, 45-50 nm sections. Two stacks of 20 slices of
1024 x 1024 pixels (8-bit TIFF): ``stack1`` with hand-made masks, ``stack2`` without labels.

**Classes** (the few-shot paper's three): 0 background, 1 membrane, 2 mitochondria, built from
the binary masks ``stack1/membranes/NN.png`` and ``stack1/mitochondria/NN.png``:

* a mask pixel is set where its value is non-zero (the membrane masks are 1-bit PNGs; some
  mitochondria masks are 8-bit 0/255 with a few dozen anti-aliased intermediate values per slice);
* **membrane wins** where both masks are set (0.01-0.1 % of a slice's pixels): the dataset's
  own merged label files (``stack1/labels/labelsNNNNNNNN.png``) label those pixels membrane;
* with these two rules, class 2 equals the merged files' mitochondria value (191) on every pixel
  of the 20 slices but 2 (slice 00, where the merged file says intracellular), and every pixel the
  merged files call membrane (0, 32, 64, 96, 128) is class 1. The membrane masks are wider: they
  also cover the merged files' glia/extracellular (159) and part of the synapse (223) pixels, so
  ``source="labels"`` (membrane = 0..128, mitochondria = 191, the rest background) gives ~3 % less
  membrane. ``tests/data/public/test_sstem.py`` checks all of this on the files.

**Crops and split** (the paper: 256 x 256 crops of the 1024 x 1024 slices, 192/48/80 for
train/val/test): each slice gives a 4 x 4 grid of non-overlapping crops (16 per slice, 320 in
all), and the split is **by slice**, in blocks of consecutive slices: train = slices 00-11 (192
crops), val = 12-14 (48), test = 15-19 (80). Splitting the crops at random would put crops of
the same slice, which share cells and membranes, on both sides (leakage); consecutive slices are
45-50 nm apart and still show the same neurites, so contiguous blocks keep the shared
structures to the two block borders. The paper does not say how it split; this is our choice.

Files are fetched with pooch from a fixed commit of the public copy
(github.com/unidesigner/groundtruth-drosophila-vnc) and checked against the SHA-256 recorded
here, or read from ``data_root`` (a folder with ``stack1/`` and ``stack2/``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from helpers.core.checks import check_choice, check_positive_int
from helpers.data.public.download import fetch_files

__all__ = ["SSTEM_CLASSES", "SSTEM_FILES", "SSTEM_SPLITS", "SSTEM_URL", "load_sstem", "load_sstem_unlabelled",
           "sstem_classes_from_labels", "sstem_classes_from_masks"]

SSTEM_URL = ("https://raw.githubusercontent.com/unidesigner/groundtruth-drosophila-vnc/"
             "4a5f051466d24d8dc1e855ab55658bb1b1dcd6bf/")
SSTEM_CLASSES = ("background", "membrane", "mitochondria")
# Slices of stack 1 per split (16 crops of 256 x 256 per slice: 192 / 48 / 80 crops).
SSTEM_SPLITS = {"train": tuple(range(0, 12)), "val": tuple(range(12, 15)), "test": tuple(range(15, 20))}
SLICE_SIZE = 1024
# Values of the merged label files (dataset README): 0/32/64/96 oriented membrane, 128 membrane
# junction, 159 glia/extracellular, 191 mitochondria, 223 synapse, 255 intracellular.
LABEL_VALUES = (0, 32, 64, 96, 128, 159, 191, 223, 255)
# sha256 of every file, computed from the public copy.
SSTEM_FILES = {
    "stack1/raw/00.tif": "b76df299a184d9a8616aa7867a1b0f577313e97cc9fef826a0f76f65f9676383",
    "stack1/raw/01.tif": "718808c0149d6e24ee7b12085695c1ff8e3afb8e5dd13e18ca291fc9b60fcd09",
    "stack1/raw/02.tif": "0e2480e0164bcbc2704d76232919f5fcc0540988c6f91a8a78b8f514718717a4",
    "stack1/raw/03.tif": "1d6ca42fad097c8647b5e077ade1e7cb124d09aa11ef51b22c74367a44b04af6",
    "stack1/raw/04.tif": "6be1ca5151edf4ffbe79745ce3a1cad784a83fc5843120820ba4133474c41bab",
    "stack1/raw/05.tif": "5c208cd81d2bebe969e07f5c6717514e8c5c2e9967bac3685ddb71add9142b94",
    "stack1/raw/06.tif": "db5ad4774950f7b0656853328bd8ef1e43f7b0790bf417c760a0cf1a1ac9999e",
    "stack1/raw/07.tif": "5a0611902a45f3bf368ffc3312c74b0f2a8f923bba6f73d9041c727d3060bfbf",
    "stack1/raw/08.tif": "9cff4e390c3604152a2b7a70d99e96edc45d1e50b48ae64b042ed2220fbdfbb9",
    "stack1/raw/09.tif": "eeb17b2971d467a96525d879037d69d5973c998f5e4bcafe6d9adec08b4457a5",
    "stack1/raw/10.tif": "6a9debebb6e78e0789b732d16ef4755011b5047299f9f1c22edb28a06c106a16",
    "stack1/raw/11.tif": "318f17e45754e890ab7df384a1f3941bebeea4864fe4b49a34758a858de56bbe",
    "stack1/raw/12.tif": "6e1a8b23083641cb4a066d281ff4c5149056a0f17b32e68d04c57948ef6f5547",
    "stack1/raw/13.tif": "564970a899a67aab0ad899d22d19c43b68f6eeb01d893f5770ebc114cb4bd12c",
    "stack1/raw/14.tif": "7a3bfd5951dbe637c764e51835a3d59c63de33b2dbcc9b0d70a0302a30dde904",
    "stack1/raw/15.tif": "80ab55b19d877d791f2e008343ea1eb2315bd9dfe53bec141ea99c05a66b20c0",
    "stack1/raw/16.tif": "ea86c994d2b9a2fe0764fcdbafd8b1fa21c091cb8ebac333e3c64ed6aa645647",
    "stack1/raw/17.tif": "5cb536a565b57e6ccd47ef619d1f4e7cd4eae8d11eb5a1c7ea8bf6ac50d51eca",
    "stack1/raw/18.tif": "bbe3f7b85d499899e7dec31ec9be1f75cd82fad710dc8a68bd24531fecf3e584",
    "stack1/raw/19.tif": "a9c2710133d4791cad456db91fdf03d2cf44f3c517514f55efda596f4a4cd642",
    "stack1/membranes/00.png": "69b32be7703e1d857ed6286cb10d14324ffd75e26a80c9b5be86fdde8ce869dd",
    "stack1/membranes/01.png": "237c0c6c58f0b213d5319415b4a794e3703ffeff70b4af77c023f2c7e566359f",
    "stack1/membranes/02.png": "d7a5e1351d99d250bda5765b5573b2b66aa3bad39d518a62173301b532e1b1a3",
    "stack1/membranes/03.png": "48b145fb2dc5e5c01a44ab97c8deb0371ad549d8abba36e9e26bec5c0c3d935b",
    "stack1/membranes/04.png": "fabd6ed75c1ab1129d25b82d7b05b6e3e47ecd4fded5e8c50bebc79e52d338a2",
    "stack1/membranes/05.png": "cf2a0cf4d359511eec00465c79320081202e1a9e0ef7acf646ac868ef01f864e",
    "stack1/membranes/06.png": "f7671946c367eb6da32eeb8dc3650736fc3a5bc598e03867195b28d5ba04e169",
    "stack1/membranes/07.png": "12651668648abda93acfc7b1d9163f42de0db24dfaf0081cb2bc145c303b8859",
    "stack1/membranes/08.png": "0917cdaa7e0b657d6e4897bb0268d8a1019bad56d55488559c6b7476a81fc660",
    "stack1/membranes/09.png": "1719691ffd18184091d32d993547e90787fea106a4d13049458f318c01369177",
    "stack1/membranes/10.png": "abefd5269b3e432d043015e9e635e37cd210f63e036a115f325c38f29f70e7d3",
    "stack1/membranes/11.png": "ab3751ea05eecd5dfb0d8a538807fcdd384bf7b657be1ade9cfc1fbb0567a5d3",
    "stack1/membranes/12.png": "de74415ed1d0a0c1f3f7e4321674fddde55afaf112abf56b16d4289f4516cb42",
    "stack1/membranes/13.png": "404138498926cfb45c756d4c693cb9e6b088afbd0237f48422253c9a89608458",
    "stack1/membranes/14.png": "22534cbddc8ab0c0ddbc88803a20c4982804d6e931af83ce92bce28e20edecb0",
    "stack1/membranes/15.png": "4ab2d40bc25422d835952807270c03cacae3ac698f8b9785437cc97f4f89aef3",
    "stack1/membranes/16.png": "0a4565fb902354aa98e03eb8c4ccdae5784fbf8aa82cc1e84dad15226853cca3",
    "stack1/membranes/17.png": "4b70f3bef110f6276fc8de6da43d4b7726e00d068ffa5b70107d08748adb07f8",
    "stack1/membranes/18.png": "1561c68934295328aab90477e5067bb033ec5ffd0c4a854e90facdabf5baf448",
    "stack1/membranes/19.png": "c13f72d5c4734750312469bd45f6a1c3191143faec96903623f9c725713a922a",
    "stack1/mitochondria/00.png": "511bbbe9ce687a0422728fcc5921f5e5cb553aa9601518bf193325df19a0841f",
    "stack1/mitochondria/01.png": "2e8a00b9d45eb0731cea31d0bdb3f001591c3a7bd4c29566437a65add85dfa90",
    "stack1/mitochondria/02.png": "73d3fefd0be7846ff27debbae41c52630913aa79233151b19f7cb6b4cf69e48f",
    "stack1/mitochondria/03.png": "e0377cb8e617ff8dda0dfcc920eb4d513d7809bfd7ccc13f059c651afe224f93",
    "stack1/mitochondria/04.png": "766dba641e9f15443e154b1c58f12e1a63aa526102329b42f2934430e0195919",
    "stack1/mitochondria/05.png": "3afce96c2e5586153f3f3f94916688ee049c1dea8af42d5b66f72a19612be91d",
    "stack1/mitochondria/06.png": "b9522d90da07f087418af695ab557cc5691548edcff8ca71143a6a0dd1694230",
    "stack1/mitochondria/07.png": "475b66b3a96970d17f2e8bfe466a61232582640fb91e62ba1643250451ce701b",
    "stack1/mitochondria/08.png": "7327b9c3627d6a57afecd95884b51160ae42823240e8a71c29d3d4c7c47f63e2",
    "stack1/mitochondria/09.png": "d276b2913dbf0505e59a01e4c7616a8ab66c2fd87431af5fa32800990f02c377",
    "stack1/mitochondria/10.png": "ad41c7ce9e4b44dacb509c861ab263f783fdd4624518dbdc5731a5dea171b973",
    "stack1/mitochondria/11.png": "c02adc9a9a9df771d7e798ad01f1048b46d404cbea9c5e7705d26b80a8edf180",
    "stack1/mitochondria/12.png": "66f7035ea748ebb96a73ce1b710fe129b2332b31106cb94615627e93c50e747f",
    "stack1/mitochondria/13.png": "0bc359db0dc5ddc31e735136695ea88015bdeb37ddfc3e6e89f604918e4765c5",
    "stack1/mitochondria/14.png": "44c833e85d8240e3e8bbc34d9fba07d29be9d9cdd71c18b12a4c70e597502c72",
    "stack1/mitochondria/15.png": "6823e4900e1457c7249b87876298f3cba5339d1a8e34c83f5a2766d024f7b54a",
    "stack1/mitochondria/16.png": "5ffe5edaa15ad53dee648736aeffc76fd1e256e13b40b7b34cb65e3a38fdaeef",
    "stack1/mitochondria/17.png": "b812bb16171af4ea1bfde98401f0a7de6a4481cc475d9856affc2fbe7aad4e73",
    "stack1/mitochondria/18.png": "d0eddd9355e95cb3aa0c438f831fcd8e884627e96beac4ae723d2e9c68f41176",
    "stack1/mitochondria/19.png": "92d28e2c28b9068c3efae4e26dd9a31b64efb8082813097d097a4b3f9ad2001f",
    "stack1/labels/labels00000000.png": "ac5effe12dd4ba1be1ba7a65606cca52d75f227b8342b1375a6c9c6f1b1d2d46",
    "stack1/labels/labels00000001.png": "04310c96efc2456b98f50320d55c25e0a73448b9e761d9c0f675d561484e112f",
    "stack1/labels/labels00000002.png": "9caa63a024514b628e017d5df87b6e97304cdb33c77dedddf3b05af0094f8cfd",
    "stack1/labels/labels00000003.png": "e6c0deddfdbc19bc50ebef75f23800ab75ab233e4bb7e37a7a0f9f0d4ffcbc3d",
    "stack1/labels/labels00000004.png": "5cc5cab300fa49ed707dce371ce117fe2ef2e3d5ad1b7ade7e6a912dac627c21",
    "stack1/labels/labels00000005.png": "e79b0bbc7db40879cc3b3e548f04ce36c08268188cef48cd36acc0fc117fc89f",
    "stack1/labels/labels00000006.png": "7a0d0a0b5068747f30f2db273fd7b9add8370c324a073eb1bb8b642df162157d",
    "stack1/labels/labels00000007.png": "01f993e245165b2adce9a46306e0026e096112af93b5e031c6f0968463143e87",
    "stack1/labels/labels00000008.png": "e412bd39fa5ccc797ba7a3ffdf450fa6dc5b0ff2412375e381cf22c580540b21",
    "stack1/labels/labels00000009.png": "c4932566c11bedd58333ab2fc60c1f211509ef5db9bdb841d0df086f4a3bb794",
    "stack1/labels/labels00000010.png": "beecf7d14b69f0fe7e856fd45a3d49fa15c40a0e3efccc48ee3d7cba8018ceea",
    "stack1/labels/labels00000011.png": "f9bec2fdddf5b502a3e74ae91769006b6d9b6de34dab3e2b16ed4a5a8d42156c",
    "stack1/labels/labels00000012.png": "186c123ce2d61e48b0a8f5336a6d5e7ae6ee5ab7e2dc93c36d00f642f5584b3c",
    "stack1/labels/labels00000013.png": "5cc3e9f7a6be05e45dbcc84ae1238d828ab32ee9def5520f26cb689cb93110bb",
    "stack1/labels/labels00000014.png": "a0dc0b705ac63863599ccd2b1c181ee9b2552a29693e4bee6851dd5d39d2cc7e",
    "stack1/labels/labels00000015.png": "fcf4d6dcda4a10bf1f93267041b555c5bb49429817a22cd10f3a7d98ff6e6583",
    "stack1/labels/labels00000016.png": "e5bdd253501b70c55e2ae06b2b1aa715a48ee5e2f943d8964cd78b8a75bec06c",
    "stack1/labels/labels00000017.png": "50c5d28232371017ae3faf83bdab988f43d7a87c131859a00b8e57bdc20409f4",
    "stack1/labels/labels00000018.png": "97621f0125964ed403b2d01430564ab35afd07a11aa1b6fcfebc8a5ff61c98bc",
    "stack1/labels/labels00000019.png": "06e38c05c48420af2d34b1baa1cbfc1effcbbe69c17a6410cccb899f48b59b37",
    "stack2/raw/00.tif": "ba820345b8e34c48ff18d9e9375a870da48116c68f3f93e92cd91577e53969b4",
    "stack2/raw/01.tif": "feb1b3da2a40c829e6c00ed7a94ed3e82bf2832a6ca7b7a290816da3caac4f32",
    "stack2/raw/02.tif": "a68b408f6d60285bf4cdcc2ea6bb2d2ba6991ee61783b82972d9d1c922f40388",
    "stack2/raw/03.tif": "651d0a4cc01f8e9503934de327913b40c5dde80fad6937f0ff0c0838d9f0993a",
    "stack2/raw/04.tif": "585a27e3f3c2d5eec042a854bf3b0dd37f27488b0b94b61c6a78fd93fb0fc5b6",
    "stack2/raw/05.tif": "f4020bbcb319466dddbd2eae4734c3cd15f2d2b8b697cdb9dd3a36fd9121ced0",
    "stack2/raw/06.tif": "221e477f13d9e70e68bfe308ec5d011635547b44b3944df8fbf47e1486303d53",
    "stack2/raw/07.tif": "5a818221bb96db051c6e2cace182ea509f3e8ff08763e46d129731c71da0ebdf",
    "stack2/raw/08.tif": "f2d2a323e5152d9026e4f845223f7c01905390f031a7467c876ef15f3dddcda2",
    "stack2/raw/09.tif": "8a09d374318007289df950f3e3e1c44eb0e67ef99dc9a9d4e4138e18fc605308",
    "stack2/raw/10.tif": "c52f5a579e4c9c3b0611aff27d446463152e4a6bd187e8774dafd457671b6887",
    "stack2/raw/11.tif": "3edbb068e9e8892241fbdadd3374901ebd1605ca5e3c94ca55458a480aff8ddb",
    "stack2/raw/12.tif": "b1121728e26f83952c3d7bafb73f210aaf64f8c7b1440a1e6195037454ae54ea",
    "stack2/raw/13.tif": "99570ac6b5ff25f235cca55f7bab65601ca93d79ddc25df755a00cb50715eed7",
    "stack2/raw/14.tif": "1233bee740c291b8b6fe93b71aee350c8e92b4468ae54dec166a84e91d64ac25",
    "stack2/raw/15.tif": "22a4cdff88a99885e942e01195379acb40490e7808c61a37cdfff95c28642449",
    "stack2/raw/16.tif": "031626bc7414968ebf615d6cfff1225cfa602152b04e0a5b2b016c09d5965bf7",
    "stack2/raw/17.tif": "0ede012bc7a997024346497d4f73b807b510efd31ee7d1dd3a94af2edf39a616",
    "stack2/raw/18.tif": "2d2851b32fc23eb06e76f55577f3e3b9fb9e6908b92750c5f1188fdeb951ee35",
    "stack2/raw/19.tif": "2916cd3f714222bfa6a22ba238b9f8f7272ace639f21980694da02e6ea561235",
}


def _slice_files(slices: tuple[int, ...], source: str) -> dict[str, str]:
    names = [f"stack1/raw/{i:02d}.tif" for i in slices]
    if source == "masks":
        names += [f"stack1/{kind}/{i:02d}.png" for kind in ("membranes", "mitochondria") for i in slices]
    else:
        names += [f"stack1/labels/labels{i:08d}.png" for i in slices]
    return {name: SSTEM_FILES[name] for name in names}


def _resolve_root(data_root: str | os.PathLike | None) -> str | os.PathLike | None:
    """Accept the dataset folder itself or a folder holding ``drosophila_sstem/``."""
    if data_root is None:
        return None
    p = Path(data_root).expanduser()
    if not (p / "stack1").is_dir() and (p / "drosophila_sstem" / "stack1").is_dir():
        return p / "drosophila_sstem"
    return data_root


def _read(path: Path, what: str) -> np.ndarray:
    """Read one slice file and check it is a 1024 x 1024 single-channel image."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; expected the ssTEM {what} ({SLICE_SIZE} x {SLICE_SIZE})")
    if path.suffix == ".tif":
        import tifffile

        try:
            arr = np.asarray(tifffile.imread(path))
        except Exception as exc:  # tifffile raises many kinds of errors for corrupt files
            raise ValueError(f"cannot read {path} as a TIFF ({type(exc).__name__}: {exc}); expected the ssTEM {what}, "
                             f"an 8-bit {SLICE_SIZE} x {SLICE_SIZE} greyscale TIFF") from exc
    else:
        from PIL import Image

        try:
            with Image.open(path) as im:
                # 1-bit masks arrive as bool, 8-bit ones as uint8: keep the raw values.
                arr = np.asarray(im if im.mode in ("1", "L") else im.convert("L"))
        except Exception as exc:
            raise ValueError(f"cannot read {path} as a PNG ({type(exc).__name__}: {exc}); expected the ssTEM "
                             f"{what}") from exc
    if arr.shape != (SLICE_SIZE, SLICE_SIZE):
        raise ValueError(f"{path} has shape {arr.shape}; expected the ssTEM {what} "
                         f"of {SLICE_SIZE} x {SLICE_SIZE} pixels")
    if path.suffix == ".tif" and arr.dtype != np.uint8:
        raise ValueError(f"{path} has dtype {arr.dtype}; expected the ssTEM {what} as 8-bit greyscale")
    return arr


def sstem_classes_from_masks(membrane: np.ndarray, mitochondria: np.ndarray) -> np.ndarray:
    """Class map (uint8: 0 background, 1 membrane, 2 mitochondria) from the two binary masks.

    A mask pixel counts where it is non-zero; membrane wins where both are set (as in the
    dataset's merged label files).

    Example:
        >>> sstem_classes_from_masks(np.array([[1, 0, 0]]), np.array([[255, 255, 0]]))
        array([[1, 2, 0]], dtype=uint8)
    """
    membrane, mitochondria = np.asarray(membrane), np.asarray(mitochondria)
    if membrane.shape != mitochondria.shape:
        raise ValueError(f"membrane and mitochondria masks must have the same shape, got {membrane.shape} "
                         f"and {mitochondria.shape}")
    out = np.zeros(membrane.shape, np.uint8)
    out[mitochondria != 0] = 2
    out[membrane != 0] = 1
    return out


def sstem_classes_from_labels(labels: np.ndarray) -> np.ndarray:
    """Class map (uint8) from a merged label file: 0..128 membrane, 191 mitochondria, rest background.

    Raises:
        ValueError: values outside the dataset's documented set.

    Example:
        >>> sstem_classes_from_labels(np.array([[0, 128, 159, 191, 255]], np.uint8))
        array([[1, 1, 0, 2, 0]], dtype=uint8)
    """
    labels = np.asarray(labels)
    unknown = sorted(set(np.unique(labels).tolist()) - set(LABEL_VALUES))
    if unknown:
        raise ValueError(f"merged ssTEM labels must take the values {list(LABEL_VALUES)}, found {unknown[:8]}")
    lut = np.zeros(256, np.uint8)
    lut[[0, 32, 64, 96, 128]] = 1
    lut[191] = 2
    return lut[labels.astype(np.uint8)]


def _check_crop(crop_size: int) -> int:
    crop_size = check_positive_int(crop_size, "crop_size", minimum=16)
    if SLICE_SIZE % crop_size:
        raise ValueError(f"crop_size must divide the slice size {SLICE_SIZE} (e.g. 128, 256, 512), got {crop_size}")
    return crop_size


def _crop_grid(stack: np.ndarray, crop: int) -> np.ndarray:
    """``(S, 1024, 1024)`` -> ``(S * k * k, crop, crop)`` non-overlapping crops, row-major per slice."""
    s, k = stack.shape[0], SLICE_SIZE // crop
    return stack.reshape(s, k, crop, k, crop).transpose(0, 1, 3, 2, 4).reshape(s * k * k, crop, crop)


def _crop_names(stack: str, slices: tuple[int, ...], crop: int) -> list[str]:
    k = SLICE_SIZE // crop
    return [f"{stack}/{i:02d}_y{r * crop}_x{c * crop}" for i in slices for r in range(k) for c in range(k)]


def load_sstem(split: str = "train", data_root: str | os.PathLike | None = None, *, crop_size: int = 256,
               source: str = "masks") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labelled crops of ssTEM stack 1 (the few-shot paper's Drosophila cell images).

    Args:
        split: ``"train"`` (slices 00-11, 192 crops of 256 px), ``"val"`` (12-14, 48),
            ``"test"`` (15-19, 80) or ``"all"`` (320); split by slice, see the module docstring.
        data_root: a local copy (the folder holding ``stack1/``, or its parent holding
            ``drosophila_sstem/``); without it the files are downloaded into
            ``$HELPERS_DATA_DIR/drosophila_sstem`` (or found there) and hash-checked.
        crop_size: side of the square crops; must divide 1024 (1024 = whole slices).
        source: ``"masks"`` (the binary membrane and mitochondria masks, default) or
            ``"labels"`` (the merged label files), see the module docstring.

    Returns:
        ``images`` float32 ``(N, crop, crop)`` in [0, 1]; ``labels`` uint8 ``(N, crop, crop)``
        with 0 background, 1 membrane, 2 mitochondria; names ``"stack1/SS_yY_xX"`` (slice, crop
        origin), crops of a slice in row-major order.

    Raises:
        ValueError: unknown split or source, a bad crop size, a file that is not the expected
            1024 x 1024 image (the message names it).
        FileNotFoundError: ``data_root`` lacks a file (named).
        RuntimeError: a download failed or a file's hash did not match.

    Example:
        >>> # x, y, names = load_sstem("train")        # 192 crops; y.max() == 2
    """
    check_choice(split, "split", (*SSTEM_SPLITS, "all"))
    check_choice(source, "source", ("masks", "labels"))
    crop = _check_crop(crop_size)
    slices = tuple(range(20)) if split == "all" else SSTEM_SPLITS[split]
    root = fetch_files("drosophila_sstem", SSTEM_URL, _slice_files(slices, source), data_root=_resolve_root(data_root))
    raws, labels = [], []
    for i in slices:
        raws.append(_read(root / f"stack1/raw/{i:02d}.tif", f"raw slice {i:02d} of stack 1"))
        if source == "masks":
            mem = _read(root / f"stack1/membranes/{i:02d}.png", f"membrane mask of slice {i:02d}")
            mito = _read(root / f"stack1/mitochondria/{i:02d}.png", f"mitochondria mask of slice {i:02d}")
            labels.append(sstem_classes_from_masks(mem, mito))
        else:
            path = root / f"stack1/labels/labels{i:08d}.png"
            merged = _read(path, f"merged label map of slice {i:02d}")
            try:
                labels.append(sstem_classes_from_labels(merged))
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
    images = _crop_grid(np.stack(raws), crop).astype(np.float32) / 255.0
    return images, _crop_grid(np.stack(labels), crop), _crop_names("stack1", slices, crop)


def load_sstem_unlabelled(data_root: str | os.PathLike | None = None, *,
                          crop_size: int = 256) -> tuple[np.ndarray, list[str]]:
    """Crops of ssTEM stack 2 (20 slices, no labels): the pool for pseudo-labels.

    Args:
        data_root, crop_size: as in :func:`load_sstem`.

    Returns:
        ``images`` float32 ``(320, 256, 256)`` in [0, 1] (for the default crop) and names
        ``"stack2/SS_yY_xX"``.

    Example:
        >>> # x, names = load_sstem_unlabelled()      # 320 crops of 256 x 256
    """
    crop = _check_crop(crop_size)
    slices = tuple(range(20))
    files = {f"stack2/raw/{i:02d}.tif": SSTEM_FILES[f"stack2/raw/{i:02d}.tif"] for i in slices}
    root = fetch_files("drosophila_sstem", SSTEM_URL, files, data_root=_resolve_root(data_root))
    raws = [_read(root / f"stack2/raw/{i:02d}.tif", f"raw slice {i:02d} of stack 2") for i in slices]
    return _crop_grid(np.stack(raws), crop).astype(np.float32) / 255.0, _crop_names("stack2", slices, crop)
