import keras
import numpy as np
import pytest

from helpers.models.deeplabv3plus import deeplabv3plus
from helpers.models.residual_unet import residual_unet


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
@pytest.mark.parametrize("layers", [2, 3, 4, 5, 6, 7])
def test_every_depth_and_layer_builds(depth, layers):
    m = residual_unet((32, 32, 1), depth=depth, layers=layers, filters=2)
    assert m.output_shape == (None, 32, 32, 1)
    convs = [l for l in m.layers if isinstance(l, keras.layers.Conv2D) and not isinstance(l, keras.layers.Conv2DTranspose)]
    # (2*depth - 1) levels of `layers` convolutions, plus the 1x1 head.
    assert len(convs) == (2 * depth - 1) * layers + 1
    adds = [l.name for l in m.layers if isinstance(l, keras.layers.Add)]
    assert sum(n.endswith("_skip_add") for n in adds) == depth - 1
    assert sum(n.endswith("_residual_add") for n in adds) == (2 * depth - 1 if layers > 2 else 0)


def test_add_skip_really_adds():
    m = residual_unet((16, 16, 1), depth=2, layers=2, filters=3)
    add = m.get_layer("dec0_skip_add")
    up, enc = m.get_layer("dec0_up").output, m.get_layer("enc0_c2_relu").output
    probe = keras.Model(m.input, [up, enc, add.output])
    u, e, a = (np.asarray(t) for t in probe(np.random.default_rng(0).random((2, 16, 16, 1), dtype=np.float32)))
    np.testing.assert_allclose(a, u + e, rtol=1e-5, atol=1e-6)
    assert a.shape[-1] == 3  # adding keeps the width; concatenation would double it


def test_concat_variant_and_parameter_counts():
    add = residual_unet((32, 32, 1), depth=3, layers=2, filters=4, skip="add")
    cat = residual_unet((32, 32, 1), depth=3, layers=2, filters=4, skip="concat")
    assert any(l.name.endswith("_skip_concat") for l in cat.layers)
    assert cat.count_params() > add.count_params()  # the decoder's first conv sees twice the channels


def test_no_skip_variant_has_the_same_weights():
    a = residual_unet((32, 32, 1), depth=3, layers=5, filters=2, residual=True)
    b = residual_unet((32, 32, 1), depth=3, layers=5, filters=2, residual=False)
    assert a.count_params() == b.count_params()
    assert not any(l.name.endswith("_residual_add") for l in b.layers)


def test_output_is_a_probability():
    m = residual_unet((32, 32, 1), depth=3, layers=3, filters=2)
    p = np.asarray(m(np.random.default_rng(1).random((2, 32, 32, 1), dtype=np.float32)))
    assert p.shape == (2, 32, 32, 1) and (p >= 0).all() and (p <= 1).all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(depth=0), "depth"), (dict(depth=7), "depth"), (dict(layers=0), "layers"),
    (dict(skip="multiply"), "skip"), (dict(input_shape=(30, 30, 1), depth=3), "divisible"),
    (dict(input_shape=(32, 32)), "input_shape"),
])
def test_unet_bad_arguments(kwargs, match):
    kwargs = {"input_shape": (32, 32, 1), **kwargs}
    with pytest.raises(ValueError, match=match):
        residual_unet(**kwargs)


@pytest.mark.parametrize("backbone, size", [("mobilenetv2", 64), ("xception", 96)])
def test_deeplabv3plus_shapes(backbone, size):
    m = deeplabv3plus((size, size, 1), backbone=backbone, weights=None, aspp_filters=16)
    assert m.output_shape == (None, size, size, 1) and m.weights_source == "random"
    p = np.asarray(m(np.zeros((1, size, size, 1), np.float32)))
    assert p.shape == (1, size, size, 1) and ((p >= 0) & (p <= 1)).all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(backbone="resnet"), "backbone"), (dict(input_shape=(60, 60, 1)), "divisible"),
    (dict(input_shape=(64, 64, 1), backbone="xception"), ">= 71"), (dict(input_shape=(64, 64, 2)), "input_shape"),
    (dict(weights="coco"), "weights"),
])
def test_deeplabv3plus_bad_arguments(kwargs, match):
    kwargs = {"input_shape": (64, 64, 1), "weights": None, **kwargs}
    with pytest.raises(ValueError, match=match):
        deeplabv3plus(**kwargs)


def test_batch_norm_momentum_suits_short_runs():
    # Keras' MobileNetV2 ships momentum 0.999: its moving statistics would not follow a few hundred steps.
    m = deeplabv3plus((64, 64, 1), backbone="mobilenetv2", weights=None, aspp_filters=8, bn_momentum=0.8)
    bns = [l for l in m._flatten_layers() if isinstance(l, keras.layers.BatchNormalization)]
    assert len(bns) > 40 and {l.momentum for l in bns} == {0.8}
    u = residual_unet((32, 32, 1), depth=3, layers=3, filters=2)
    assert {l.momentum for l in u.layers if isinstance(l, keras.layers.BatchNormalization)} == {0.9}
    with pytest.raises(ValueError, match="bn_momentum"):
        deeplabv3plus((64, 64, 1), weights=None, bn_momentum=1.0)
