"""A backbone for PSPNet pretrained by the course itself, for machines that cannot download ImageNet's.

The PSPNet paper froze an ImageNet ResNet-50 and trained only the pyramid module and the heads.
Where torchvision's ImageNet weights cannot be downloaded (an offline GPU host, a CI machine), the
course pretrains the ResNet-50 on a *different* task and then freezes it, which is the same regime:

* **source task**: generated scenes whose objects come from rows 6-11 of the scene generator's
  class table (:data:`SOURCE_CLASSES`: pinstriped rectangles, ringed blobs, hatched crosses,
  plain rings, banded hexagons, speckled crescents);
* **target task** (the notebook's experiment): rows 1-5 (:data:`TARGET_CLASSES`: striped discs,
  checkered ellipses, dotted squares, shaded triangles, grainy stars), which the backbone has
  never seen; only background, clutter and the kind of textures carry over, as with ImageNet
  features carried over to VOC.

The whole PSPNet is trained on the source scenes (Adam, cosine decay); its backbone is saved in
torchvision's ResNet-50 key layout, with a manifest holding the file's SHA-256, the settings and the
source task's held-out mIoU. A later call with the same settings reuses the file after checking
its hash; a file whose hash does not match is trained again (with a warning), never loaded.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from helpers.core.checks import check_positive_int, check_seed

SOURCE_CLASSES = (6, 7, 8, 9, 10, 11)
TARGET_CLASSES = (1, 2, 3, 4, 5)
MANIFEST = "manifest.json"
WEIGHTS = "backbone.pt"


def cache_root() -> Path:
    """Where pretrained backbones are kept: ``$HELPERS_MODEL_CACHE`` or ``~/.cache/helpers/models``."""
    return Path(os.environ.get("HELPERS_MODEL_CACHE", Path.home() / ".cache" / "helpers" / "models")).expanduser()


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def backbone_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A PSPNet's backbone in torchvision's ResNet-50 key layout (``conv1.*``, ``bn1.*``, ``layer1.*`` ...).

    Example:
        >>> from helpers.models.pspnet import pspnet
        >>> sd = backbone_state_dict(pspnet(3, backbone_weights=None, head_channels=16))
        >>> sorted({k.split(".")[0] for k in sd})
        ['bn1', 'conv1', 'layer1', 'layer2', 'layer3', 'layer4']
    """
    out: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        if k.startswith("stem.0."):
            out["conv1." + k[len("stem.0."):]] = v.detach().cpu().clone()
        elif k.startswith("stem.1."):
            out["bn1." + k[len("stem.1."):]] = v.detach().cpu().clone()
        elif k.split(".")[0] in ("layer1", "layer2", "layer3", "layer4"):
            out[k] = v.detach().cpu().clone()
    return out


def _folder(size: int, n_images: int, epochs: int, seed: int) -> str:
    return f"pspnet_resnet50_scenes{''.join(map(str, SOURCE_CLASSES))}_{size}px_{n_images}img_{epochs}ep_seed{seed}"


def verified_backbone(folder: str | os.PathLike) -> Path | None:
    """The backbone file of a cache folder if its SHA-256 matches the manifest, else ``None``."""
    folder = Path(folder)
    manifest, weights = folder / MANIFEST, folder / WEIGHTS
    if not (manifest.is_file() and weights.is_file()):
        return None
    try:
        expected = json.loads(manifest.read_text())["sha256"]
    except (ValueError, KeyError):
        return None
    return weights if file_sha256(weights) == expected else None


