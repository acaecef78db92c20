import math

import numpy as np
import pytest
import torch
from sklearn.metrics import jaccard_score
from torch import nn

from helpers.data import synthetic_shapes
from helpers.models import unet
from helpers.training import History, TensorBatches, evaluate, fit, load_checkpoint, predict


def data(n=32, size=32, seed=0):
    x, y = synthetic_shapes(n, size=size, num_classes=3, seed=seed)
    return torch.from_numpy(x)[:, None], torch.from_numpy(y)


def test_tensor_batches_cover_every_sample_once_per_epoch():
    x = torch.arange(10)
    batches = TensorBatches(x, x * 2, batch_size=4, seed=1)
    epoch1 = [b for b in batches]
    assert [len(b[0]) for b in epoch1] == [4, 4, 2]
    seen = torch.cat([b[0] for b in epoch1])
    assert sorted(seen.tolist()) == list(range(10))
    assert all(torch.equal(b[1], b[0] * 2) for b in epoch1)  # tensors stay aligned
    epoch2 = torch.cat([b[0] for b in batches])
    assert not torch.equal(seen, epoch2)  # reshuffled
    assert len(TensorBatches(x, batch_size=4, drop_last=True)) == 2


@pytest.mark.parametrize("args, kwargs, message", [
    ((), {"batch_size": 2}, "needs at least one tensor"),
    ((torch.zeros(3), torch.zeros(4)), {"batch_size": 2}, "same first dimension"),
    ((torch.zeros(0),), {"batch_size": 2}, "empty"),
    ((torch.zeros(3),), {"batch_size": 0}, "batch_size must be an integer >= 1"),
])
def test_tensor_batches_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        TensorBatches(*args, **kwargs)


def test_fit_learns_and_evaluate_matches_sklearn():
    torch.manual_seed(0)
    xtr, ytr = data(64, seed=0)
    xva, yva = data(16, seed=1)
    model = unet(1, 3, base=8, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    h = fit(model, (xtr, ytr), val_data=(xva, yva), loss_fn=nn.functional.cross_entropy, epochs=8,
            optimizer=opt, batch_size=16, num_classes=3, progress=False, device="cpu")
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.epoch == list(range(1, 9)) and len(h.metrics["mean_iou"]) == 8
    scores = evaluate(model, (xva, yva), loss_fn=nn.functional.cross_entropy, num_classes=3, batch_size=5)
    pred = predict(model, xva, batch_size=7).argmax(1)
    ref = jaccard_score(yva.ravel(), pred.ravel(), average="macro", labels=[0, 1, 2])
    assert scores["mean_iou"] == pytest.approx(ref, abs=1e-6)
    assert scores["mean_iou"] == pytest.approx(h.metrics["mean_iou"][-1], abs=1e-6)
    assert scores["mean_iou"] > 0.5
    assert scores["loss"] == pytest.approx(h.val_loss[-1], rel=1e-4)


def test_fit_binary_task():
    x, y = data(16)
    yb = (y > 0).float()[:, None]
    h = fit(unet(1, 1, base=4, depth=1), (x, yb), val_data=(x, yb), loss_fn=nn.functional.binary_cross_entropy_with_logits,
            epochs=2, task="binary", batch_size=8, progress=False)
    assert 0 <= h.metrics["pixel_accuracy"][-1] <= 1


def test_checkpoint_resume_gives_the_same_run(tmp_path):
    x, y = data(16)

    def run(epochs, ckpt):
        torch.manual_seed(0)
        model = unet(1, 3, base=4, depth=1)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        h = fit(model, (x, y), loss_fn=nn.functional.cross_entropy, epochs=epochs, optimizer=opt,
                batch_size=4, num_classes=3, checkpoint=ckpt, progress=False)
        return model, h

    full_model, full_h = run(4, None)
    ckpt = tmp_path / "ckpt.pt"
    run(2, ckpt)  # "interrupted" after two epochs
    assert load_checkpoint(ckpt)["epoch"] == 2
    resumed_model, resumed_h = run(4, ckpt)  # a fresh model picks up from the checkpoint
    assert resumed_h.epoch == [1, 2, 3, 4]
    np.testing.assert_allclose(resumed_h.train_loss, full_h.train_loss, rtol=1e-5)
    for a, b in zip(full_model.state_dict().values(), resumed_model.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert not list(tmp_path.glob("*.tmp"))


def test_bf16_autocast_on_cpu_runs_finite():
    x, y = data(8)
    h = fit(unet(1, 3, base=4, depth=1), (x, y), loss_fn=nn.functional.cross_entropy, epochs=1, amp=True,
            batch_size=4, num_classes=3, progress=False)
    assert math.isfinite(h.train_loss[0])


def test_fit_raises_on_divergence():
    x, y = data(8)
    model = unet(1, 3, base=4, depth=1)

    def nan_loss(out, target):
        return out.sum() * float("nan")

    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(model, (x, y), loss_fn=nan_loss, epochs=1, batch_size=4, num_classes=3, progress=False)


def test_fit_and_evaluate_bad_arguments():
    x, y = data(4)
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        fit(unet(1, 3, base=4, depth=1), (x, y), loss_fn=nn.functional.cross_entropy, epochs=0, progress=False)
    with pytest.raises(ValueError, match="needs num_classes"):
        evaluate(unet(1, 3, base=4, depth=1), (x, y))
    with pytest.raises(ValueError, match="images must be a 4-D tensor"):
        predict(unet(1, 3, base=4, depth=1), x[:, 0])


def test_history_pads_metrics_measured_every_other_epoch():
    h = History()
    h.append(epoch=1, train_loss=1.0, miou=0.1)
    h.append(epoch=2, train_loss=0.9)
    h.append(epoch=3, train_loss=0.8, miou=0.3, dice=0.4)
    assert h.metrics["miou"][:1] == [0.1] and math.isnan(h.metrics["miou"][1])
    assert len(h.metrics["dice"]) == 3 and math.isnan(h.metrics["dice"][0])
    assert h.best("miou") == (3, 0.3)
    assert h.best("train_loss", mode="min") == (3, 0.8)
    back = History.from_dict(h.to_dict())
    assert back.epoch == h.epoch and back.metrics.keys() == h.metrics.keys()


def test_keras_then_torch_training_in_one_process_does_not_crash():
    # TensorFlow loaded before Triton segfaults the process (both bundle LLVM); helpers.training_keras
    # loads Triton first. A notebook that configures Keras and then trains with torch must survive.
    import subprocess
    import sys

    code = (
        "import helpers.training_keras, torch\n"
        "from helpers.models import unet\n"
        "from helpers.training import fit\n"
        "x = torch.rand(4, 1, 16, 16); y = (x[:, 0] > 0.5).long()\n"
        "h = fit(unet(1, 2, base=4, depth=1), (x, y), loss_fn=torch.nn.functional.cross_entropy, epochs=1,"
        " batch_size=2, num_classes=2, progress=False)\n"
        "print('trained', len(h.train_loss))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "trained 1" in proc.stdout
