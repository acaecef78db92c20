"""Bad input at the public entry points: each gives a clear error naming the argument and what was expected.

These are the cases the modules' own test files do not cover yet (issue 10, item 1): wrong shape,
dtype, value range, NaN, mask class out of range, image/mask size mismatch, empty or unreadable
file, missing folder, unknown dataset name or profile, bad runner parameters. Each case asserts
on the message, so an error that only says ``IndexError: Target 7 is out of bounds`` (from deep
inside torch) counts as a failure. Keras models are tested in one group at the end (slow import).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers import augment, metrics
from helpers.augment import gpu as augment_gpu
from helpers.losses import pixel_relation
from helpers.losses import segmentation as losses
from helpers.data import (load_image_mask_folder, load_isbi2012, load_sstem, load_tbm_grain_boundaries, synthetic_em,
                          synthetic_membranes, synthetic_scenes, synthetic_sem)
from helpers.data.synthetic.filler import filler_dataset
from helpers.models import dcn, grouped_unet, unet
from helpers.models.pspnet import pspnet
from helpers.training import fit

NAN = float("nan")
FIXTURES = Path(__file__).parent / "fixtures" / "runner"


def labels(*shape, value=0):
    return torch.full(shape, value, dtype=torch.long)


def write_pair(root: Path, stem: str, image: np.ndarray, mask: np.ndarray) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(root / "images" / f"{stem}.png")
    Image.fromarray(mask).save(root / "masks" / f"{stem}.png")


# ------------------------------------------------------------------------------------ losses

@pytest.mark.parametrize("target, match", [
    (labels(2, 4, 4, value=7), r"target labels must be in \[0, 3\) or ignore_index=255 .*got min 7, max 7"),
    (labels(2, 4, 4, value=-1), r"target labels must be in \[0, 3\).*got min -1"),
    (torch.zeros(2, 4, 4), r"target must hold integer class indices \(N, H, W\), got dtype torch.float32"),
    (labels(2, 5, 4), r"target must have shape \(2, 4, 4\) \(logits \(2, 3, 4, 4\) without the class axis\), "
                      r"got \(2, 5, 4\)"),
    (np.zeros((2, 4, 4), np.int64), r"target must be a torch tensor of class indices, got ndarray"),
])
def test_segmentation_cross_entropy_rejects_bad_targets(target, match):
    # before the fix: IndexError "Target 7 is out of bounds" / RuntimeError "expected target dtype Long"
    with pytest.raises((ValueError, TypeError), match=match):
        losses.segmentation_cross_entropy(torch.randn(2, 3, 4, 4), target)


def test_segmentation_cross_entropy_keeps_ignore_index_and_soft_targets():
    y = labels(2, 4, 4)
    y[0, 0, 0] = 255
    assert torch.isfinite(losses.segmentation_cross_entropy(torch.randn(2, 3, 4, 4), y))
    with pytest.raises(ValueError, match=r"or ignore_index=0 .*got min 5"):
        losses.segmentation_cross_entropy(torch.randn(2, 3, 4, 4), labels(2, 4, 4, value=5), ignore_index=0)


def test_segmentation_cross_entropy_rejects_numpy_logits():
    with pytest.raises(TypeError, match="logits must be a torch tensor, got ndarray"):
        losses.segmentation_cross_entropy(np.zeros((2, 3, 4, 4), np.float32), labels(2, 4, 4))


def test_main_aux_loss_names_the_label_range():
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\) or ignore_index=255.*max 9"):
        losses.main_aux_loss((torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)), labels(2, 4, 4, value=9))


@pytest.mark.parametrize("fn", [losses.dice_loss, losses.bce_dice_loss])
def test_binary_losses_reject_nan_logits(fn):
    logits = torch.zeros(2, 1, 4, 4)
    logits[1, 0, 2, 2] = NAN
    with pytest.raises(ValueError, match="logits contains NaN or infinite values"):
        fn(logits, torch.zeros(2, 1, 4, 4))
    fn(logits, torch.zeros(2, 1, 4, 4), validate=False)  # the no-sync path stays unchecked


def test_soft_target_cross_entropy_rejects_inf_logits():
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 1, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="logits contains NaN or infinite values"):
        losses.soft_target_cross_entropy(logits, torch.full((1, 3, 2, 2), 1 / 3))


@pytest.mark.parametrize("target, match", [
    (labels(2, 4, 4, value=7), r"target labels must be in \[0, 3\).*max 7"),
    (torch.zeros(2, 4, 4), "target must hold integer class indices"),
    (labels(2, 5, 4), r"target must have shape \(2, 4, 4\)"),
])
def test_fewshot_loss_rejects_bad_targets_without_validate(target, match):
    # validate=False (its default) used to reach F.cross_entropy: IndexError / RuntimeError.
    out = (torch.randn(2, 3, 4, 4), torch.randn(2, 9, 4, 4))
    with pytest.raises(ValueError, match=match):
        pixel_relation.fewshot_loss(out, target)


# ----------------------------------------------------------------------------------- metrics

@pytest.mark.parametrize("cm, match", [
    (np.array([[-1, 0], [0, 3]]), r"cm must hold non-negative finite pixel counts, found values in \[-1, 3\]"),
    (np.array([[NAN, 0.0], [0.0, 1.0]]), "cm must hold non-negative finite pixel counts"),
    (torch.tensor([[1.0, float("inf")], [0.0, 1.0]]), "cm must hold non-negative finite pixel counts"),
])
def test_scores_reject_impossible_confusion_matrices(cm, match):
    with pytest.raises(ValueError, match=match):
        metrics.iou_per_class(cm)
    with pytest.raises(ValueError, match=match):
        metrics.mean_dice(cm)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ndim=st.sampled_from([0, 5, 6]))
def test_confusion_matrix_rejects_any_wrong_ndim(ndim):
    x = np.zeros((1,) * ndim, np.int64)
    with pytest.raises(ValueError, match=r"target must be 1-D or 2-D or 3-D or 4-D .*got shape"):
        metrics.confusion_matrix(x, x, 2)


# ------------------------------------------------------------------------------ augmentation

def test_mix_batch_rejects_nan_images_and_bad_num_classes():
    x, y = torch.rand(2, 3, 8, 8), labels(2, 8, 8)
    x[0, 0, 0, 0] = NAN
    with pytest.raises(ValueError, match="x contains NaN or infinite values"):
        augment.mix_batch(x, y, 3)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        augment.mix_batch(torch.rand(2, 3, 8, 8), y, 0)  # was: "labels outside [0, 0)"
    with pytest.raises(ValueError, match="x must be a float tensor of images"):
        augment.mix_batch(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), y, 3)
    with pytest.raises(TypeError, match="x and y must be torch tensors, got ndarray"):
        augment.mix_batch(np.zeros((2, 3, 8, 8), np.float32), y, 3)


@pytest.mark.parametrize("args, match", [
    ((torch.tensor([2.0]), 8, 8), r"lam must lie in \[0.0, 1.0\], found values in \[2, 2\]"),
    ((torch.tensor([0.5]), 0, 8), "height must be an integer >= 1, got 0"),
    ((torch.tensor([0.5]), 8, 2.5), "width must be an integer >= 1, got 2.5"),
    ((torch.tensor([[0.5]]), 8, 8), r"lam must be a 1-D float tensor \(N,\) of mixing ratios, got \(1, 1\)"),
])
def test_cutmix_boxes_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        augment.cutmix_boxes(*args)


def test_one_hot_rejects_numpy_and_bad_num_classes():
    with pytest.raises(TypeError, match=r"y must be a torch tensor of integer labels \(N, H, W\), got ndarray"):
        augment.one_hot_with_ignore(np.zeros((1, 2, 2), np.int64), 3)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got -2"):
        augment.one_hot_with_ignore(labels(1, 2, 2), -2)


@settings(max_examples=10, deadline=None)
@given(ndim=st.sampled_from([1, 2, 5]))
def test_random_dihedral_rejects_any_wrong_ndim(ndim):
    with pytest.raises(ValueError, match=r"images must be \(N, H, W\) or \(N, C, H, W\), got shape"):
        augment_gpu.random_dihedral(torch.zeros((4,) * ndim))


# ------------------------------------------------------------------------------------ models

@pytest.mark.parametrize("build, name", [
    (lambda: unet(1, 2, base=4, depth=1), "UNet"),
    (lambda: grouped_unet(1, 2, base=4, depth=1, group_channels=2), "UNet"),
    (lambda: dcn(width=4), "DCN"),
])
def test_models_reject_integer_and_numpy_images(build, name):
    model = build()
    with pytest.raises(ValueError, match=rf"{name} expects float images \(N, C, H, W\), got dtype torch.int64"):
        model(torch.zeros(1, 1, 16, 16, dtype=torch.long))  # was: "expected scalar type Long but found Float"
    with pytest.raises(TypeError, match=rf"{name} expects a torch tensor of images \(N, C, H, W\), got ndarray"):
        model(np.zeros((1, 1, 16, 16), np.float32))


@settings(max_examples=8, deadline=None)
@given(ndim=st.sampled_from([2, 3, 5]))
def test_unet_rejects_any_wrong_ndim(ndim):
    with pytest.raises(ValueError, match=r"UNet expects input \(N, 1, H, W\), got"):
        unet(1, 2, base=2, depth=1)(torch.zeros((2,) * ndim))


@pytest.fixture(scope="module")
def psp():
    return pspnet(3, backbone_weights=None, bins=(1,), aux=False).eval()


def test_pspnet_names_its_input_channels(psp):
    with pytest.raises(ValueError, match=r"PSPNet was built for 3 input channel\(s\) \(in_channels=3\), got 1"):
        psp(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="PSPNet expects float images"):
        psp(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


# --------------------------------------------------------------------------------- generators

@pytest.mark.parametrize("make", [
    lambda seed: synthetic_sem(1, 32, seed=seed),
    lambda seed: synthetic_scenes(1, 32, seed=seed),
    lambda seed: synthetic_em(1, 32, seed=seed),
    lambda seed: synthetic_membranes(1, 64, seed=seed),
    lambda seed: filler_dataset(1, field_nm=100.0, pixels=8, seed=seed),
], ids=["sem", "scenes", "em", "membranes", "filler"])
@pytest.mark.parametrize("seed", [-1, "0", 1.5])
def test_generators_reject_bad_seeds(make, seed):
    # was numpy's "expected non-negative integer" / "SeedSequence expects int or sequence of ints"
    with pytest.raises(ValueError, match=rf"seed must be a non-negative integer, got {seed!r}"):
        make(seed)


# -------------------------------------------------------------------------------- data loaders

def test_folder_rejects_bad_size_before_reading(tmp_path):
    write_pair(tmp_path, "a", np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="size must be an integer >= 1, got 0"):
        load_image_mask_folder(tmp_path, size=0)


def test_folder_rejects_negative_classes_in_mask_map(tmp_path):
    write_pair(tmp_path, "a", np.zeros((8, 8), np.uint8), np.full((8, 8), 3, np.uint8))
    # was: masks full of -1, silently
    with pytest.raises(ValueError, match=r"mask_map must map mask values to class indices, both integers >= 0, got \{3: -1\}"):
        load_image_mask_folder(tmp_path, mask_map={3: -1})


def test_folder_names_an_empty_image_file(tmp_path):
    write_pair(tmp_path, "a", np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8))
    (tmp_path / "images" / "a.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"cannot read .*images/a\.png as an image .*expected a PNG"):
        load_image_mask_folder(tmp_path)


def test_folder_names_a_missing_mask_folder_and_empty_image_folder(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(FileNotFoundError, match=r"mask folder: folder .*masks does not exist"):
        load_image_mask_folder(tmp_path)
    (tmp_path / "masks").mkdir()
    with pytest.raises(ValueError, match=r"no images \(.png, .jpg.*\) in .*images"):
        load_image_mask_folder(tmp_path)


def test_tbm_names_the_missing_files_of_a_broken_data_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_root .* lacks 32 file\(s\) of tbm_grain_boundaries, e.g. \['test/images/"):
        load_tbm_grain_boundaries("test", data_root=tmp_path)
    with pytest.raises(ValueError, match=r"data_root: .* is not a folder"):
        load_tbm_grain_boundaries("test", data_root=Path(__file__))


def test_isbi_names_an_empty_stack_file(tmp_path):
    (tmp_path / "train-volume.tif").write_bytes(b"")
    (tmp_path / "train-labels.tif").write_bytes(b"")
    with pytest.raises(ValueError, match=r"cannot read .*train-volume\.tif as a TIFF .*expected the ISBI 2012 train volume"):
        load_isbi2012("train", data_root=tmp_path)
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'val', 'all', 'test'\], got 'dev'"):
        load_isbi2012("dev", data_root=tmp_path)


def test_sstem_names_what_a_broken_data_root_lacks(tmp_path):
    (tmp_path / "stack1" / "raw").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"data_root .* lacks 36 file\(s\) of drosophila_sstem, e.g. \['stack1/raw/00.tif'"):
        load_sstem("train", data_root=tmp_path)
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'val', 'test', 'all'\], got 'dev'"):
        load_sstem("dev", data_root=tmp_path)


# ----------------------------------------------------------------------------------- training

def test_fit_rejects_unknown_task_before_training():
    x, y = torch.rand(2, 1, 8, 8), labels(2, 8, 8)
    # was: a whole epoch of training, then evaluate()'s error (or none without val_data)
    with pytest.raises(ValueError, match=r"task must be one of \['binary', 'multiclass'\], got 'regress'"):
        fit(unet(1, 2, base=2, depth=1), (x, y), loss_fn=losses.segmentation_cross_entropy, epochs=1,
            num_classes=2, task="regress", progress=False)


def test_fit_with_out_of_range_masks_names_the_labels():
    x, y = torch.rand(2, 1, 8, 8), labels(2, 8, 8, value=7)
    with pytest.raises(ValueError, match=r"target labels must be in \[0, 2\) or ignore_index=255.*max 7"):
        fit(unet(1, 2, base=2, depth=1), (x, y), loss_fn=losses.segmentation_cross_entropy, epochs=1,
            num_classes=2, progress=False)


# ------------------------------------------------------------------------------------- runner

@pytest.fixture
def repo(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'fake'\n")
    shutil.copytree(FIXTURES, tmp_path / "notebooks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    return tmp_path


@pytest.mark.parametrize("parameters, match", [
    ({"data_source": "voc"}, r"parameter data_source must be one of \['synthetic', 'real'\], got 'voc'"),
    ({"seed": -3}, "parameter seed must be a non-negative integer, got -3"),
    ({"seed": "abc"}, "parameter seed must be a non-negative integer, got 'abc'"),
    ({"data_root": 5}, "parameter data_root must be a folder path or None, got 5"),
    ({"epoch": 3}, r"unknown parameter 'epoch' \(-p epoch\): no notebook of 01_ok declares it .*known parameters: "
                   r"data_source, extra, output_dir, profile, ratio, seed, sleep"),
])
def test_runner_rejects_bad_parameter_values(repo, parameters, match):
    from helpers.tools.run import run_notebooks

    with pytest.raises(ValueError, match=match):
        run_notebooks(["01_ok"], profile="smoke", parameters=parameters, log=lambda s: None)
    assert not (repo / "results").exists()  # rejected before anything ran


@pytest.mark.parametrize("argv, message", [
    (["-p", "data_source", "imagenet"], "parameter data_source must be one of"),
    (["-p", "sead", "1"], "unknown parameter 'sead'"),
    (["--profile", "medium"], "invalid choice: 'medium'"),
    (["00_nope"], "unknown notebook '00_nope'"),
])
def test_runner_cli_bad_values_are_usage_errors(repo, capsys, argv, message):
    from helpers.tools.run import main

    with pytest.raises(SystemExit) as exc:
        main(argv + (["01_ok"] if argv[0] != "00_nope" else []))
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_notebook_profile_helpers_reject_unknown_profiles():
    from helpers.core.runtime import pick, resolve_profile

    with pytest.raises(ValueError, match=r"profile must be one of \['auto', 'smoke', 'lite', 'full'\], got 'fast'"):
        resolve_profile("fast")
    with pytest.raises(ValueError, match=r"profile must be one of \['smoke', 'lite', 'full'\], got 'auto'"):
        pick("auto", smoke=1, lite=1, full=2)


# ------------------------------------------------------------------------------- Keras models

@pytest.mark.parametrize("input_shape", [(32, 32, 0), (-32, 32, 1), (32.0, 32, 1), (32, 32, True)])
def test_residual_unet_rejects_bad_input_shape(input_shape):
    from helpers.models.residual_unet import residual_unet

    with pytest.raises(ValueError, match=r"input_shape must be \(H, W, C\) of positive integers"):
        residual_unet(input_shape, depth=2, filters=2)


def test_keras_models_reject_zero_channels_and_widths():
    from helpers.models.filler_cnn import filler_cnn
    from helpers.models.residual_unet import residual_unet

    with pytest.raises(ValueError, match=r"input_shape must be \(H, W, C\) with H, W >= 16 and C >= 1"):
        filler_cnn((32, 32, 0))
    with pytest.raises(ValueError, match="filters must be an integer >= 1, got 0"):
        residual_unet((32, 32, 1), depth=2, filters=0)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        residual_unet((32, 32, 1), depth=2, filters=2, num_classes=0)
    with pytest.raises(ValueError, match="fc_scale must be > 0"):
        filler_cnn((32, 32, 1), fc_scale=0)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got nan"):
        filler_cnn((32, 32, 1), dropout=math.nan)