def pretrain_backbone(*, size: int, n_images: int, epochs: int, batch_size: int = 16, head_channels: int = 128,
                      seed: int = 0, device: torch.device | str | None = None,
                      cache_dir: str | os.PathLike | None = None, progress: bool = True) -> dict[str, Any]:
    """Pretrain PSPNet's ResNet-50 on the source scenes (or reuse a hash-checked cached copy).

    Args:
        size: image size of the source scenes.
        n_images: source training images (a further quarter, at least 8, is held out to score it).
        epochs: passes over them.
        batch_size: images per step.
        head_channels: the pretraining head's width (the head is thrown away afterwards).
        seed: the scenes' and the initial weights' seed.
        device: defaults to CUDA when available.
        cache_dir: where the cache folder goes; default :func:`cache_root`.
        progress: a progress bar over the epochs.

    Returns:
        the manifest: ``path`` (the backbone file, for ``pspnet(backbone_weights=path)``),
        ``sha256``, ``cached`` (reused, not trained now), ``seconds`` (of the training when it
        happened), ``source_miou`` (held-out mIoU on the source task) and the settings.
    """
    from helpers.data.synthetic.scenes import synthetic_scenes
    from helpers.losses import main_aux_loss
    from helpers.augment.segmentation import normalise_images
    from helpers.core.runtime import resolve_device
    from helpers.training import evaluate, fit
    from helpers.models.pspnet.model import pspnet

    size = check_positive_int(size, "size", minimum=32)
    n_images = check_positive_int(n_images, "n_images", minimum=2)
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size", minimum=2)
    seed = check_seed(seed)
    folder = Path(cache_dir if cache_dir is not None else cache_root()) / _folder(size, n_images, epochs, seed)
    manifest_path = folder / MANIFEST
    if manifest_path.is_file():
        path = verified_backbone(folder)
        if path is not None:
            return {**json.loads(manifest_path.read_text()), "path": str(path), "cached": True}
        warnings.warn(f"the cached backbone in {folder} does not match its manifest's SHA-256 (a partial or "
                      "altered file); training it again", RuntimeWarning, stacklevel=2)

    device = resolve_device(device)
    num_classes = len(SOURCE_CLASSES) + 1
    n_val = max(8, n_images // 4)
    train = synthetic_scenes(n_images, size, num_classes=num_classes, seed=seed + 50_000, object_classes=SOURCE_CLASSES)
    val = synthetic_scenes(n_val, size, num_classes=num_classes, seed=seed + 60_000, object_classes=SOURCE_CLASSES)
    x, y = normalise_images(train["images"]), torch.from_numpy(train["masks"].astype("int64"))
    xv, yv = normalise_images(val["images"]), torch.from_numpy(val["masks"].astype("int64"))
    torch.manual_seed(seed)
    model = pspnet(num_classes, backbone_weights=None, freeze_backbone=False, head_channels=head_channels)
    steps = epochs * max(1, n_images // batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    t0 = time.perf_counter()
    n_used = max(batch_size, n_images // batch_size * batch_size)  # full batches: the 1 x 1 pyramid branch has BN
    fit(model, (x[:n_used], y[:n_used]), loss_fn=main_aux_loss, epochs=epochs, optimizer=opt, scheduler=sched, scheduler_interval="step",
        batch_size=batch_size, num_classes=num_classes, ignore_index=255, device=device, progress=progress,
        seed=seed)
    seconds = time.perf_counter() - t0
    scores = evaluate(model, (xv, yv), num_classes=num_classes, ignore_index=255, batch_size=batch_size, device=device)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS
    tmp = weights.with_suffix(".tmp")
    torch.save(backbone_state_dict(model), tmp)
    os.replace(tmp, weights)  # a file in place is a whole file
    info = {"source_classes": list(SOURCE_CLASSES), "size": size, "n_images": n_images, "epochs": epochs,
            "batch_size": batch_size, "seed": seed, "seconds": round(seconds, 1),
            "source_miou": float(scores["mean_iou"]) if math.isfinite(scores["mean_iou"]) else None,
            "device": str(device), "torch": torch.__version__, "sha256": file_sha256(weights)}
    tmp_manifest = manifest_path.with_suffix(".tmp")
    tmp_manifest.write_text(json.dumps(info, indent=1))
    os.replace(tmp_manifest, manifest_path)
    return {**info, "path": str(weights), "cached": False}
