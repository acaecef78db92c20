"""The Deep Contextual Network's loss: the fused map's loss plus the three branches' auxiliary losses,
weighted by a weight that decays over training (Chen et al., AAAI 2016; the model: :mod:`helpers.models.dcn`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from helpers.core.checks import check_choice, check_non_negative, check_positive_int
from helpers.losses.segmentation import segmentation_cross_entropy

__all__ = ["DCNLoss", "aux_weight_schedule", "dcn_loss"]


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
