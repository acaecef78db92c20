"""Interrupted training and safe loading (issue 10, items 3 and 4).

* A checkpoint write that dies halfway leaves the previous checkpoint intact and loadable.
* A training process killed with SIGKILL (no cleanup, no ``finally``) resumes from its last
  finished epoch and ends exactly where an uninterrupted run ends.
* Every ``torch.load`` in ``src/`` passes ``weights_only=True`` and nothing unpickles data
  (``pickle``, ``allow_pickle=True``, joblib), checked on the syntax tree of the sources.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from helpers import training
from helpers.models import unet
from helpers.training import fit, load_checkpoint

SRC = Path(__file__).resolve().parents[1] / "src"


def data(n=16):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 8, 8, generator=g)
    return x, (x[:, 0] > 0.5).long()


def train(epochs, ckpt, seed=0):
    torch.manual_seed(seed)
    model = unet(1, 2, base=2, depth=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    h = fit(model, data(), loss_fn=nn.functional.cross_entropy, epochs=epochs, optimizer=opt, batch_size=4,
            num_classes=2, checkpoint=ckpt, progress=False, device="cpu", seed=seed)
    return model, h


def test_checkpoint_write_killed_midway_keeps_the_previous_one(tmp_path, monkeypatch):
    ckpt = tmp_path / "ckpt.pt"
    train(1, ckpt)
    before = ckpt.read_bytes()
    real_save = torch.save

    def dying_save(obj, f, *args, **kwargs):  # writes half a file, then the process "dies"
        real_save(obj, f, *args, **kwargs)
        data = Path(f).read_bytes()
        Path(f).write_bytes(data[: len(data) // 2])
        raise KeyboardInterrupt("killed while writing the checkpoint")

    monkeypatch.setattr(training.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        train(3, ckpt)
    monkeypatch.undo()
    assert ckpt.read_bytes() == before  # the checkpoint itself was never half-written
    assert load_checkpoint(ckpt)["epoch"] == 1
    assert (tmp_path / "ckpt.pt.tmp").exists()  # the torn write is in the temporary file only
    _, h = train(3, ckpt)  # resumes from epoch 1; the stale temporary file is simply overwritten
    assert h.epoch == [1, 2, 3]
    assert not (tmp_path / "ckpt.pt.tmp").exists()


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import torch
    from torch import nn
    sys.path.insert(0, {tests!r})
    from test_checkpoints import data
    from helpers.models import unet
    from helpers.training import fit

    steps = 0
    def loss_fn(out, y):
        global steps
        steps += 1
        if steps == 2 * 4 + 2:  # two epochs of 4 steps done and checkpointed, halfway into the third
            os.kill(os.getpid(), signal.SIGKILL)
        return nn.functional.cross_entropy(out, y)

    torch.manual_seed(0)
    model = unet(1, 2, base=2, depth=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    fit(model, data(), loss_fn=loss_fn, epochs=4, optimizer=opt, batch_size=4, num_classes=2,
        checkpoint={ckpt!r}, progress=False, device="cpu")
""")


@pytest.mark.slow
def test_sigkilled_training_resumes_from_its_last_epoch(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    script = KILLED_RUN.format(tests=str(Path(__file__).parent), ckpt=str(ckpt))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    state = load_checkpoint(ckpt)
    assert state["epoch"] == 2 and state["history"]["epoch"] == [1, 2]
    resumed_model, resumed = train(4, ckpt)  # a fresh process would do exactly this
    full_model, full = train(4, None)
    assert resumed.epoch == [1, 2, 3, 4]
    np.testing.assert_allclose(resumed.train_loss, full.train_loss, rtol=1e-5)
    for a, b in zip(full_model.state_dict().values(), resumed_model.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_checkpoints_refuse_pickled_objects(tmp_path):
    # weights_only=True: a checkpoint holding an arbitrary object (code on load) is refused.
    evil = tmp_path / "evil.pt"
    torch.save({"epoch": 1, "payload": Path("/")}, evil)
    with pytest.raises(Exception, match="[Ww]eights only load failed|Unsupported global"):
        load_checkpoint(evil)


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _name(func: ast.AST) -> str:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def _kw_is_true(call: ast.Call, name: str) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is True for k in call.keywords)


def test_every_torch_load_in_src_uses_weights_only():
    files = sorted(SRC.rglob("*.py"))
    assert files
    loads, bad = 0, []
    for path in files:
        text = path.read_text()
        tree = ast.parse(text)
        for call in _calls(tree):
            if _name(call.func) in ("torch.load", "load") and ("torch" in _name(call.func) or "from torch import load" in text):
                loads += 1
                if not _kw_is_true(call, "weights_only"):
                    bad.append(f"{path.relative_to(SRC)}:{call.lineno}")
        # aliases such as `from torch import load as tload` would dodge the scan above
        assert "from torch import load" not in text, path
    assert loads >= 1  # helpers.training.load_checkpoint
    assert bad == [], f"torch.load without weights_only=True: {bad}"


def test_nothing_in_src_unpickles_data():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if any(m and m.split(".")[0] in ("pickle", "cPickle", "dill", "joblib", "cloudpickle") for m in mods):
                    bad.append(f"{path.relative_to(SRC)}:{node.lineno} imports a pickle module")
        for call in _calls(tree):
            if _kw_is_true(call, "allow_pickle"):
                bad.append(f"{path.relative_to(SRC)}:{call.lineno} allow_pickle=True")
    assert bad == []


def test_finished_checkpoint_is_not_silently_reused(tmp_path):
    # Found by the idempotence test: a notebook run again into the same folder used to "resume"
    # its finished checkpoint, train zero epochs and report a training time of ~0 s.
    ckpt = tmp_path / "ckpt.pt"
    first_model, first = train(2, ckpt)
    again_model, again = train(2, ckpt)
    assert again.epoch == [1, 2] and again.train_loss == first.train_loss  # trained afresh, same seed
    assert load_checkpoint(ckpt)["epoch"] == 2
    for a, b in zip(first_model.state_dict().values(), again_model.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_checkpoint_of_a_different_run_is_refused(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    train(1, ckpt)
    with pytest.raises(ValueError, match=r"checkpoint .*ckpt\.pt was written by a different training run "
                                         r"\(seed 0 there, 1 here\); delete it or pass another checkpoint="):
        train(3, ckpt, seed=1)
