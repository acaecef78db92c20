"""Tests for helpers.training_keras: agreement with the PyTorch loss, Keras integration, bad input."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from helpers import losses as torch_losses  # noqa: E402
from helpers.losses.keras_losses import BCEDiceLoss, bce_dice_loss  # noqa: E402
from helpers.training_keras import configure_keras, foreground_iou, history_to_dict  # noqa: E402
from helpers.metrics import binary_iou  # noqa: E402


@pytest.fixture(autouse=True)
def _float32_policy():
    """configure_keras changes a process-wide policy; put it back after each test."""
    yield
    keras.mixed_precision.set_global_policy("float32")


def random_case(seed: int, shape=(3, 8, 8, 1)):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal(shape) * 3).astype(np.float32)
    y_true = (rng.random(shape) < 0.4).astype(np.float32)
    return logits, y_true


def sigmoid(x):
    return 1 / (1 + np.exp(-x.astype(np.float64)))


# ----------------------------------------------------------------------------- loss


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bce_dice_matches_torch_version(seed):
    logits, y_true = random_case(seed)
    prob = sigmoid(logits).astype(np.float32)
    ours = float(keras.ops.mean(bce_dice_loss(y_true, prob)))
    ref = float(torch_losses.bce_dice_loss(torch.from_numpy(logits), torch.from_numpy(y_true)))
    assert ours == pytest.approx(ref, abs=1e-5)


def test_bce_dice_by_hand_per_sample():
    # sample 0: p = (1/2, 3/4), y = (1, 0): BCE = 1.5 ln 2, Dice = 1 - 2/3.25
    # sample 1: p = (1/2, 1/2), y = (0, 0): BCE = ln 2,     Dice = 1 - 1/2
    y_true = np.array([[1.0, 0.0], [0.0, 0.0]], "float32")
    y_pred = np.array([[0.5, 0.75], [0.5, 0.5]], "float32")
    out = keras.ops.convert_to_numpy(bce_dice_loss(y_true, y_pred))
    np.testing.assert_allclose(out, [1.5 * math.log(2) + 1 - 2 / 3.25, math.log(2) + 0.5], rtol=1e-6)


def test_class_form_equals_mean_of_function_and_weights_apply():
    logits, y_true = random_case(3)
    prob = sigmoid(logits).astype(np.float32)
    per_sample = keras.ops.convert_to_numpy(bce_dice_loss(y_true, prob, bce_weight=0.3, dice_weight=2.0))
    assert float(BCEDiceLoss(bce_weight=0.3, dice_weight=2.0)(y_true, prob)) == pytest.approx(
        per_sample.mean(), rel=1e-6)
    bce_only = float(keras.ops.mean(bce_dice_loss(y_true, prob, dice_weight=0.0)))
    ref_bce = float(keras.losses.BinaryCrossentropy()(y_true, prob))
    assert bce_only == pytest.approx(ref_bce, rel=1e-5)


def test_perfect_prediction_is_near_zero():
    y = (np.random.default_rng(0).random((2, 5, 5, 1)) < 0.5).astype("float32")
    assert float(keras.ops.max(bce_dice_loss(y, y))) < 1e-5


def test_bf16_prediction_gives_float32_loss():
    logits, y_true = random_case(4)
    prob = keras.ops.cast(sigmoid(logits), "bfloat16")
    out = bce_dice_loss(y_true, prob)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert np.isfinite(keras.ops.convert_to_numpy(out)).all()


def test_loss_serialization_round_trip():
    loss = BCEDiceLoss(bce_weight=0.5, dice_weight=2.0, smooth=0.1)
    config = keras.saving.serialize_keras_object(loss)
    assert config["registered_name"] == "helpers>BCEDiceLoss"
    again = keras.saving.deserialize_keras_object(config)
    assert isinstance(again, BCEDiceLoss)
    assert (again.bce_weight, again.dice_weight, again.smooth) == (0.5, 2.0, 0.1)
    fn_config = keras.saving.serialize_keras_object(bce_dice_loss)
    assert keras.saving.deserialize_keras_object(fn_config) is bce_dice_loss


def test_fit_with_loss_and_foreground_iou_and_history_to_dict(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = random_case(5, (8, 8, 8, 1))
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                              keras.layers.Conv2D(1, 1, activation="sigmoid")])
    model.compile(optimizer="adam", loss=BCEDiceLoss(), metrics=[foreground_iou()])
    history = model.fit(x, y, epochs=2, batch_size=4, validation_data=(x, y), verbose=0)
    logs = history_to_dict(history)
    assert set(logs) >= {"loss", "iou", "val_loss", "val_iou"}
    assert all(len(v) == 2 and all(isinstance(f, float) and math.isfinite(f) for f in v) for v in logs.values())
    json.dumps(logs)  # JSON-ready
    # the model (with the custom loss) survives a save/load round trip
    path = tmp_path / "m.keras"
    model.save(path)
    assert isinstance(keras.saving.load_model(path).loss, BCEDiceLoss)


# ----------------------------------------------------------------------------- metric


def test_foreground_iou_matches_helpers_binary_iou():
    rng = np.random.default_rng(6)
    y_true = (rng.random((2, 16, 16, 1)) < 0.3).astype("float32")
    prob = np.clip(y_true * 0.5 + rng.random(y_true.shape) * 0.6, 0, 1).astype("float32")
    prob[0, 0, 0, 0] = 0.5  # exactly at the threshold: both count it as foreground
    m = foreground_iou()
    m.update_state(y_true, prob)
    assert float(m.result()) == pytest.approx(binary_iou(y_true, prob), abs=1e-6)
    assert float(foreground_iou(threshold=0.8)(y_true, prob)) == pytest.approx(
        binary_iou(y_true, prob, threshold=0.8), abs=1e-6)


# ----------------------------------------------------------------------------- configuration


def test_configure_keras_on_cpu_auto_is_float32():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # auto must reset it
    cfg = configure_keras()
    assert cfg == {"backend": keras.config.backend(), "policy": "float32", "jit_compile": False}
    assert keras.mixed_precision.global_policy().name == "float32"


def test_configure_keras_forced_bf16():
    cfg = configure_keras(mixed_precision=True)
    assert cfg["policy"] == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert keras.layers.Dense(2).dtype_policy.compute_dtype == "bfloat16"


@pytest.mark.slow
def test_runs_on_torch_backend():
    """The same functions under KERAS_BACKEND=torch (a fresh process: the backend is fixed at import)."""
    script = textwrap.dedent("""
        import json, numpy as np, keras, torch
        from helpers.losses.keras_losses import BCEDiceLoss, bce_dice_loss
        from helpers.training_keras import configure_keras
        from helpers.losses import bce_dice_loss as torch_bce_dice
        rng = np.random.default_rng(0)
        logits = (rng.standard_normal((2, 6, 6, 1)) * 3).astype("float32")
        y = (rng.random(logits.shape) < 0.4).astype("float32")
        prob = 1 / (1 + np.exp(-logits))
        print(json.dumps({
            "backend": keras.config.backend(),
            "keras": float(BCEDiceLoss()(y, prob)),
            "torch": float(torch_bce_dice(torch.from_numpy(logits), torch.from_numpy(y))),
            "cfg": configure_keras(False),
        }))
    """)
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["backend"] == "torch"
    assert out["keras"] == pytest.approx(out["torch"], abs=1e-5)
    assert out["cfg"] == {"backend": "torch", "policy": "float32", "jit_compile": False}


# ----------------------------------------------------------------------------- bad input


def test_loss_rejects_shape_mismatch_with_channel_hint():
    with pytest.raises(ValueError, match=r"y_true and y_pred must have the same shape, got \(2, 4, 4\) and "
                                         r"\(2, 4, 4, 1\) \(add the channel axis"):
        bce_dice_loss(np.zeros((2, 4, 4), "float32"), np.zeros((2, 4, 4, 1), "float32"))


def test_loss_rejects_integer_prediction():
    with pytest.raises(ValueError, match=r"y_pred must hold float probabilities \(after a sigmoid\), got dtype int"):
        bce_dice_loss(np.zeros((2, 4), "float32"), np.zeros((2, 4), "int32"))


def test_loss_rejects_missing_batch_axis():
    with pytest.raises(ValueError, match=r"y_pred must have a batch axis first, at least 2-D, got shape \(4,\)"):
        bce_dice_loss(np.zeros(4, "float32"), np.zeros(4, "float32"))


def test_loss_rejects_negative_weight():
    with pytest.raises(ValueError, match=r"bce_weight must be a finite number >= 0, got -1"):
        BCEDiceLoss(bce_weight=-1)


def test_foreground_iou_rejects_bad_threshold():
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\], got 2"):
        foreground_iou(threshold=2)


def test_configure_keras_rejects_non_bool():
    with pytest.raises(ValueError, match=r"mixed_precision must be True, False or None \(auto\), got 'yes'"):
        configure_keras("yes")


def test_history_to_dict_rejects_non_history():
    with pytest.raises(TypeError, match=r"history must be a keras History or a dict of lists, got list"):
        history_to_dict([0.5, 0.4])


def test_history_to_dict_rejects_non_numeric_values():
    with pytest.raises(ValueError, match=r"history\['loss'\] must be a sequence of numbers"):
        history_to_dict({"loss": ["low", "lower"]})


def test_cldice_punishes_a_gap_more_than_a_thick_line():
    from helpers.losses.keras_losses import bce_dice_loss, cldice_loss, soft_skeleton

    truth = np.zeros((1, 32, 32, 1), np.float32)
    truth[0, 15:17, 2:30] = 1.0  # a boundary 2 px wide
    thick = np.zeros_like(truth)
    thick[0, 13:19, 2:30] = 1.0  # drawn 3x too wide: same centre line
    broken = truth.copy()
    broken[0, :, 12:20] = 0.0  # a gap of 8 px
    cl_thick, cl_broken = (float(np.asarray(cldice_loss(truth, p))[0]) for p in (thick, broken))
    dice_thick, dice_broken = (float(np.asarray(bce_dice_loss(truth, p, bce_weight=0.0))[0]) for p in (thick, broken))
    assert cl_broken > 5 * cl_thick  # clDice: the gap is the worse error ...
    assert dice_thick > dice_broken  # ... while Dice ranks them the other way round
    assert float(np.asarray(cldice_loss(truth, truth))[0]) == pytest.approx(0.0, abs=1e-6)
    skel = np.asarray(soft_skeleton(thick))[0, ..., 0]
    assert skel[13:19].sum() > 0 and skel[:12].sum() == 0 and skel[20:].sum() == 0
