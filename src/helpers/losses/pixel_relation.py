"""The pixel-relation loss of the few-shot segmentation paper (Hotta), vectorised.

For every class ``c`` present in image ``b``, one **anchor** pixel ``a_{b,c}`` of that class is
drawn (class-balanced: every present class, every step, so a class covering 3 % of the image
is trained as often as one covering 70 %). The cosine similarity between the anchor's feature
vector and the feature vector of every pixel ``p`` of the compared image ``b'`` gives a
similarity map, which is pulled towards +1 where ``p`` has the anchor's class and towards -1
elsewhere:

.. math::

    s_{b,c}(p) = \\frac{f_{b}(a_{b,c}) \\cdot f_{b'}(p)}{\\lVert f_{b}(a_{b,c})\\rVert\\,\\lVert f_{b'}(p)\\rVert},
    \\qquad
    t_{b,c}(p) = \\begin{cases} +1 & y_{b'}(p) = c \\\\ -1 & \\text{otherwise} \\end{cases}

.. math::

    L_\\text{rel} = \\frac{1}{B} \\sum_{b=1}^{B} \\sum_{c \\in \\text{present}(b)}
    \\frac{1}{|P_{b'}|} \\sum_{p \\in P_{b'}} \\bigl(s_{b,c}(p) - t_{b,c}(p)\\bigr)^2

where ``P_{b'}`` are the labelled pixels of image ``b'`` (``ignore_index`` excluded). The paper's
two variants differ only in ``b'``: ``"same_image"`` uses ``b' = b``; ``"two_image"`` takes the
anchor from image ``b`` and the pixels from the next image of the batch, ``b' = (b + 1) mod B``.
The training loss is ``CE + relation_weight * L_rel`` (:func:`fewshot_loss`; the paper adds the
two with weight 1).

**Feature groups.** With ``grouped=True`` (the paper's network, :class:`helpers.models.GroupedUNet`)
the ``D`` feature channels are ``num_classes`` groups of ``D / num_classes`` channels, and class
``c``'s anchor is compared within group ``c`` only: group ``c`` learns "is this pixel of class
``c``?". With ``grouped=False`` the whole ``D``-vector is compared for every class.

**Cost.** Only the ``K x HW`` similarity maps of the ``K = num_classes`` anchors are formed (one
batched matrix product of the anchors' vectors with the normalised feature map), never the
``HW x HW`` matrix of all pixel pairs: memory is ``O(B K HW)`` besides the features. Anchors are
drawn on the device (uniform random scores, argmax over the class's pixels): no Python loop over
pixels or images, and no host synchronisation (an absent class is masked out, not skipped).

**Ablation.** ``anchor="random"`` draws the ``K`` anchors uniformly over all labelled pixels,
whatever their class (so a small class rarely gets one): the choice the paper improves on.

The loss is computed in float32 even under bf16 autocast.

Example:
    >>> import torch
    >>> y = torch.tensor([[[0, 0, 1, 1]]])                    # one 1x4 image, two classes
    >>> f = torch.where(y == 0, 1.0, -1.0)[:, None]           # features +1 / -1: perfectly separated
    >>> float(pixel_relation_loss(f, y, 2, grouped=False))   # cos = +1 same class, -1 other
    0.0
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from helpers.core.checks import check_choice, check_integer_labels, check_non_negative, check_positive_int
from helpers.losses import check_class_target

__all__ = ["sample_anchors", "pixel_relation_loss", "PixelRelationLoss", "fewshot_loss", "FewShotLoss"]

VARIANTS = ("same_image", "two_image")
ANCHORS = ("balanced", "random")


def _check_target(target: Any, batch: int, spatial: tuple[int, ...], device: torch.device | None) -> None:
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch tensor of class indices, got {type(target).__name__}")
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise ValueError(f"target must hold integer class indices, got dtype {target.dtype}")
    if target.ndim != 3 or target.shape[0] != batch or tuple(target.shape[1:]) != spatial:
        raise ValueError(f"target must be (N, H, W) = ({batch}, {spatial[0]}, {spatial[1]}) to match the features, "
                         f"got shape {tuple(target.shape)}")
    if device is not None and target.device != device:
        raise ValueError(f"target must be on the features' device {device}, got {target.device}")


def _check_generator(generator: Any) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def _rand(shape: tuple[int, ...], device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
    if generator is None:
        return torch.rand(shape, device=device)
    # Draw where the generator lives (a CPU generator with CUDA data costs one copy, no sync).
    return torch.rand(shape, device=generator.device, generator=generator).to(device, non_blocking=True)


def sample_anchors(target: torch.Tensor, num_classes: int, *, anchor: str = "balanced", ignore_index: int = 255,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw ``num_classes`` anchor pixels per image, on the device and without host syncs.

    Each anchor is the argmax of uniform random scores over the allowed pixels, i.e. a uniform
    draw among them: for ``"balanced"`` anchor ``k`` is a pixel of class ``k``; for ``"random"``
    all ``K`` anchors are drawn (with replacement) from every labelled pixel.

    Args:
        target: integer labels ``(N, H, W)``.
        num_classes: ``K``, the number of anchors per image.
        anchor: ``"balanced"`` or ``"random"``.
        ignore_index: label of unlabelled pixels (never an anchor).
        generator: optional ``torch.Generator`` for reproducible draws.

    Returns:
        ``index`` long ``(N, K)`` (flat pixel index ``h * W + w``), ``classes`` long ``(N, K)``
        (the anchors' classes) and ``present`` bool ``(N, K)`` (False where image ``n`` has no
        pixel of class ``k``, resp. no labelled pixel: that anchor is a dummy and must be masked).

    Example:
        >>> y = torch.tensor([[[0, 1], [1, 1]]])
        >>> idx, cls, present = sample_anchors(y, 3, generator=torch.Generator().manual_seed(0))
        >>> idx[0, 0].item(), cls.tolist(), present.tolist()
        (0, [[0, 1, 2]], [[True, True, False]])
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    check_choice(anchor, "anchor", ANCHORS)
    _check_generator(generator)
    if not isinstance(target, torch.Tensor) or target.ndim != 3:
        got = tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__
        raise ValueError(f"target must be an (N, H, W) tensor of class indices, got {got}")
    _check_target(target, target.shape[0], tuple(target.shape[1:]), None)
    n = target.shape[0]
    y = target.reshape(n, -1)
    valid = y != ignore_index
    classes = torch.arange(num_classes, device=y.device)
    if anchor == "balanced":
        allowed = (y[:, None, :] == classes[None, :, None]) & valid[:, None, :]  # (N, K, HW)
    else:
        allowed = valid[:, None, :].expand(n, num_classes, y.shape[1])
    scores = torch.where(allowed, _rand(tuple(allowed.shape), y.device, generator), -1.0)
    index = scores.argmax(-1)
    present = allowed.any(-1)
    if anchor == "balanced":
        cls = classes.expand(n, num_classes)
    else:
        cls = y.gather(1, index).long()
    return index, cls, present


def pixel_relation_loss(features: torch.Tensor, target: torch.Tensor, num_classes: int, *,
                        variant: str = "same_image", anchor: str = "balanced", ignore_index: int = 255,
                        grouped: bool = True, generator: torch.Generator | None = None,
                        anchors: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
                        eps: float = 1e-8, validate: bool = True) -> torch.Tensor:
    """Pixel-relation loss: squared error of anchor-to-pixel cosine similarities against ±1.

    See the module docstring for the equation. One anchor per class and image; the error is
    averaged over the compared image's labelled pixels, summed over the present classes and
    averaged over the batch, so a perfect embedding scores 0 and the worst one ``4 K``.

    Args:
        features: ``(N, D, H, W)`` float feature maps (any float dtype; computed in float32).
        target: ``(N, H, W)`` integer labels in ``[0, num_classes)`` or ``ignore_index``.
        num_classes: number of classes ``K``.
        variant: ``"same_image"`` (anchor and pixels from one image) or ``"two_image"`` (anchor
            from image ``b``, pixels from image ``(b + 1) mod N``; needs ``N >= 2``).
        anchor: ``"balanced"`` (one anchor per present class, the paper) or ``"random"``
            (``K`` anchors drawn uniformly over labelled pixels; the ablation).
        ignore_index: label of unlabelled pixels: never anchors, never compared.
        grouped: ``D`` is ``K`` groups of ``D / K`` channels and class ``c`` is compared in group
            ``c`` (the paper's network); ``False`` compares the whole vector.
        generator: ``torch.Generator`` for the anchor draws (on the features' device is fastest).
        anchors: ``(index, classes, present)`` from :func:`sample_anchors` to use instead of drawing.
        eps: guards the norm of an all-zero feature vector (its cosine is then 0).
        validate: check that labels lie in range (one host read-back; pass ``False`` in a
            training loop that must not sync).

    Returns:
        Scalar float32 loss (float64 for float64 features), differentiable w.r.t. ``features``.

    Raises:
        ValueError: wrong shapes, dtypes, devices or options; labels out of range; ``D`` not
            divisible by ``K`` with ``grouped=True``; ``"two_image"`` with a batch of one.

    Shown step by step in notebook 04, section 3: the loss as a loop over anchors and pixels,
    checked against this function with the same anchors.

    Example:
        >>> import torch
        >>> y = torch.tensor([[[0, 1], [2, 2]]])
        >>> f = torch.stack([torch.where(y == c, 1.0, -1.0) for c in range(3)], 1)  # group c: +1 on class c
        >>> float(pixel_relation_loss(f, y, 3))                                     # grouped: perfect
        0.0
        >>> # all pixels alike: cos = +1 everywhere, an error of 4 on each other-class pixel: 3 + 3 + 2
        >>> float(pixel_relation_loss(torch.ones(1, 3, 2, 2), y, 3))
        8.0
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    check_choice(variant, "variant", VARIANTS)
    check_choice(anchor, "anchor", ANCHORS)
    _check_generator(generator)
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"features must be a torch tensor, got {type(features).__name__}")
    if not features.is_floating_point():
        raise ValueError(f"features must be a floating-point tensor, got dtype {features.dtype}")
    if features.ndim != 4:
        raise ValueError(f"features must be 4-D (N, D, H, W), got shape {tuple(features.shape)}")
    n, d, h, w = features.shape
    if n == 0 or h * w == 0 or d == 0:
        raise ValueError(f"features are empty (shape {tuple(features.shape)})")
    _check_target(target, n, (h, w), features.device)
    if grouped and d % num_classes:
        raise ValueError(f"grouped=True needs the feature channels D={d} to be a multiple of num_classes={num_classes} "
                         "(one group per class); pass grouped=False to compare whole feature vectors")
    if variant == "two_image" and n < 2:
        raise ValueError("variant='two_image' compares pixels of two images and needs a batch of at least 2, got 1")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    if validate:
        check_integer_labels(target, "target", num_classes, ignore_index)

    if anchors is None:
        index, cls, present = sample_anchors(target, num_classes, anchor=anchor, ignore_index=ignore_index,
                                             generator=generator)
    else:
        index, cls, present = anchors
        k_shape = (n, num_classes)
        for name, t in (("index", index), ("classes", cls), ("present", present)):
            if not isinstance(t, torch.Tensor) or tuple(t.shape) != k_shape:
                raise ValueError(f"anchors' {name} must be a tensor of shape {k_shape}")
    k = num_classes
    hw = h * w
    dtype = torch.promote_types(features.dtype, torch.float32)
    with torch.autocast(features.device.type, enabled=False):
        groups = k if grouped else 1
        g = d // groups
        f = F.normalize(features.to(dtype).reshape(n, groups, g, hw), dim=2, eps=eps)  # (N, G, g, HW), unit vectors
        y = target.reshape(n, hw)
        two = variant == "two_image"
        y_pix = y.roll(-1, 0) if two else y  # image b is compared with image (b + 1) mod N
        if groups == 1:
            fa = f[:, 0]  # (N, g, HW)
            vec = fa.gather(2, index[:, None, :].expand(n, g, k)).transpose(1, 2)  # anchors' vectors (N, K, g)
            sim = torch.bmm(vec, fa.roll(-1, 0) if two else fa)  # (N, K, g) @ (N, g, HW) -> (N, K, HW)
        else:
            grp = cls.clamp(0, k - 1)[:, :, None, None].expand(n, k, g, hw)

            def by_anchor(t: torch.Tensor) -> torch.Tensor:  # the group of each anchor's class: (N, K, g, HW)
                return t if anchor == "balanced" else t.gather(1, grp)

            fa = by_anchor(f)
            vec = fa.gather(3, index[:, :, None, None].expand(n, k, g, 1))[..., 0]  # (N, K, g)
            fp = by_anchor(f.roll(-1, 0)) if two else fa
            sim = torch.einsum("bkg,bkgp->bkp", vec, fp)  # batched (1 x g) @ (g x HW): never HW x HW
        same = y_pix[:, None, :] == cls[:, :, None]  # (N, K, HW)
        tgt = same.to(dtype) * 2 - 1
        valid = (y_pix != ignore_index).to(dtype)  # (N, HW)
        err = ((sim - tgt) ** 2 * valid[:, None, :]).sum(-1) / valid.sum(-1, keepdim=True).clamp_min(1.0)
        return (err * present.to(dtype)).sum(1).mean()


class PixelRelationLoss(nn.Module):
    """Module form of :func:`pixel_relation_loss` (options fixed at construction).

    Example:
        >>> crit = PixelRelationLoss(3, variant="two_image")
        >>> loss = crit(torch.randn(2, 6, 8, 8), torch.randint(0, 3, (2, 8, 8)))
    """

    def __init__(self, num_classes: int, *, variant: str = "same_image", anchor: str = "balanced",
                 ignore_index: int = 255, grouped: bool = True, validate: bool = True) -> None:
        super().__init__()
        self.num_classes = check_positive_int(num_classes, "num_classes")
        self.variant = check_choice(variant, "variant", VARIANTS)
        self.anchor = check_choice(anchor, "anchor", ANCHORS)
        self.ignore_index = int(ignore_index)
        self.grouped = bool(grouped)
        self.validate = bool(validate)

    def forward(self, features: torch.Tensor, target: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        return pixel_relation_loss(features, target, self.num_classes, variant=self.variant, anchor=self.anchor,
                                   ignore_index=self.ignore_index, grouped=self.grouped, generator=generator,
                                   validate=self.validate)

    def extra_repr(self) -> str:
        return (f"num_classes={self.num_classes}, variant={self.variant!r}, anchor={self.anchor!r}, "
                f"ignore_index={self.ignore_index}, grouped={self.grouped}")


def _split_output(output: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(output, dict):
        if "out" not in output:
            raise ValueError(f"a dict output needs an 'out' entry (the logits), got keys {sorted(output)}")
        return output["out"], output.get("features")
    if isinstance(output, (tuple, list)):
        if len(output) != 2:
            raise ValueError(f"a tuple output must be (logits, features), got {len(output)} entries")
        return output[0], output[1]
    return output, None


def fewshot_loss(output: Any, target: torch.Tensor, *, relation_weight: float = 1.0, variant: str = "same_image",
                 anchor: str = "balanced", ignore_index: int = 255, grouped: bool = True,
                 generator: torch.Generator | None = None, validate: bool = False) -> torch.Tensor:
    """The paper's training loss: pixel cross-entropy + ``relation_weight`` x pixel-relation loss.

    ``L = CE(logits, y) + λ L_rel(features, y)`` (the paper: ``λ = 1``). Usable directly as
    ``loss_fn`` of :func:`helpers.training.fit` with a model that returns ``(logits, features)``
    (``GroupedUNet(..., return_features=True)``); use ``functools.partial`` or :class:`FewShotLoss`
    to fix the options.

    Args:
        output: ``(logits, features)``, a dict with ``"out"`` and ``"features"``, or bare logits
            (then only the cross-entropy: the plain U-Net baseline uses the same function).
        target: ``(N, H, W)`` integer labels; ``ignore_index`` pixels count in neither term.
        relation_weight: ``λ >= 0``; ``0`` gives the baseline's plain cross-entropy.
        variant, anchor, ignore_index, grouped, generator: see :func:`pixel_relation_loss`.
        validate: check the label range on any device (a host sync; off by default, for training
            loops). CPU labels are always range-checked (free there); shapes and dtype always.

    Returns:
        Scalar float32 loss. During :func:`helpers.training.evaluate` the relation term draws
        fresh anchors, so a validation loss that includes it varies a little between calls.

    Example:
        >>> from helpers.models.grouped_unet import GroupedUNet
        >>> net = GroupedUNet(1, 3, base=4, depth=1, group_channels=2, return_features=True)
        >>> y = torch.randint(0, 3, (2, 8, 8))
        >>> loss = fewshot_loss(net(torch.rand(2, 1, 8, 8)), y, variant="two_image")
        >>> loss.shape
        torch.Size([])
    """
    relation_weight = check_non_negative(relation_weight, "relation_weight")
    logits, features = _split_output(output)
    if not isinstance(logits, torch.Tensor) or logits.ndim != 4 or not logits.is_floating_point():
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a float tensor (N, C, H, W), got {got}")
    # Shapes and dtype always; label range on CPU or with validate (a bare IndexError otherwise).
    check_class_target(logits, target, ignore_index, validate=True if validate else None)
    ce = F.cross_entropy(logits.float(), target, ignore_index=ignore_index)
    if features is None or relation_weight == 0:
        return ce
    rel = pixel_relation_loss(features, target, logits.shape[1], variant=variant, anchor=anchor,
                              ignore_index=ignore_index, grouped=grouped, generator=generator,
                              validate=False)  # the labels were checked just above
    return ce + relation_weight * rel


class FewShotLoss(nn.Module):
    """Module form of :func:`fewshot_loss`, e.g. ``fit(..., loss_fn=FewShotLoss(variant="two_image"))``.

    Example:
        >>> crit = FewShotLoss(relation_weight=1.0, variant="same_image")
        >>> y = torch.randint(0, 2, (2, 4, 4))
        >>> loss = crit((torch.zeros(2, 2, 4, 4), torch.randn(2, 4, 4, 4)), y)
    """

    def __init__(self, relation_weight: float = 1.0, *, variant: str = "same_image", anchor: str = "balanced",
                 ignore_index: int = 255, grouped: bool = True, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.relation_weight = check_non_negative(relation_weight, "relation_weight")
        self.variant = check_choice(variant, "variant", VARIANTS)
        self.anchor = check_choice(anchor, "anchor", ANCHORS)
        self.ignore_index = int(ignore_index)
        self.grouped = bool(grouped)
        _check_generator(generator)
        self.generator = generator

    def forward(self, output: Any, target: torch.Tensor) -> torch.Tensor:
        return fewshot_loss(output, target, relation_weight=self.relation_weight, variant=self.variant,
                            anchor=self.anchor, ignore_index=self.ignore_index, grouped=self.grouped,
                            generator=self.generator)

    def extra_repr(self) -> str:
        return (f"relation_weight={self.relation_weight}, variant={self.variant!r}, anchor={self.anchor!r}, "
                f"ignore_index={self.ignore_index}, grouped={self.grouped}")
