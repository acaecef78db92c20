"""A PyTorch training loop that keeps the GPU busy, and the pieces it is built from.

What makes it fast (``CONTRIBUTING.md`` (speed)), each switched on only where it helps:

* the whole dataset lives on the GPU when it fits (these datasets do), and
  :class:`TensorBatches` draws shuffled batches by indexing on the device, so no
  DataLoader worker or host-to-device copy sits in the step;
* bf16 autocast on GPUs that support it, ``channels_last`` memory format and
  ``cudnn.benchmark``;
* no host synchronisation inside an epoch: losses are summed on the device and read
  once per epoch; gradients are released with ``set_to_none``.

Nothing is lost when a run is interrupted: with ``checkpoint=path`` the model,
optimiser, scheduler and history are written atomically at the end of every epoch,
and calling :func:`fit` again with the same path resumes after the last finished epoch.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from helpers.core.checks import check_choice, check_positive_int
from helpers.core.progress import progress_bar

Batch = tuple[torch.Tensor, ...]


def _main_output(output: Any) -> torch.Tensor:
    """The prediction to score when a model returns auxiliary outputs too."""
    if isinstance(output, dict):
        return output["out"]
    if isinstance(output, (tuple, list)):
        return output[0]
    return output


class TensorBatches:
    """Shuffled mini-batches drawn from tensors that already sit on the target device.

    Args:
        *tensors: tensors with the same first dimension (e.g. images and masks).
        batch_size: samples per batch.
        shuffle: draw a new permutation every epoch.
        drop_last: drop the last, smaller batch (keeps shapes static for cudnn/compile).
        seed: seed of the permutation generator, so runs repeat.

    Example:
        >>> x, y = torch.zeros(10, 1, 8, 8), torch.zeros(10, 8, 8, dtype=torch.long)
        >>> [b[0].shape[0] for b in TensorBatches(x, y, batch_size=4)]
        [4, 4, 2]
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int, shuffle: bool = True,
                 drop_last: bool = False, seed: int = 0):
        if not tensors:
            raise ValueError("TensorBatches needs at least one tensor")
        n = tensors[0].shape[0]
        for i, t in enumerate(tensors):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"tensors[{i}] must be a torch.Tensor, got {type(t).__name__}")
            if t.shape[0] != n:
                raise ValueError(f"all tensors need the same first dimension; tensors[0] has {n}, tensors[{i}] has {t.shape[0]}")
            if t.device != tensors[0].device:
                raise ValueError(f"all tensors must be on one device; got {tensors[0].device} and {t.device}")
        if n == 0:
            raise ValueError("TensorBatches got empty tensors (0 samples)")
        self.tensors = tensors
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._gen = torch.Generator().manual_seed(int(seed))

    @property
    def num_samples(self) -> int:
        return int(self.tensors[0].shape[0])

    def __len__(self) -> int:
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def __iter__(self) -> Iterator[Batch]:
        n, device = self.num_samples, self.tensors[0].device
        # One small host-to-device copy per epoch, none per step.
        order = torch.randperm(n, generator=self._gen) if self.shuffle else torch.arange(n)
        order = order.to(device, non_blocking=True)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield tuple(t.index_select(0, idx) for t in self.tensors)


def fits_on_device(*tensors: torch.Tensor, device: torch.device | str, fraction: float = 0.5) -> bool:
    """True when the tensors take less than ``fraction`` of the device's free memory (always True on CPU)."""
    device = torch.device(device)
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    need = sum(t.numel() * t.element_size() for t in tensors)
    return need < fraction * free


