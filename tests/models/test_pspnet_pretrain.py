"""The course-pretrained PSPNet backbone: cached, hash-checked, loadable, and frozen once loaded."""

import json
import warnings

import numpy as np
import pytest
import torch

from helpers.data.synthetic.scenes import synthetic_scenes
from helpers.losses import main_aux_loss
from helpers.models.pspnet import (SOURCE_CLASSES, TARGET_CLASSES, backbone_state_dict, pretrain_backbone, pspnet,
                                   verified_backbone)
from helpers.models.pspnet.pretrain import file_sha256

TINY = dict(size=32, n_images=4, epochs=1, batch_size=2, head_channels=8, progress=False)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    cache = tmp_path_factory.mktemp("backbones")
    return cache, pretrain_backbone(cache_dir=cache, **TINY)


def test_source_and_target_tasks_share_no_class():
    assert not set(SOURCE_CLASSES) & set(TARGET_CLASSES)
    src = synthetic_scenes(2, 48, num_classes=len(SOURCE_CLASSES) + 1, object_classes=SOURCE_CLASSES)
    tgt = synthetic_scenes(2, 48, num_classes=len(TARGET_CLASSES) + 1, object_classes=TARGET_CLASSES)
    assert not set(src["class_names"][1:]) & set(tgt["class_names"][1:])


def test_default_object_classes_are_the_first_rows():
    a = synthetic_scenes(3, 48, num_classes=4, seed=5)
    b = synthetic_scenes(3, 48, num_classes=4, seed=5, object_classes=(1, 2, 3))
    np.testing.assert_array_equal(a["images"], b["images"])
    np.testing.assert_array_equal(a["masks"], b["masks"])


@pytest.mark.parametrize("bad", [(1, 2), (1, 1, 2), (0, 1, 2), (1, 2, 12)])
def test_object_classes_are_checked(bad):
    with pytest.raises(ValueError, match="object_classes"):
        synthetic_scenes(1, 48, num_classes=4, object_classes=bad)


def test_pretraining_writes_a_hash_checked_backbone(pretrained):
    _, info = pretrained
    assert info["cached"] is False and info["sha256"] == file_sha256(info["path"])
    manifest = json.loads((verified_backbone(info["path"].rsplit("/", 1)[0]).parent / "manifest.json").read_text())
    assert manifest["sha256"] == info["sha256"] and manifest["source_classes"] == list(SOURCE_CLASSES)


def test_second_call_reuses_the_cache(pretrained):
    cache, info = pretrained
    again = pretrain_backbone(cache_dir=cache, **TINY)
    assert again["cached"] is True and again["sha256"] == info["sha256"] and again["path"] == info["path"]


def test_an_altered_backbone_is_trained_again_not_loaded(tmp_path):
    info = pretrain_backbone(cache_dir=tmp_path, **TINY)
    with open(info["path"], "ab") as f:
        f.write(b"tampered")
    assert verified_backbone(tmp_path / info["path"].split("/")[-2]) is None
    with pytest.warns(RuntimeWarning, match="SHA-256"):
        again = pretrain_backbone(cache_dir=tmp_path, **TINY)
    assert again["cached"] is False and file_sha256(again["path"]) == again["sha256"]


def test_loaded_backbone_equals_saved_and_is_frozen(pretrained):
    _, info = pretrained
    saved = torch.load(info["path"], weights_only=True)
    model = pspnet(3, backbone_weights=info["path"], head_channels=8)
    assert model.freeze_backbone and model.weights_source.startswith("file:")
    loaded = backbone_state_dict(model)
    assert loaded.keys() == saved.keys() and all(torch.equal(loaded[k], saved[k]) for k in saved)
    model.train()
    bn = model.layer2[0].bn1
    before = bn.running_var.clone()
    main_aux_loss(model(torch.rand(2, 3, 32, 32) * 3), torch.randint(0, 3, (2, 32, 32))).backward()
    assert all(p.grad is None for p in model.backbone_parameters())
    assert torch.equal(bn.running_var, before)


def test_a_file_that_is_not_a_backbone_is_refused(tmp_path):
    bad = tmp_path / "not_a_backbone.pt"
    torch.save({"weight": torch.zeros(3)}, bad)
    with pytest.raises(ValueError, match="not a ResNet-50 backbone"):
        pspnet(3, backbone_weights=bad)
    with pytest.raises(FileNotFoundError, match="no backbone file"):
        pspnet(3, backbone_weights=tmp_path / "missing.pt")


def test_narrow_head_keeps_shapes():
    m = pspnet(4, backbone_weights=None, head_channels=32).eval()
    with torch.no_grad():
        assert m(torch.zeros(1, 3, 48, 48)).shape == (1, 4, 48, 48)
    assert m.ppm.out_channels == 2048 + 4 * 32
