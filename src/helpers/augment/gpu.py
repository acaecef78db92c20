"""The DCN paper's augmentation, on batched tensors on the GPU: one of six dihedral ops per sample.

For each image of a mini-batch the kernel-tuning paper draws one of (1) rotation by 90 deg,
(2) by 180 deg, (3) by 270 deg, (4) left-right flip, (5) up-down flip, (6) nothing, and applies
it to the image and its label alike. Here the whole batch is done at once on its device: the
op of each sample is drawn from a ``torch.Generator`` (reproducible), every op is computed for
the whole batch, and ``torch.where`` keeps each sample's own result. That is six cheap copies
of the batch and no Python loop over samples, no boolean indexing and no host sync, so it can
run inside a training step (``fit(..., augment=RandomDihedral(seed=0))``).

Rotations are counter-clockwise (``torch.rot90(x, k, dims=(-2, -1))``) and need square images;
"hflip" mirrors left-right (last axis), "vflip" up-down.

Example:
    >>> import torch
    >>> x = torch.arange(4.0).view(1, 1, 2, 2)
    >>> apply_dihedral(x, torch.tensor([1]))[0, 0]  # rot90
    tensor([[1., 3.],
            [0., 2.]])
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["DIHEDRAL_OPS", "RandomDihedral", "apply_dihedral", "random_dihedral"]

#: The six ops, by index: what :func:`random_dihedral` returns as ``ops``.
DIHEDRAL_OPS = ("identity", "rot90", "rot180", "rot270", "hflip", "vflip")


def _one_op(x: torch.Tensor, k: int) -> torch.Tensor:
    if k == 0:
        return x
    if k <= 3:
        return torch.rot90(x, k, dims=(-2, -1))
    return torch.flip(x, dims=(-1,) if k == 4 else (-2,))


def _check_batch(x: Any, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
    if x.ndim not in (3, 4):
        raise ValueError(f"{name} must be (N, H, W) or (N, C, H, W), got shape {tuple(x.shape)}")


def apply_dihedral(x: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
    """Apply op ``ops[i]`` (an index into :data:`DIHEDRAL_OPS`) to sample ``x[i]``, for the whole batch at once.

    Args:
        x: ``(N, H, W)`` or ``(N, C, H, W)``, any dtype, any device; ``H == W`` if a rotation
            by 90 or 270 deg may occur.
        ops: integer tensor ``(N,)`` with values in ``0..5`` (not checked on a GPU: no host sync).

    Returns:
        The transformed batch, same shape, dtype, device and memory format.

    Raises:
        ValueError: wrong dimensions, ``ops`` of the wrong shape or dtype, or a non-square batch.
    """
    _check_batch(x, "x")
    if not isinstance(ops, torch.Tensor) or ops.ndim != 1 or ops.shape[0] != x.shape[0] \
            or ops.is_floating_point() or ops.dtype == torch.bool:
        raise ValueError(f"ops must be an integer tensor of shape ({x.shape[0]},), got "
                         f"{getattr(ops, 'dtype', type(ops).__name__)} {tuple(getattr(ops, 'shape', ()))}")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"rotations by 90/270 deg need square images, got {x.shape[-2]}x{x.shape[-1]}; "
                         "crop to a square first")
    if ops.device.type == "cpu" and ops.numel() and not (0 <= int(ops.min()) and int(ops.max()) < 6):
        raise ValueError(f"ops must be indices 0..5 into {DIHEDRAL_OPS}, got values in "
                         f"[{int(ops.min())}, {int(ops.max())}]")
    ops = ops.to(x.device, non_blocking=True)
    channels_last = x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    sel = ops.view(-1, *([1] * (x.ndim - 1)))
    out = x
    for k in range(1, 6):
        out = torch.where(sel == k, _one_op(x, k), out)
    if channels_last:
        out = out.contiguous(memory_format=torch.channels_last)
    return out


def random_dihedral(images: torch.Tensor, masks: torch.Tensor | None = None, *,
                    generator: torch.Generator | None = None, return_ops: bool = False) -> Any:
    """Give each sample one of the six ops of :data:`DIHEDRAL_OPS` at random, image and mask alike.

    Args:
        images: ``(N, C, H, W)`` or ``(N, H, W)`` with ``H == W``.
        masks: optional labels of the same batch and size (``(N, H, W)`` or ``(N, 1, H, W)``).
        generator: draws the ops (uniform over the six); on any device, the ops move to the
            images' device. ``None`` uses PyTorch's global generator of the images' device.
        return_ops: also return the drawn op indices ``(N,)`` (on the generator's device).

    Returns:
        ``images`` (and ``masks`` if given) transformed, then ``ops`` if ``return_ops``:
        ``x``, ``(x, y)``, ``(x, ops)`` or ``(x, y, ops)``.

    Raises:
        ValueError: shapes that do not fit (see :func:`apply_dihedral`), or masks whose batch or
            height and width differ from the images'.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.rand(4, 1, 8, 8); y = (x[:, 0] > 0.5).long()
        >>> xa, ya = random_dihedral(x, y, generator=g)
        >>> bool(((xa[:, 0] > 0.5).long() == ya).all())  # the mask follows the image
        True
    """
    _check_batch(images, "images")
    if masks is not None:
        _check_batch(masks, "masks")
        if masks.shape[0] != images.shape[0] or masks.shape[-2:] != images.shape[-2:]:
            raise ValueError(f"masks {tuple(masks.shape)} must match the images {tuple(images.shape)} in batch, "
                             "height and width")
    n = images.shape[0]
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        ops = torch.randint(0, len(DIHEDRAL_OPS), (n,), generator=generator, device=generator.device)
    else:
        ops = torch.randint(0, len(DIHEDRAL_OPS), (n,), device=images.device)
    out = [apply_dihedral(images, ops)]
    if masks is not None:
        out.append(apply_dihedral(masks, ops))
    if return_ops:
        out.append(ops)
    return out[0] if len(out) == 1 else tuple(out)


class RandomDihedral:
    """``augment(x, y) -> (x, y)`` for :func:`helpers.training.fit`, reproducible from ``seed``.

    The generator is created on the device of the first batch it sees, so the ops are drawn
    where the data live (no transfer, no host sync).

    Example:
        >>> import torch
        >>> aug = RandomDihedral(seed=0)
        >>> x, y = aug(torch.rand(2, 1, 8, 8), torch.zeros(2, 8, 8, dtype=torch.long))
        >>> x.shape, y.shape
        (torch.Size([2, 1, 8, 8]), torch.Size([2, 8, 8]))
    """

    def __init__(self, seed: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.seed = seed
        self.generator: torch.Generator | None = None

    def __call__(self, images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_batch(images, "images")
        if self.generator is None or self.generator.device != images.device:
            self.generator = torch.Generator(device=images.device).manual_seed(self.seed)
        return random_dihedral(images, masks, generator=self.generator)

    def __repr__(self) -> str:
        return f"RandomDihedral(seed={self.seed})"