@dataclass
class History:
    """Per-epoch record of a training run: plain lists, ready for plots and JSON."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)

    def append(self, **values: Any) -> None:
        for key in ("epoch", "train_loss", "val_loss", "lr", "seconds"):
            if key in values:
                getattr(self, key).append(values.pop(key))
        # Keep every curve as long as ``epoch``: metrics not measured this epoch are NaN.
        n = len(self.epoch)
        for key, v in values.items():
            self.metrics.setdefault(key, [float("nan")] * (n - 1)).append(v)
        for key, curve in self.metrics.items():
            if len(curve) < n:
                curve.append(float("nan"))

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "train_loss": self.train_loss, "val_loss": self.val_loss,
                "lr": self.lr, "seconds": self.seconds, **self.metrics}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        base = {k: list(d.get(k, [])) for k in ("epoch", "train_loss", "val_loss", "lr", "seconds")}
        extra = {k: list(v) for k, v in d.items() if k not in base}
        return cls(**base, metrics=extra)

    def best(self, key: str, mode: str = "max") -> tuple[int, float]:
        """(epoch, value) of the best finite value of ``key`` (a metric or a loss)."""
        values = self.to_dict()[key]
        pairs = [(e, v) for e, v in zip(self.epoch, values) if v is not None and math.isfinite(v)]
        if not pairs:
            raise ValueError(f"history has no finite values of {key!r}")
        return (max if mode == "max" else min)(pairs, key=lambda p: p[1])


def use_bf16(device: torch.device) -> bool:
    """bf16 autocast pays off on CUDA GPUs that support it; on CPU it is usually slower."""
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def _as_batches(data: Any, batch_size: int, shuffle: bool, seed: int, drop_last: bool) -> Iterable[Batch]:
    if isinstance(data, (tuple, list)) and data and all(isinstance(t, torch.Tensor) for t in data):
        return TensorBatches(*data, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    return data  # a DataLoader or any iterable of (x, y) batches


def _to_device(batch: Batch, device: torch.device, channels_last: bool) -> Batch:
    out = []
    for i, t in enumerate(batch):
        t = t.to(device, non_blocking=True)
        if i == 0 and channels_last and t.ndim == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        out.append(t)
    return tuple(out)


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    # Write to a temporary file and rename: a run killed mid-write leaves the old checkpoint intact.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`fit` (tensors and plain Python only: ``weights_only=True``)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {p} does not exist")
    return torch.load(p, map_location=map_location, weights_only=True)


@torch.no_grad()
def evaluate(model: nn.Module, data: Any, *, loss_fn: Callable[..., torch.Tensor] | None = None,
             task: str = "multiclass", num_classes: int | None = None, ignore_index: int | None = None,
             batch_size: int = 16, device: torch.device | str | None = None, amp: bool | None = None,
             channels_last: bool = True) -> dict[str, float]:
    """Mean loss and segmentation scores of ``model`` on ``data``.

    Args:
        model: returns logits ``(N, C, H, W)`` (``C=1`` for ``task="binary"``).
        data: ``(images, masks)`` tensors or an iterable of batches.
        loss_fn: optional; its mean over samples is reported as ``loss``.
        task: ``"binary"`` (sigmoid, threshold 0.5, foreground class 1) or ``"multiclass"`` (argmax).
        num_classes: classes for ``"multiclass"``; 2 for ``"binary"``.
        ignore_index: label value excluded from the scores.

    Returns:
        ``loss`` (if a loss was given) and the scores of :func:`helpers.metrics.ConfusionMatrix.compute`.
    """
    from helpers.metrics import ConfusionMatrix

    check_choice(task, "task", ("binary", "multiclass"))
    device = torch.device(device) if device is not None else next(model.parameters()).device
    amp = use_bf16(device) if amp is None else amp
    if task == "binary":
        num_classes = 2
    elif num_classes is None:
        raise ValueError("evaluate(task='multiclass') needs num_classes")
    cm = ConfusionMatrix(num_classes, ignore_index=ignore_index)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    count = 0
    for batch in _as_batches(data, batch_size, shuffle=False, seed=0, drop_last=False):
        x, y = _to_device(batch, device, channels_last)[:2]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = model(x)
        logits = _main_output(out).float()
        if loss_fn is not None:
            loss_sum += loss_fn(out, y).float().detach() * x.shape[0]
        if task == "binary":
            pred = (logits[:, 0] > 0).long()
            target = (y[:, 0] if y.ndim == 4 else y).long()
        else:
            pred = logits.argmax(1)
            target = y.long()
        cm.update(target, pred, validate=False)  # no host sync per batch
        count += x.shape[0]
    model.train(was_training)
    scores = cm.compute()
    if loss_fn is not None:
        scores = {"loss": float(loss_sum) / max(count, 1), **scores}
    return scores


def fit(model: nn.Module, train_data: Any, *, loss_fn: Callable[..., torch.Tensor], epochs: int,
        val_data: Any = None, optimizer: torch.optim.Optimizer | None = None,
        scheduler: Any = None, scheduler_interval: str = "epoch", batch_size: int = 16,
        task: str = "multiclass", num_classes: int | None = None, ignore_index: int | None = None,
        augment: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
        device: torch.device | str | None = None, amp: bool | None = None, channels_last: bool = True,
        compile: bool = False, grad_clip: float | None = None, checkpoint: str | os.PathLike | None = None,
        progress: bool = True, seed: int = 0, eval_every: int = 1) -> History:
    """Train ``model`` and return its :class:`History`.

    Args:
        model: a module returning logits (or a tuple/dict whose first/``"out"`` entry is the logits;
            ``loss_fn`` receives the whole output, e.g. to add auxiliary-head losses).
        train_data: ``(images, masks)`` tensors (moved to ``device`` once, if they fit) or an
            iterable of batches such as a DataLoader.
        loss_fn: ``loss_fn(output, target) -> scalar``.
        epochs: passes over ``train_data``.
        val_data: like ``train_data``; scored every ``eval_every`` epochs with :func:`evaluate`.
        optimizer: defaults to Adam(lr=1e-3).
        scheduler: a ``torch.optim.lr_scheduler`` stepped every ``scheduler_interval``
            (``"epoch"`` or ``"step"``; poly decay is per step in the PSPNet paper).
        batch_size: samples per step when the data are tensors.
        task, num_classes, ignore_index: how predictions are scored (see :func:`evaluate`).
        augment: ``augment(x, y) -> (x, y)`` applied to every training batch on the device.
        device: defaults to CUDA when available.
        amp: bf16 autocast; ``None`` = on for GPUs that support it.
        channels_last: NHWC memory format for the model and the images (faster convolutions on GPU).
        compile: wrap the model in ``torch.compile`` (pays off for runs of many steps).
        grad_clip: clip the gradient norm to this value.
        checkpoint: file written atomically after every epoch. If it holds an unfinished run (fewer
            than ``epochs`` epochs), training resumes from it; a finished run's checkpoint is
            overwritten by a fresh run; one from a different run (seed, batch size, optimizer,
            model size or number of samples differ) raises ``ValueError``.
        progress: a bar over epochs with the latest losses (:func:`helpers.core.progress.progress_bar`:
            live in Jupyter, one final line in an executed notebook).
        seed: seeds the batch order.

    Returns:
        The per-epoch history (train/val loss, learning rate, seconds and validation scores).

    Example:
        >>> from helpers.models import unet
        >>> x = torch.rand(8, 1, 32, 32); y = (x > 0.5).long()[:, 0]
        >>> h = fit(unet(1, 2, base=4, depth=2), (x, y), loss_fn=nn.functional.cross_entropy,
        ...         epochs=1, batch_size=4, num_classes=2, progress=False)
        >>> len(h.train_loss)
        1
    """
    from helpers.core.runtime import resolve_device

    epochs = check_positive_int(epochs, "epochs")
    check_choice(scheduler_interval, "scheduler_interval", ("epoch", "step"))
    check_choice(task, "task", ("binary", "multiclass"))  # else a typo only fails after the first epoch
    device = resolve_device(device if device is None else str(device))
    amp = use_bf16(device) if amp is None else bool(amp)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)

    def to_resident(data: Any) -> Any:
        if isinstance(data, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in data):
            if fits_on_device(*data, device=device):
                return tuple(t.to(device, non_blocking=True) for t in data)
        return data

    train_data, val_data = to_resident(train_data), to_resident(val_data)
    batches = _as_batches(train_data, batch_size, shuffle=True, seed=seed, drop_last=False)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=1e-3)
    step_model = torch.compile(model) if compile else model

    history, start_epoch = History(), 0
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    # What must match for a checkpoint to continue this run (the epoch count may grow).
    run_id = {"seed": int(seed), "batch_size": int(batch_size), "optimizer": type(optimizer).__name__,
              "parameters": int(sum(p.numel() for p in model.parameters())),
              "samples": batches.num_samples if isinstance(batches, TensorBatches) else None}
    state = load_checkpoint(ckpt_path, map_location=device) if ckpt_path is not None and ckpt_path.exists() else None
    if state is not None and state.get("run") is not None and state["run"] != run_id:
        diff = ", ".join(f"{k} {state['run'].get(k)!r} there, {v!r} here" for k, v in run_id.items()
                         if state["run"].get(k) != v)
        raise ValueError(f"checkpoint {ckpt_path} was written by a different training run ({diff}); "
                         "delete it or pass another checkpoint= path to start afresh")
    # A finished run's checkpoint (epoch >= epochs: e.g. a notebook run again into the same folder)
    # is not reused: training starts afresh and overwrites it, so timings and results are this run's.
    if state is not None and int(state["epoch"]) < epochs:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        history = History.from_dict(state["history"])
        start_epoch = int(state["epoch"])
        if isinstance(batches, TensorBatches):
            batches._gen.set_state(state["batch_rng"].cpu())  # map_location may have moved it

    bar = None
    if progress and start_epoch < epochs:
        bar = progress_bar(total=epochs, initial=start_epoch, desc="training", unit="epoch")
    try:
        for epoch in range(start_epoch, epochs):
            t0 = time.perf_counter()
            model.train()
            loss_sum = torch.zeros((), device=device)
            n_seen = 0
            for batch in batches:
                x, y = _to_device(batch, device, channels_last)[:2]
                if augment is not None:
                    x, y = augment(x, y)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    out = step_model(x)
                    loss = loss_fn(out, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
                if scheduler is not None and scheduler_interval == "step":
                    scheduler.step()
                # Summed on the device: reading it every step would stall the GPU.
                loss_sum += loss.detach().float() * x.shape[0]
                n_seen += x.shape[0]
            if scheduler is not None and scheduler_interval == "epoch":
                scheduler.step()
            train_loss = float(loss_sum) / max(n_seen, 1)
            if not math.isfinite(train_loss):
                raise FloatingPointError(f"training loss became {train_loss} at epoch {epoch + 1}; "
                                         "lower the learning rate")
            record: dict[str, Any] = {"epoch": epoch + 1, "train_loss": train_loss,
                                      "lr": optimizer.param_groups[0]["lr"]}
            if val_data is not None and ((epoch + 1) % eval_every == 0 or epoch + 1 == epochs):
                scores = evaluate(model, val_data, loss_fn=loss_fn, task=task, num_classes=num_classes,
                                  ignore_index=ignore_index, batch_size=batch_size, device=device, amp=amp,
                                  channels_last=channels_last)
                record["val_loss"] = scores.pop("loss")
                record.update({k: v for k, v in scores.items() if isinstance(v, (int, float))})
            else:
                record["val_loss"] = float("nan")
            record["seconds"] = time.perf_counter() - t0
            history.append(**record)
            if ckpt_path is not None:
                _save_checkpoint(ckpt_path, {
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "history": history.to_dict(), "epoch": epoch + 1, "run": run_id,
                    "batch_rng": batches._gen.get_state() if isinstance(batches, TensorBatches) else None,
                })
            if bar is not None:
                bar.set_postfix(train=f"{train_loss:.4f}", val=f"{record['val_loss']:.4f}", refresh=False)
                bar.update(1)
    finally:  # also after an error: the bar shows how far training got
        if bar is not None:
            bar.close()
    return history


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, *, batch_size: int = 16, device: torch.device | str | None = None,
            amp: bool | None = None, channels_last: bool = True) -> torch.Tensor:
    """Logits of ``model`` for ``images`` ``(N, C, H, W)``, returned on the CPU in float32."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be a 4-D tensor (N, C, H, W), got {getattr(images, 'shape', type(images))}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    amp = use_bf16(device) if amp is None else amp
    was_training = model.training
    model.eval()
    outs = []
    for (x,) in TensorBatches(images, batch_size=batch_size, shuffle=False):
        x = _to_device((x,), device, channels_last)[0]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            outs.append(_main_output(model(x)).float())
    model.train(was_training)
    return torch.cat(outs).cpu()


def poly_lr_lambda(total_steps: int, power: float = 0.9):
    """The poly schedule ``(1 - step / total_steps) ** power`` as a ``LambdaLR`` factor.

    Example:
        >>> f = poly_lr_lambda(100)
        >>> f(0), round(f(50), 4), f(100)
        (1.0, 0.5359, 0.0)
    """
    total_steps = check_positive_int(total_steps, "total_steps")
    if not power > 0:
        raise ValueError(f"power must be > 0, got {power}")
    return lambda step: max(0.0, 1.0 - min(step, total_steps) / total_steps) ** power
