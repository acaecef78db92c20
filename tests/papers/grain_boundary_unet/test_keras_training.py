import keras
import numpy as np
import pytest

from helpers.papers.grain_boundary_unet.training import as_keras_images, foreground_iou_score, sgd, train_segmenter, tune_sgd
from helpers.metrics import binary_iou


def tiny_model(size=16):
    inp = keras.Input((size, size, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    out = keras.layers.Conv2D(1, 1, activation="sigmoid")(x)
    return keras.Model(inp, out)


def data(n=16, size=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, size, size)).astype(np.float32)
    return x, (x > 0.5).astype(np.float32)


def test_train_segmenter_learns_a_threshold():
    keras.utils.set_random_seed(0)
    model = tiny_model()
    x, y = data(32)
    out = train_segmenter(model, (x, y), (x, y), epochs=30, batch_size=8, learning_rate=0.5, momentum=0.9, l2=0)
    h = out["history"]
    assert len(h["loss"]) == 30 and h["loss"][-1] < h["loss"][0]
    assert out["images_per_second"] > 0
    iou = foreground_iou_score(model, x, y)
    prob = model.predict(x[..., None], verbose=0)[..., 0]
    assert iou == pytest.approx(float(binary_iou(y.astype(np.int64), prob)), abs=1e-6)
    assert iou > 0.8


def test_sgd_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        sgd(0.0, 0.9, 0.0)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        sgd(0.1, 1.0, 0.0)
    with pytest.raises(ValueError, match="l2 must be >= 0"):
        sgd(0.1, 0.9, -1.0)
    opt = sgd(0.1, 0.9, 1e-4)
    assert opt.weight_decay == pytest.approx(1e-4) and float(opt.momentum) == pytest.approx(0.9)


def test_train_segmenter_bad_input():
    x, y = data(4)
    with pytest.raises(ValueError, match="same N, H, W"):
        train_segmenter(tiny_model(), (x, y[:2]), epochs=1)
    with pytest.raises(ValueError, match=r"masks must lie in \[0.0, 1.0\]"):
        train_segmenter(tiny_model(), (x, y * 255), epochs=1)
    with pytest.raises(ValueError, match=r"images must be 3-D or 4-D"):
        as_keras_images(np.zeros(5))


def test_tune_sgd_resumes_from_sqlite(tmp_path):
    x, y = data(8)
    db = tmp_path / "study.db"
    study = tune_sgd(tiny_model, (x, y), (x, y), n_trials=2, epochs=1, batch_size=4, storage=db, progress=False)
    assert len(study.trials) == 2 and set(study.best_params) == {"learning_rate", "momentum", "l2"}
    first = [t.params for t in study.trials]
    study = tune_sgd(tiny_model, (x, y), (x, y), n_trials=3, epochs=1, batch_size=4, storage=db, progress=False)
    assert len(study.trials) == 3  # the two finished trials were kept, one was added
    assert [t.params for t in study.trials[:2]] == first
    assert all(0 <= t.value <= 1 for t in study.trials)


def test_keep_best_restores_the_best_epoch():
    keras.utils.set_random_seed(1)
    model = tiny_model()
    x, y = data(32)
    xv, yv = data(16, seed=1)
    # A learning rate high enough that the validation IoU moves around from epoch to epoch.
    out = train_segmenter(model, (x, y), (xv, yv), epochs=8, batch_size=8, learning_rate=2.0, momentum=0.9,
                          l2=0, keep_best=True)
    ious = out["history"]["val_iou"]
    assert len(ious) == 8 and out["best_epoch"] == int(np.argmax(ious)) + 1
    assert foreground_iou_score(model, xv, yv) == pytest.approx(max(ious), abs=0.02)
    with pytest.raises(ValueError, match="keep_best=True needs val"):
        train_segmenter(tiny_model(), (x, y), epochs=1, keep_best=True)
