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
  own during training; :func:`helpers.losses.dcn.dcn_loss` adds their losses with a weight that
  decays over training (:func:`~helpers.losses.dcn.aux_weight_schedule`, :class:`~helpers.losses.dcn.DCNLoss`).

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
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from helpers.core.checks import check_float_images, check_positive_int

__all__ = ["DCN", "PAPER_KERNELS", "STRIDES", "dcn", "deconv_padding"]

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

    Shown step by step in notebook 05, section 2: the F3 branch as a plain ``ConvTranspose2d``,
    checked against this network's branch on copied weights.

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
