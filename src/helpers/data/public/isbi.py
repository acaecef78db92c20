"""ISBI 2012 EM segmentation challenge: serial-section TEM of the *Drosophila* larva ventral nerve cord.

The kernel-tuning paper's data set A (and the data of DCN, U-Net and many others): 30 training
slices of 512 x 512 pixels (4 x 4 x 50 nm voxels) with membrane labels, and 30 test slices
whose labels the challenge never released. Cite Cardona et al. 2010 (PLoS Biol.,
doi:10.1371/journal.pbio.1000502) and Arganda-Carreras et al. 2015 (Front. Neuroanat.,
doi:10.3389/fnana.2015.00142); the challenge allows use for non-commercial segmentation
research (no open licence).

**Two layouts** are read (``data_root``, or ``$HELPERS_DATA_DIR/isbi2012``):

* the challenge's original stacks, ``train-volume.tif`` (30 x 512 x 512, 8-bit),
  ``train-labels.tif`` (same) and ``test-volume.tif``, in one folder;
* per-slice PNGs as in the public copy downloaded here (github.com/zhixuhao/unet at a fixed
  commit, ``data/membrane/``): ``train/image/N.png``, ``train/label/N.png`` and
  ``test/image/N.png`` (or ``test/N.png`` as in that repository), ``N = 0..29``, the slices of
  the stacks in order.

**Label polarity** (checked on all 30 label files of the public copy, see ``tests/data/public/test_isbi.py``):
the label images hold only 0 and 255, **0 (black) = membrane**, 255 (white) = cell interior.
Membranes are dark in the EM images too (mean grey 0.33 on membrane pixels, 0.54 elsewhere)
and cover 21.96 % of the pixels (16.8-27.0 % per slice). The loader returns
``mask = (label == 0)``, i.e. **membrane = 1, the positive class**. A label file with other
values, or one where "membrane" would cover more than half of the slice (an inverted copy),
is rejected with an error naming it.

**Split** (the paper: "3 of the 30 training images for validation", which three it does not
say): ``"train"`` = slices 0-26, ``"val"`` = slices 27-29 (the last three, so validation
slices border the training ones at one place only), ``"all"`` = 0-29, ``"test"`` = the 30
unlabelled test slices.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from helpers.core.checks import check_choice
from helpers.data.public.download import data_dir, fetch_files

__all__ = ["ISBI_FILES", "ISBI_SPLITS", "ISBI_URL", "load_isbi2012"]

ISBI_URL = "https://raw.githubusercontent.com/zhixuhao/unet/b45af4d458437d8281cc218a07fd4380818ece4a/data/membrane/"
#: Slice indices per split (``"test"`` indexes the test stack).
ISBI_SPLITS = {"train": tuple(range(27)), "val": (27, 28, 29), "all": tuple(range(30)), "test": tuple(range(30))}
N_SLICES = 30
#: Original stacks of the challenge: split -> (volume, labels).
ISBI_TIFFS = {"train": ("train-volume.tif", "train-labels.tif"), "test": ("test-volume.tif", None)}
# sha256 of every file of the public copy (local layout; the remote test images lack "image/").
ISBI_FILES = {
    "train/image/0.png": "12c0ed6f42fc09f512abf6b354f217c950e4c8223b57a0315449b62a14556523",
    "train/image/1.png": "2cfc7ee635a6f85d5faf5c82a71d3a37bf5af4784b554964e3e07193e3ee2166",
    "train/image/2.png": "fe60d8d4f93102666a23a18d718b4b59fab8e616987d11c5072f4a87fac7301f",
    "train/image/3.png": "636d16cbb02f99dda4c9fb6db98dfba066142afa981ffdcfaf54453982e8250c",
    "train/image/4.png": "991fb3a8e4abc73da1d6159ca28fa4397f0a8351f30a8ba3669c86414d2ce239",
    "train/image/5.png": "7e9d9fb787664336d6f2cd68b23986f04527e7f8f494410983b4d70c6de1de3b",
    "train/image/6.png": "7c0a87933ffc72f4ff02f5996d9c3f69fe9a0b5277507415743ad8afb5e5d308",
    "train/image/7.png": "19f2c25716107d41008c83ba8a814ae47a090e00dea766dde38dce1f00899270",
    "train/image/8.png": "a8979e4abd1a10af9ca75e614d97875659adbd8ee3a68eba483bf556cfe3023d",
    "train/image/9.png": "730ebf435ab0f6e625d342552ad03736799fd660d0c6af744674c61a46aa082a",
    "train/image/10.png": "7c3717bcd48c4b7e5c878d7f0b809b8687a4e6fac471f3863de320a82ee72b8a",
    "train/image/11.png": "dd7857b25ca1417f87c282750e22c50947f75e81fa032d4e0c96b902c9dc9757",
    "train/image/12.png": "9f8eff9239bb764d51524a998387a7babcff9f62161804651b030b81aabd5ab8",
    "train/image/13.png": "377e5cdbcd7f0ac7336f482fc7ead7446887863f26769b3841fe98aadca77dad",
    "train/image/14.png": "f50d2d77acd2df564c5f0f40b1b24cd929f5944460aa4cd90c422cb5cef33a59",
    "train/image/15.png": "3e13fdea09accc14f46fb2f3ffa1e882cdd9c53b28a6842c4c10229692c7d1a4",
    "train/image/16.png": "ffc951c12450f94129582c16fd0d4b165c4a31469b0c42d966f07c183d3132e2",
    "train/image/17.png": "0f4f7e8e0619e4c7d517ac68d3789a3b6248253747717eac418bb7d32bef4de3",
    "train/image/18.png": "1bb1edd50595861743d14e1955dfa5d3c9395fb87563eca6dc81433bf9df49de",
    "train/image/19.png": "999b55633f8d7082add72082656e9532c5c3d97203b376eb317f09ba88a5a5b7",
    "train/image/20.png": "9153d14bfd15955fab576ea23281c4f23104b45dceed6e03e0b254607f50a1b2",
    "train/image/21.png": "9ad07cf4f67984f17a08aa63e6d92d395ce55f5132e6ff4fa6d95d6890ea7f97",
    "train/image/22.png": "6278609b4c42a7cb43212de0e2e2ceded758bafe0856fb56214ce658a61668e4",
    "train/image/23.png": "9ef4e9fbc838b9791af83a36918d729a0ea2e90ebc71c4a3c4554059f9379756",
    "train/image/24.png": "f0f917b9c3e9c96d16ea287aff9b05ecf4de88bc61d478e4aefcb64932fba70c",
    "train/image/25.png": "e0154737e76392e8bf94fb2c0dfa5ddad4b53aeec942a0a8cdd8ba63443e6072",
    "train/image/26.png": "d0ff11e09b0ee0c817334946e746a38ab621161d5f9c46af95c68b851f8d9a1a",
    "train/image/27.png": "eed8e8bee1db8fe7af39b5b43ecf14282c5c33eca0959726eea06f662027eacc",
    "train/image/28.png": "974df4b51e8905bdaabe61e80496cbf331f5c9aa9ddc2cb94113f58c2b7d2837",
    "train/image/29.png": "d9ae868509c610a69acbf3d69cde4f36a8e344cbbc444f93c917bf7b9f3e784f",
    "train/label/0.png": "13b67edd7607a1f284c09170c96a27d38422b0ffaf88024ea5b689acb5e1b4b0",
    "train/label/1.png": "cff60a00de2901e67165c91d7708d784e4c5bcc9d1c8c677922c905d63bbc3d1",
    "train/label/2.png": "a578af998c017f56763b81941c4dc612dde5731809b2cea0e8ebc37aecb84dbb",
    "train/label/3.png": "c8ae3b843fed02e09411a24c10850160922c331041b17c2674025f05a99b8834",
    "train/label/4.png": "a2f19c01b5d982a97923a0d29e64127a05e3f496731480ac9d9d302b5427f7ff",
    "train/label/5.png": "2dd5779118f6f4d87f88ec112f1cea20663b50acb8c748b0db1f23eda82b5118",
    "train/label/6.png": "2b0984e9f31fb41d4c5f4a754a3e080036b7321a0cbd9591a62010d20a574ce7",
    "train/label/7.png": "2ebc8c835999589bfd7d80d81f83d24e5c41138362b0faafef0f009e1ce82144",
    "train/label/8.png": "db979010ca4fbdb38c8b32d455aed0da90d598153f2a0046b63d02a6efa32b9e",
    "train/label/9.png": "8ee6c79adbb740595c4d61776e065e7164c00d52c7dd7562b5279041e7f3567b",
    "train/label/10.png": "b0156cc8186b0ee521927ac95645b406a42d27564607a6fea3a59c34add78f7c",
    "train/label/11.png": "e47b3aa0cfb3106476af1666e631d45bd16dbf2aff88260ee65d16e4134332db",
    "train/label/12.png": "85a7a899c0b72b81633ad122887ba5161d650385d7775a5b3074eb00131b3620",
    "train/label/13.png": "88549c22fd647312d6b37e17d33e90800d347d60ccb1156a8dde5e67394f9f3d",
    "train/label/14.png": "bcd775017eb4fdbdfe7ad6cc6420b2f16aa9d0576894d08370edcf564b46680a",
    "train/label/15.png": "59a854887b504ff00a5b4b93b2299bbc0bf0cbe54dea58d2b31969229b28b369",
    "train/label/16.png": "b34eb88cdc3313a6f4190f5753465df7f69d8f3c243a5c25427b1b99ecfe2499",
    "train/label/17.png": "4fa076cbeb744803d987dc46cf308dc3026408e7a5188838e30e25fe3ea67dbe",
    "train/label/18.png": "bd009dda57f204804732f592ed1d41ba18961d83c492413fe71548efa4a288d9",
    "train/label/19.png": "bf38407c55b6033c1677230228ecb100a11294aa74a7b92e5edfdc4abadcfef9",
    "train/label/20.png": "7af7296f2e892866669d4e4f9c0d4178987e6ec6e7d0751ec238d1bbe2da9c55",
    "train/label/21.png": "772c722acb2eac01769b53fa5037a3d62745e53102398bf9b2202df605cadda4",
    "train/label/22.png": "b19f5533ec24077a2395a085fe53af75dd350ef03798c4ff40ba9ebecb2ee0ad",
    "train/label/23.png": "2d8f1df5c9ee83e59eb2d709eb153b0570f12e726690f586154b01b0a88bb540",
    "train/label/24.png": "6ab02d922b5c937ecfe2a479be87a5d3e5ef950dc48da09d31f37b47d899ca9c",
    "train/label/25.png": "c5ea59aca7789dd507ac31c4a82bbd4c172f9e3544f8e040442c20d1dfa9e16d",
    "train/label/26.png": "b056fae9f358111b6c9e2494bdba645f206be581959b8d3763e97d62a65dd961",
    "train/label/27.png": "5be3823a57c82b632cead6eb09f438c6010a244dc0975f2a3e466f45d2c06840",
    "train/label/28.png": "c0b0e2a2b7aad46919d1afc980f7d5e39101fb07948ce65d9cac802d8b47682e",
    "train/label/29.png": "1e8839a97178914171defd6a97158f06fcac1fc3f0d45f2acdff9c49ab3fced9",
    "test/image/0.png": "3c67a0f520d6504eecffe20fc2799287cad05e3d8915466c4127ee8463db03b6",
    "test/image/1.png": "73b2d6c585dd130b9e04c06ce4f7dd2c21496bc760c6088b948933d7a3ff44d8",
    "test/image/2.png": "33d0ba0f00760a8223d33e0d00f1fbd8992783c216f9fc386a2c7d62a31a3263",
    "test/image/3.png": "0507ff479733fefcbc00c68dc1b848dd7c15546e49241414d5a05beaf2092fbf",
    "test/image/4.png": "c75debf18db3b7e4476712d28bb6925e1d3b99287fc8808a3f8611f1f1ac9e6c",
    "test/image/5.png": "e2756965f5f7162c9bee9f05d6a6856d0ca310c736644000234cae634883c8f6",
    "test/image/6.png": "832c23a05680902deec4efe639373892b2cdc83ecfcdd6bc7b90f6f1d474379c",
    "test/image/7.png": "e673e89ac632bc3f13ff6dcd9d0f733b39d6618f21f015ed4106e1f32b3518f1",
    "test/image/8.png": "8064a6d599edadb9ebd0d23b3fe1a61a0c165445e2dfc1289af4e16509424344",
    "test/image/9.png": "6fe32299f09cfbff582cb90a39d1bd9214614a675be99e6729686f3a4d9b5a5f",
    "test/image/10.png": "8f907e1cfc8593527fb48c7fe08ba80eb380e0bfc0cdfe5eec8da0044eec0309",
    "test/image/11.png": "27ae843bb0a63ceded00acb182469a20292d70d717dc16296e6e1ea3e760dc7f",
    "test/image/12.png": "eb9eacb4cd836e84a36655e59c67c6ffc9be860ade97e585d21b1caf721acb2b",
    "test/image/13.png": "f7d454b79c73789c644c56d38a1adc57614fd45bbdaaeab25ad84aa9f36188f1",
    "test/image/14.png": "5e68324d85e271a23fb96da4425d12fb182ccad885edf63b5a33a4929e9f3788",
    "test/image/15.png": "874d88be3e6fb24ff4cc70cae292ec27462365c418a332631cb2ab17bac1bb47",
    "test/image/16.png": "69e09074fd73e5e9458067e77ba1d42bb212c350413f01b64e5d7269a1130588",
    "test/image/17.png": "95468c5106091112bff1fe694f06ac7af5f1b052e700fcbbe4492bcdd8cf47bf",
    "test/image/18.png": "090accd8da157be1f739a2bde77335216209ec854351d18d7d328ea2d3065c6a",
    "test/image/19.png": "fe7e8dd86300e462c2574f1c409510bb8bcb8b3ceb3c2bb28583e7241ab22f05",
    "test/image/20.png": "260b6e3e43a1c63da9779992ca90e692cd04e854029ef2f964010daf58ff4daf",
    "test/image/21.png": "cd82df9e4f7aa44a8d1172d4bac6f50dd3bc6dd063c1b3ad65647c4bc7749042",
    "test/image/22.png": "242289a02a83161b98553606654c17868818bdea638bc25c1208298501b92bfa",
    "test/image/23.png": "496786c0636607b2e086528d517e00c4444270d40972940c70f7ca93cc0cc173",
    "test/image/24.png": "a1979d58bceac2cd352a4aeb7a047c0e92d94c52a3cbc60abac67bb7a68865a1",
    "test/image/25.png": "8a078743880a854f2127cc59425c5a47bbf348b31ac2524cf7621eb108748c5a",
    "test/image/26.png": "2643df636a202d53bdc870bd1239db761d1b586e048cb6ddeb83310c9b76f6f4",
    "test/image/27.png": "36c4983e85e127a622e395842642dd0762657831901e70ff94647f3f808e53fe",
    "test/image/28.png": "0c2d296e0cd652b69198e9399e91bf2693101e58a8c878c6fe5a902d2b9448c5",
    "test/image/29.png": "e417ddbdcfed6b08b1c97d5a7796ed5b167ccc4caaf1226dc41dbb69cd724e25",
}


def _split_files(split: str) -> dict[str, str]:
    kinds = ("test/image",) if split == "test" else ("train/image", "train/label")
    return {f"{k}/{i}.png": ISBI_FILES[f"{k}/{i}.png"] for k in kinds for i in range(N_SLICES)}


def _remote(rel: str) -> str:
    return rel.replace("test/image/", "test/")  # zhixuhao/unet keeps the test slices in data/membrane/test/


def _resolve_root(data_root: str | os.PathLike | None) -> Path | None:
    """Accept the dataset folder itself or a folder holding ``isbi2012/``."""
    if data_root is None:
        return None
    p = Path(data_root).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"data_root: folder {p} does not exist; expected the ISBI 2012 files "
                                "(train-volume.tif, train-labels.tif or train/image/N.png, train/label/N.png)")
    if not p.is_dir():
        raise ValueError(f"data_root: {p} is not a folder")
    if not _has_tiffs(p) and not (p / "train").is_dir() and not (p / "test").is_dir() and (p / "isbi2012").is_dir():
        return p / "isbi2012"
    return p


def _has_tiffs(root: Path) -> bool:
    return (root / ISBI_TIFFS["train"][0]).is_file() or (root / ISBI_TIFFS["test"][0]).is_file()


def _read_png(path: Path, what: str) -> np.ndarray:
    from PIL import Image

    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; expected the ISBI 2012 {what} (8-bit greyscale PNG)")
    try:
        with Image.open(path) as im:
            mode = im.mode
            arr = np.asarray(im.convert("L") if mode in ("1", "P") else im)
    except Exception as exc:  # PIL raises many kinds of errors for corrupt files
        raise ValueError(f"cannot read {path} as a PNG ({type(exc).__name__}: {exc}); expected the ISBI 2012 "
                         f"{what} (8-bit greyscale PNG)") from exc
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise ValueError(f"{path} is a {mode} image of shape {arr.shape} and dtype {arr.dtype}; expected the ISBI 2012 "
                         f"{what} as one 8-bit greyscale channel")
    return arr


def _read_tiff(path: Path, what: str) -> np.ndarray:
    import tifffile

    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; expected the ISBI 2012 {what} "
                                f"({N_SLICES} x 512 x 512, 8-bit TIFF)")
    try:
        arr = np.asarray(tifffile.imread(path))
    except Exception as exc:  # tifffile raises many kinds of errors for corrupt files
        raise ValueError(f"cannot read {path} as a TIFF ({type(exc).__name__}: {exc}); expected the ISBI 2012 "
                         f"{what} ({N_SLICES} x 512 x 512, 8-bit)") from exc
    if arr.ndim != 3 or arr.shape[0] != N_SLICES or arr.dtype != np.uint8:
        raise ValueError(f"{path} holds an array of shape {arr.shape} and dtype {arr.dtype}; expected the ISBI 2012 "
                         f"{what}: a stack of {N_SLICES} 8-bit slices ({N_SLICES}, 512, 512)")
    return arr


def _label_to_mask(label: np.ndarray, where: str) -> np.ndarray:
    """0 = membrane -> 1, 255 = cell -> 0, after checking values and polarity."""
    values = np.unique(label)
    if not np.isin(values, (0, 255)).all():
        raise ValueError(f"{where} holds the values {values[:8].tolist()}{'...' if values.size > 8 else ''}; expected "
                         "an ISBI 2012 label image with only 0 (membrane) and 255 (cell interior)")
    mask = (label == 0).astype(np.uint8)
    frac = float(mask.mean())
    if frac > 0.5:
        raise ValueError(f"{where}: {frac:.0%} of the pixels are 0 (= membrane in ISBI 2012, where membranes cover "
                         "17-27 % of a slice); the labels look inverted (membrane = 255). Invert the file(s) so that "
                         "membrane = 0 and cell interior = 255")
    return mask


def load_isbi2012(split: str = "train", data_root: str | os.PathLike | None = None, *,
                  val_slices: Sequence[int] = ISBI_SPLITS["val"]) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """The ISBI 2012 slices of one split, with membrane = 1 masks (see the module docstring).

    Args:
        split: ``"train"`` (27 slices), ``"val"`` (3), ``"all"`` (the 30 labelled slices) or
            ``"test"`` (30 slices, no labels).
        data_root: a local copy in either layout (the folder itself or one holding ``isbi2012/``).
            Without it: ``$HELPERS_DATA_DIR/isbi2012`` (default ``~/.cache/helpers/isbi2012``) if
            it holds the original TIFF stacks, else the per-slice PNGs there, downloaded (and
            hash-checked) when missing.
        val_slices: the labelled slices held out for ``"val"`` (``"train"`` gets the others).

    Returns:
        ``images`` float32 ``(N, 512, 512)`` in [0, 1] (grey value / 255), ``masks`` uint8
        ``(N, 512, 512)`` with **membrane = 1** (``None`` for ``"test"``), and the slice names
        (``"train/image/3.png"`` or ``"train-volume.tif[3]"``).

    Raises:
        FileNotFoundError: a file of the split is missing (the message names it).
        ValueError: a file is not an 8-bit greyscale image/stack of the expected shape, a label
            holds values other than 0/255 or looks inverted, or a bad ``split``/``val_slices``.
        RuntimeError: the download failed (offline: pass ``data_root``).

    Example:
        >>> # images, masks, names = load_isbi2012("val", data_root="../shared/data/isbi2012")
        >>> # images.shape, masks.mean()  ->  (3, 512, 512), about 0.22
    """
    check_choice(split, "split", tuple(ISBI_SPLITS))
    try:
        val = tuple(int(i) for i in val_slices)
    except (TypeError, ValueError):
        raise ValueError(f"val_slices must be slice indices in 0..{N_SLICES - 1}, got {val_slices!r}") from None
    if not val or len(set(val)) != len(val) or not all(0 <= i < N_SLICES for i in val) \
            or any(isinstance(i, bool) for i in val_slices):
        raise ValueError(f"val_slices must be distinct slice indices in 0..{N_SLICES - 1}, got {val_slices!r}")
    slices = {"train": tuple(i for i in range(N_SLICES) if i not in val), "val": tuple(sorted(val)),
              "all": ISBI_SPLITS["all"], "test": ISBI_SPLITS["test"]}[split]
    if not slices:
        raise ValueError("val_slices leaves no slice for training")

    root = _resolve_root(data_root)
    if root is None:
        cache = data_dir() / "isbi2012"
        root = cache if cache.is_dir() and _has_tiffs(cache) else fetch_files("isbi2012", ISBI_URL, _split_files(split),
                                                                               _remote)
    stack = "test" if split == "test" else "train"
    vol_name, lab_name = ISBI_TIFFS[stack]
    if _has_tiffs(root):
        vol = _read_tiff(root / vol_name, f"{stack} volume")
        images = vol[list(slices)]
        names = [f"{vol_name}[{i}]" for i in slices]
        masks = None
        if lab_name is not None:
            lab = _read_tiff(root / lab_name, f"{stack} labels")
            if lab.shape != vol.shape:
                raise ValueError(f"{root / lab_name} has shape {lab.shape} but {root / vol_name} has {vol.shape}; "
                                 "expected one label slice per image slice")
            masks = np.stack([_label_to_mask(lab[i], f"{root / lab_name} slice {i}") for i in slices])
    else:
        img_dir = root / stack / "image"
        if stack == "test" and not img_dir.is_dir() and (root / "test" / "0.png").is_file():
            img_dir = root / "test"  # the layout of zhixuhao/unet
        img_paths = [img_dir / f"{i}.png" for i in slices]
        if not img_paths[0].is_file() and not (root / stack).is_dir():
            raise FileNotFoundError(
                f"{root} holds neither the ISBI 2012 stacks ({vol_name}) nor the per-slice PNGs "
                f"({stack}/image/N.png{', train/label/N.png' if stack == 'train' else ''}); "
                "expected one of the two layouts")
        images = np.stack([_read_png(p, f"{stack} image") for p in img_paths])
        names = [str(p.relative_to(root)) for p in img_paths]
        masks = None
        if stack == "train":
            lab_paths = [root / "train" / "label" / f"{i}.png" for i in slices]
            labels = [_read_png(p, "train label (0 = membrane, 255 = cell)") for p in lab_paths]
            for img, lab, p in zip(images, labels, lab_paths):
                if lab.shape != img.shape:
                    raise ValueError(f"{p} has shape {lab.shape} but its image has {img.shape}; expected equal sizes")
            masks = np.stack([_label_to_mask(lab, str(p)) for lab, p in zip(labels, lab_paths)])
    return images.astype(np.float32) / 255.0, masks, names
