"""Deep Contextual Network (DCN; Chen et al., AAAI 2016) with one deconvolution kernel per branch.

The layout follows the kernel-tuning paper the notebook reproduces (Takaya et al.), which
uses DCN with batch normalisation added:

* **Trunk** (fully convolutional, VGG style): blocks of 3 x 3 conv - BN - ReLU, each block
  closed by 2 x 2 max pooling. Block 1 (2 convs, ``width`` channels) ends at stride 2,
  block 2 (2 convs, ``2 width``) at stride 4, block 3 (3 convs, ``4 width``) at stride 8,
  followed by a context block (2 convs, ``8 width``) at stride 8 that sees the widest context.
* **Three branches** taken at increasing depth: after pooling 1 (stride 2), pooling 2
  (stride 4) and the context block (stride 8). Each is one transposed convolution
  ("deconvolution") with stride ``s_b`` and kernel ``k_b`` that maps its features straight
  to ``num_classes`` logit maps at the input size: ``F1``, ``F2``, ``F3``.
* **Fusion**: the output is ``F1 + F2 + F3`` (Chen et al. sum the maps before the softmax).
* **Auxiliary classifiers**: as in Chen et al., each branch's map ``F_b`` is classified on its
  own during training; :func:`dcn_loss` adds their losses with a weight that decays over
  training (:func:`aux_weight_schedule`, :class:`DCNLoss`).

Kernel sizes are free: :func:`deconv_padding` chooses ``padding`` and ``output_padding`` so
that ``(H/s - 1) s - 2 padding + k + output_padding = H`` for **every** kernel ``k >= 1``
(even, odd, smaller than the stride), whenever ``H`` is divisible by 8. The kernel's footprint
is then centred on the input pixel's block to within half a pixel for ``k >= s``; for
``k < s`` the deconvolution can only write ``k`` of every ``s`` output pixels from the
features (the others hold the bias alone: the extreme of the checkerboard artefact), and its
footprint sits ``(s - k) / 2`` pixels up-left of the block centre.

Example:
    >>> import torch
    >>> m = dcn(kernels=(4, 8, 10), width=4).eval()
    >>> m(torch.zeros(1, 1, 32, 48)).shape
    torch.Size([1, 1, 32, 48])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...checks import check_choice, check_float_images, check_non_negative, check_positive_int
from ...losses import segmentation_cross_entropy

__all__ = ["DCN", "DCNLoss", "PAPER_KERNELS", "STRIDES", "aux_weight_schedule", "dcn", "dcn_loss",
           "deconv_padding"]

#: Strides of the three branches (after pooling 1, 2 and 3).
STRIDES = (2, 4, 8)
#: The default deconvolution kernels of F1, F2, F3 (Chen et al.; "before" in the paper's Table 1).
PAPER_KERNELS = (4, 8, 16)


def deconv_padding(kernel_size: int, stride: int) -> tuple[int, int]:
    """``(padding, output_padding)`` for which a transposed convolution multiplies the size by ``stride``.

    ``ConvTranspose2d`` gives ``(n - 1) * stride - 2 * padding + kernel_size + output_padding``
    pixels from ``n``; this returns the pair that makes it exactly ``n * stride``:

    * ``kernel_size >= stride``: ``padding = ceil((k - s) / 2)``, ``output_padding = 2 padding - (k - s)``
      (0 for even ``k - s``, 1 for odd), which keeps the footprint centred to within half a pixel;
    * ``kernel_size < stride``: ``padding = 0``, ``output_padding = s - k`` (< ``s``, as PyTorch requires).

    Args:
        kernel_size: the deconvolution kernel (>= 1).
        stride: the upsampling factor (>= 1).

    Returns:
        ``(padding, output_padding)``.

    Example:
        >>> deconv_padding(16, 8), deconv_padding(10, 8), deconv_padding(5, 4), deconv_padding(2, 4)
        ((4, 0), (1, 0), (1, 1), (0, 2))
    """
    k = check_positive_int(kernel_size, "kernel_size")
    s = check_positive_int(stride, "stride")
    if k < s:
        return 0, s - k
    p = (k - s + 1) // 2
    return p, 2 * p - (k - s)


def _conv_block(cin: int, cout: int, n: int, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n):
        layers.append(nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class DCN(nn.Module):
    """The Deep Contextual Network; see the module docstring. Build it with :func:`dcn`.

    ``forward(x)`` returns the fused logits ``F1 + F2 + F3`` ``(N, num_classes, H, W)`` in eval
    mode, and the tuple ``(fused, F1, F2, F3)`` in training mode (when ``aux=True``) or whenever
    ``return_branches=True``. :func:`helpers.training.fit` scores the first entry of the tuple
    and hands the whole tuple to the loss (:func:`dcn_loss`).

    Attributes:
        kernels, strides, paddings, output_paddings: the three branches' deconvolution settings.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 1, kernels: Sequence[int] = PAPER_KERNELS, *,
                 batch_norm: bool = True, width: int = 32, aux: bool = True):
        super().__init__()
        w = width
        self.in_channels, self.num_classes = in_channels, num_classes
        self.block1 = _conv_block(in_channels, w, 2, batch_norm)
        self.block2 = _conv_block(w, 2 * w, 2, batch_norm)
        self.block3 = _conv_block(2 * w, 4 * w, 3, batch_norm)
        self.context = _conv_block(4 * w, 8 * w, 2, batch_norm)
        self.pool = nn.MaxPool2d(2)
        self.kernels = tuple(int(k) for k in kernels)
        self.strides = STRIDES
        pads = [deconv_padding(k, s) for k, s in zip(self.kernels, STRIDES)]
        self.paddings = tuple(p for p, _ in pads)
        self.output_paddings = tuple(o for _, o in pads)
        self.deconvs = nn.ModuleList(
            nn.ConvTranspose2d(c, num_classes, k, stride=s, padding=p, output_padding=o)
            for c, k, s, (p, o) in zip((w, 2 * w, 8 * w), self.kernels, STRIDES, pads))
        self.aux = bool(aux)
        self.batch_norm = bool(batch_norm)

    def branches(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The three branch maps ``(F1, F2, F3)``, each ``(N, num_classes, H, W)``."""
        check_float_images(x, "DCN")
        if x.ndim != 4:
            raise ValueError(f"DCN expects images (N, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"DCN was built for {self.in_channels} input channel(s), got {x.shape[1]} "
                             f"(shape {tuple(x.shape)})")
        h, w = int(x.shape[-2]), int(x.shape[-1])
        if h % 8 or w % 8 or h == 0 or w == 0:
            raise ValueError(
                f"DCN needs a height and width divisible by 8 (three 2x2 poolings), got {h}x{w}; "
                f"crop to {h // 8 * 8}x{w // 8 * 8} or pad to {math.ceil(h / 8) * 8}x{math.ceil(w / 8) * 8}")
        p1 = self.pool(self.block1(x))
        p2 = self.pool(self.block2(p1))
        c3 = self.context(self.pool(self.block3(p2)))
        return tuple(d(f) for d, f in zip(self.deconvs, (p1, p2, c3)))  # type: ignore[return-value]

    def forward(self, x: torch.Tensor, return_branches: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        f1, f2, f3 = self.branches(x)
        out = f1 + f2 + f3
        if return_branches or (self.training and self.aux):
            return out, f1, f2, f3
        return out

    def extra_repr(self) -> str:
        return (f"kernels={self.kernels}, strides={self.strides}, paddings={self.paddings}, "
                f"output_paddings={self.output_paddings}, batch_norm={self.batch_norm}, aux={self.aux}")


def _check_kernels(kernels: Any) -> tuple[int, int, int]:
    try:
        ks = tuple(kernels)
    except TypeError:
        raise ValueError(f"kernels must be three kernel sizes (k1, k2, k3) for F1, F2, F3, got {kernels!r}") from None
    if len(ks) != 3:
        raise ValueError(f"kernels must be three kernel sizes (k1, k2, k3) for F1, F2, F3, got {kernels!r}")
    return tuple(check_positive_int(k, f"kernels[{i}]") for i, k in enumerate(ks))  # type: ignore[return-value]


def dcn(in_channels: int = 1, num_classes: int = 1, kernels: Sequence[int] = PAPER_KERNELS, batch_norm: bool = True,
        width: int = 32, aux: bool = True) -> DCN:
    """Build a Deep Contextual Network with deconvolution kernels ``kernels`` for F1, F2, F3.

    Args:
        in_channels: image channels (1 for EM).
        num_classes: output channels; 1 for a binary membrane map scored with a sigmoid
            (``task="binary"`` in :func:`helpers.training.fit`), >= 2 for a softmax.
        kernels: ``(k1, k2, k3)``, the kernel sizes of the stride-2, 4 and 8 deconvolutions;
            any positive sizes (the paper's Table 1 uses 2..20).
        batch_norm: conv - BN - ReLU (the paper's change to DCN) or conv - ReLU.
        width: channels of the first block (doubling per block: ``w, 2w, 4w, 8w``).
        aux: return the branch maps in training mode for the auxiliary losses.

    Returns:
        A :class:`DCN` (1.39 million parameters at ``width=32``, growing as ``width ** 2``).

    Raises:
        ValueError: not three positive kernel sizes, or non-positive channel counts.

    Example:
        >>> import torch
        >>> m = dcn(kernels=(2, 6, 16), width=4)
        >>> out, f1, f2, f3 = m.train()(torch.zeros(2, 1, 16, 16))
        >>> out.shape, f3.shape
        (torch.Size([2, 1, 16, 16]), torch.Size([2, 1, 16, 16]))
    """
    in_channels = check_positive_int(in_channels, "in_channels")
    num_classes = check_positive_int(num_classes, "num_classes")
    width = check_positive_int(width, "width")
    if not isinstance(batch_norm, bool):
        raise ValueError(f"batch_norm must be True or False, got {batch_norm!r}")
    return DCN(in_channels, num_classes, _check_kernels(kernels), batch_norm=batch_norm, width=width, aux=aux)


# ----------------------------------------------------------------------------- losses


def aux_weight_schedule(step: int, total_steps: int, start: float = 1.0, end: float = 0.01,
                        kind: str = "geometric") -> float:
    """Weight of the auxiliary losses at ``step`` of ``total_steps`` (steps or epochs alike).

    Chen et al. start the auxiliary classifiers' weight high, so the shallow branches learn
    early (deep supervision), and lower it as training goes on, so the fused output decides
    in the end. ``step = 0`` gives ``start``, ``step >= total_steps - 1`` gives ``end``; in between

    * ``"geometric"``: ``start * (end / start) ** t`` (a constant factor per step; needs ``end > 0``),
    * ``"linear"``: ``start + (end - start) * t``,

    with ``t = step / (total_steps - 1)``.

    Args:
        step: the current step or epoch, counted from 0.
        total_steps: how many steps (epochs) training has (>= 1).
        start, end: the first and last weight (>= 0; ``end <= start``).
        kind: ``"geometric"`` or ``"linear"``.

    Returns:
        The weight, a float.

    Example:
        >>> [round(aux_weight_schedule(e, 3), 3) for e in range(3)]
        [1.0, 0.1, 0.01]
        >>> aux_weight_schedule(1, 3, start=1.0, end=0.0, kind="linear")
        0.5
    """
    step = check_positive_int(step, "step", minimum=0)
    total_steps = check_positive_int(total_steps, "total_steps")
    check_choice(kind, "kind", ("geometric", "linear"))
    start, end = check_non_negative(start, "start"), check_non_negative(end, "end")
    if end > start:
        raise ValueError(f"the auxiliary weight must decay: end ({end}) must be <= start ({start})")
    if kind == "geometric" and (end == 0 or start == 0) and end != start:
        raise ValueError("a geometric decay needs start > 0 and end > 0; use kind='linear' to reach 0")
    t = 1.0 if total_steps == 1 else min(step / (total_steps - 1), 1.0)
    if kind == "linear" or start == end:
        return float(start + (end - start) * t)
    return float(start * (end / start) ** t)


def _loss_target(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The target in the form the loss of ``logits`` takes, made once for all four maps."""
    if logits.shape[1] == 1:  # binary: float (N, 1, H, W), the membrane as the positive class
        return (target if target.ndim == 4 else target.unsqueeze(1)).to(torch.float32)
    return target.long() if target.ndim == 3 else target[:, 0].long()


def _branch_loss(logits: torch.Tensor, target: torch.Tensor, pos_weight: torch.Tensor | None,
                 ignore_index: int, validate: bool | None = None) -> torch.Tensor:
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(logits.float(), target, pos_weight=pos_weight)
    return segmentation_cross_entropy(logits, target, ignore_index, validate=validate)


def dcn_loss(output: Any, target: torch.Tensor, aux_weight: float = 1.0, *, pos_weight: float | None = None,
             ignore_index: int = 255) -> torch.Tensor:
    """``L(F1 + F2 + F3) + aux_weight * (L(F1) + L(F2) + L(F3))``, the DCN training loss.

    ``L`` is binary cross-entropy on the logits for one output channel (membrane = 1) and
    cross-entropy over classes otherwise. ``output`` is ``(fused, F1, F2, F3)`` as the model
    returns it in training mode; a plain tensor (eval mode) gives the fused loss alone, like
    :func:`helpers.losses.main_aux_loss` for PSPNet. The loss is computed in float32 under
    bf16 autocast and reads nothing back to the host.

    Args:
        output: ``(fused, F1, F2, F3)`` or the fused logits ``(N, C, H, W)``.
        target: ``(N, H, W)`` or ``(N, 1, H, W)``; 0/1 for ``C = 1``, class indices for ``C >= 2``.
        aux_weight: weight of the summed branch losses (>= 0), e.g. from :func:`aux_weight_schedule`.
        pos_weight: binary case only: weight of the positive (membrane) pixels in the BCE.
        ignore_index: multi-class case only: label not counted.

    Returns:
        Scalar float32 loss.

    Raises:
        ValueError: a negative weight, an output tuple that is not ``(fused, F1, F2, F3)``, or a
            target whose batch and spatial size differ from the logits'.

    Example:
        >>> import torch
        >>> z = torch.zeros(1, 1, 4, 4); y = torch.ones(1, 4, 4)
        >>> round(float(dcn_loss((z, z, z, z), y, aux_weight=0.5)), 4)  # (1 + 0.5 * 3) * log 2
        1.7329
    """
    aux_weight = check_non_negative(aux_weight, "aux_weight")
    if isinstance(output, (tuple, list)):
        if len(output) != 4:
            raise ValueError(f"output must be (fused, F1, F2, F3) or one logits tensor, "
                             f"got a sequence of {len(output)}")
        fused, branches = output[0], tuple(output[1:])
    else:
        fused, branches = output, ()
    if not isinstance(fused, torch.Tensor) or fused.ndim != 4 or not fused.is_floating_point():
        raise ValueError(f"the logits must be a float tensor (N, C, H, W), got {getattr(fused, 'shape', type(fused))}")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch tensor, got {type(target).__name__}")
    want = (fused.shape[0], *fused.shape[2:])
    got = tuple(target.shape) if target.ndim == 3 else (tuple(target.shape[:1]) + tuple(target.shape[2:])
                                                        if target.ndim == 4 and target.shape[1] == 1 else None)
    if got != tuple(want):
        raise ValueError(f"target must have shape (N, H, W) = {tuple(want)} or (N, 1, H, W), got {tuple(target.shape)}")
    for i, b in enumerate(branches, 1):
        if not isinstance(b, torch.Tensor) or b.shape != fused.shape:
            raise ValueError(f"branch map F{i} must have the fused output's shape {tuple(fused.shape)}, "
                             f"got {tuple(getattr(b, 'shape', ()))}")
    pw = None
    if pos_weight is not None:
        if isinstance(pos_weight, bool) or not isinstance(pos_weight, (int, float)) or not pos_weight > 0:
            raise ValueError(f"pos_weight must be a number > 0, got {pos_weight!r}")
        pw = torch.full((1, 1, 1), float(pos_weight), device=fused.device)  # no host copy per step
    target = _loss_target(fused, target)
    loss = _branch_loss(fused, target, pw, ignore_index)  # the label check runs here, once
    if branches and aux_weight > 0:
        loss = loss + aux_weight * sum(_branch_loss(b, target, pw, ignore_index, validate=False) for b in branches)
    return loss


class DCNLoss(nn.Module):
    """:func:`dcn_loss` with the auxiliary weight decaying per training step, for :func:`helpers.training.fit`.

    Every call with a training output (the ``(fused, F1, F2, F3)`` tuple) uses the weight
    ``schedule(step)`` and then advances ``step``; calls with a plain tensor (validation, eval
    mode) return the fused loss and leave ``step`` alone. Set ``total_steps`` to
    ``epochs * ceil(n_train / batch_size)``.

    Args:
        total_steps: training steps over which the weight decays; ``None`` keeps it at ``start``.
        start, end, kind: see :func:`aux_weight_schedule`.
        schedule: instead of those, any ``schedule(step) -> weight``.
        pos_weight, ignore_index: see :func:`dcn_loss`.

    Example:
        >>> import torch
        >>> crit = DCNLoss(total_steps=3)
        >>> z = torch.zeros(1, 1, 8, 8); y = torch.zeros(1, 8, 8)
        >>> weights = []
        >>> for _ in range(3):
        ...     weights.append(round(crit.aux_weight, 3))
        ...     loss = crit((z, z, z, z), y)
        >>> weights, crit.step
        ([1.0, 0.1, 0.01], 3)
    """

    def __init__(self, total_steps: int | None = None, start: float = 1.0, end: float = 0.01, kind: str = "geometric",
                 *, schedule: Callable[[int], float] | None = None, pos_weight: float | None = None,
                 ignore_index: int = 255) -> None:
        super().__init__()
        if schedule is not None and total_steps is not None:
            raise ValueError("give total_steps (with start, end, kind) or schedule, not both")
        if schedule is None:
            if total_steps is None:
                aux_weight_schedule(0, 1, start, start)  # checks start

                def schedule(step: int) -> float:
                    return float(start)
            else:
                total_steps = check_positive_int(total_steps, "total_steps")
                aux_weight_schedule(0, total_steps, start, end, kind)  # checks the arguments once

                def schedule(step: int) -> float:
                    return aux_weight_schedule(step, total_steps, start, end, kind)
        elif not callable(schedule):
            raise ValueError(f"schedule must be a callable step -> weight, got {type(schedule).__name__}")
        self.schedule = schedule
        self.total_steps = total_steps
        self.pos_weight = pos_weight
        self.ignore_index = ignore_index
        self.step = 0

    @property
    def aux_weight(self) -> float:
        """The weight the next training call will use."""
        return float(self.schedule(self.step))

    def forward(self, output: Any, target: torch.Tensor) -> torch.Tensor:
        if isinstance(output, (tuple, list)):
            loss = dcn_loss(output, target, self.aux_weight, pos_weight=self.pos_weight,
                            ignore_index=self.ignore_index)
            self.step += 1
            return loss
        return dcn_loss(output, target, 0.0, pos_weight=self.pos_weight, ignore_index=self.ignore_index)

    def extra_repr(self) -> str:
        return f"total_steps={self.total_steps}, step={self.step}, aux_weight={self.aux_weight:.4g}"
