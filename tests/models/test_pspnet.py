import pytest
import torch

from helpers.losses import main_aux_loss
from helpers.models.pspnet import PyramidPooling, pspnet


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return pspnet(4, backbone_weights=None, freeze_backbone=True)


@pytest.mark.parametrize("size", [(64, 64), (72, 96), (57, 57)])
def test_output_and_aux_shapes(model, size):
    x = torch.rand(2, 3, *size)
    model.train()
    main, aux = model(x)
    assert main.shape == aux.shape == (2, 4, *size)
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (2, 4, *size)


def test_output_stride_is_eight(model):
    with torch.no_grad():
        f = model.layer4(model.layer3(model.layer2(model.layer1(model.stem(torch.zeros(1, 3, 96, 96))))))
    assert f.shape == (1, 2048, 12, 12)  # a 475 x 475 image gives 60 x 60 the same way


def test_frozen_backbone_gets_no_gradient_and_keeps_bn_statistics(model):
    model.train()
    bn = model.layer1[0].bn1
    before = bn.running_mean.clone()
    y = torch.randint(0, 4, (2, 64, 64))
    main_aux_loss(model(torch.rand(2, 3, 64, 64) * 5), y).backward()
    assert all(p.grad is None for p in model.backbone_parameters())
    assert all(p.grad is not None for p in model.head.parameters())
    assert all(p.grad is not None for p in model.aux_head.parameters())
    assert torch.equal(bn.running_mean, before) and not bn.training
    model.zero_grad(set_to_none=True)


def test_unfrozen_backbone_trains_and_grey_stem():
    m = pspnet(3, in_channels=1, backbone_weights=None, freeze_backbone=False).train()
    main, _ = m(torch.rand(2, 1, 64, 64))  # batch >= 2: the 1x1 pooled branch has batch norm
    main.sum().backward()
    assert m.stem[0].weight.shape[1] == 1 and m.stem[0].weight.grad is not None
    assert m.weights_source == "random" and not m.freeze_backbone


def test_auto_freeze_follows_the_weights():
    assert not pspnet(2, backbone_weights=None).freeze_backbone  # random weights: train them


def test_pyramid_pooling_bins():
    ppm = PyramidPooling(32, bins=(1, 2, 3, 6))
    assert [s[0].output_size for s in ppm.stages] == [1, 2, 3, 6]
    # Bin 1 sees only the global mean: a constant map gives a constant pooled branch.
    out = ppm.eval()(torch.ones(1, 32, 12, 12))
    assert torch.allclose(out[:, 32:40], out[:, 32:40, :1, :1].expand(-1, -1, 12, 12))


def test_main_aux_loss_weights():
    y = torch.randint(0, 3, (2, 8, 8))
    main, aux = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    ce = torch.nn.functional.cross_entropy
    torch.testing.assert_close(main_aux_loss((main, aux), y), ce(main, y) + 0.4 * ce(aux, y))
    torch.testing.assert_close(main_aux_loss(main, y), ce(main, y))
    y[:, 0] = 255
    torch.testing.assert_close(main_aux_loss(main, y), ce(main, y, ignore_index=255))


@pytest.mark.parametrize("kwargs, match", [(dict(num_classes=0), "num_classes"), (dict(backbone_weights="coco"), "backbone_weights"),
                                           (dict(freeze_backbone="yes"), "freeze_backbone"), (dict(dropout=1.0), "dropout")])
def test_bad_arguments(kwargs, match):
    kwargs = {"num_classes": 3, "backbone_weights": None, **kwargs}
    with pytest.raises(ValueError, match=match):
        pspnet(**kwargs)


def test_bad_input_shape(model):
    with pytest.raises(ValueError, match="N, C, H, W"):
        model(torch.zeros(3, 32, 32))
