"""The class-grouped U-Net: shapes, groups kept apart, U-Net reuse, channels_last/bf16, training with the loss."""

import pytest
import torch

from helpers.models.grouped_unet import GroupedUNet, grouped_unet
from helpers.models.unet import UNet
from helpers.losses.pixel_relation import FewShotLoss, fewshot_loss, pixel_relation_loss
from helpers.training import evaluate, fit


def _net(**kw):
    torch.manual_seed(0)
    return GroupedUNet(1, 3, base=4, depth=2, group_channels=2, **kw)


def test_shapes_and_return_features():
    net = _net()
    x = torch.rand(2, 1, 32, 32)
    logits = net(x)
    assert logits.shape == (2, 3, 32, 32)
    out, feats = net(x, return_features=True)
    assert feats.shape == (2, 6, 32, 32)
    torch.testing.assert_close(out, logits)
    assert net.group_features(feats).shape == (2, 3, 2, 32, 32)
    net_f = _net(return_features=True)
    assert isinstance(net_f(x), tuple) and isinstance(net_f(x, return_features=False), torch.Tensor)
    assert isinstance(grouped_unet(1, 4, base=4, depth=1, group_channels=3), GroupedUNet)


def test_reuses_the_plain_unet():
    net = _net()
    assert isinstance(net, UNet)
    plain = UNet(1, 3, base=4, depth=2)
    shared = {k for k in plain.state_dict() if not k.startswith("head.")}
    assert shared <= set(net.state_dict())  # encoder/decoder weights load into either model
    assert isinstance(net.head, torch.nn.Identity)


def test_groups_are_kept_apart():
    # Features of group 0 depend on no weight of another group's branch (the grouped conv), while the
    # classifier sees every group.
    net = _net()
    _, feats = net(torch.rand(2, 1, 16, 16), return_features=True)
    feats[:, 0:2].sum().backward()
    first, second = net.groups[0].weight.grad, net.groups[3].weight.grad
    assert first[2:].abs().sum() == 0 and first[:2].abs().sum() > 0
    assert second[2:].abs().sum() == 0
    net.zero_grad()
    logits, _ = net(torch.rand(2, 1, 16, 16), return_features=True)
    logits[:, 0].sum().backward()
    assert (net.classifier.weight.grad[0].abs().flatten() > 0).all()


def test_features_can_be_negative():
    # The last group layer is linear: cosines down to -1 must be reachable.
    _, feats = _net()(torch.rand(2, 1, 16, 16), return_features=True)
    assert feats.min() < 0 < feats.max()


def test_channels_last_and_bf16_autocast():
    net = _net().eval()
    x = torch.rand(2, 1, 32, 32)
    ref_logits, ref_feats = net(x, return_features=True)
    net_cl = net.to(memory_format=torch.channels_last)
    logits, feats = net_cl(x.contiguous(memory_format=torch.channels_last), return_features=True)
    torch.testing.assert_close(logits, ref_logits, rtol=1e-4, atol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, feats = net_cl(x.contiguous(memory_format=torch.channels_last), return_features=True)
        loss = fewshot_loss((logits, feats), torch.randint(0, 3, (2, 32, 32)))
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32 and torch.isfinite(loss)


def test_bad_input():
    net = _net()
    with pytest.raises(ValueError, match="divisible"):
        net(torch.rand(1, 1, 30, 30))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        net(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="group_channels"):
        GroupedUNet(1, 3, group_channels=0)


def test_gradient_reaches_the_encoder_through_the_relation_loss():
    net = _net()
    y = torch.randint(0, 3, (2, 16, 16))
    _, feats = net(torch.rand(2, 1, 16, 16), return_features=True)
    pixel_relation_loss(feats, y, 3).backward()
    assert net.down[0][0].weight.grad.abs().sum() > 0
    assert net.classifier.weight.grad is None  # the relation term does not touch the head


def test_training_lowers_the_relation_loss():
    torch.manual_seed(0)
    net = _net()
    x = torch.rand(4, 1, 16, 16)
    y = (x[:, 0] > 0.5).long() + (x[:, 0] > 0.8).long()

    def rel():
        net.eval()
        with torch.no_grad():
            return float(pixel_relation_loss(net(x, return_features=True)[1], y, 3,
                                             generator=torch.Generator().manual_seed(0)))

    before = rel()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    net.train()
    for step in range(25):
        loss = fewshot_loss(net(x, return_features=True), y, generator=torch.Generator().manual_seed(step))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    assert rel() < 0.7 * before


def test_fit_and_evaluate_with_the_fewshot_loss():
    net = _net(return_features=True)
    x = torch.rand(8, 1, 16, 16)
    y = (x[:, 0] > 0.5).long()
    history = fit(net, (x[:6], y[:6]), loss_fn=FewShotLoss(1.0, variant="two_image"), epochs=2, batch_size=2,
                  num_classes=3, val_data=(x[6:], y[6:]), device="cpu", progress=False)
    assert len(history.train_loss) == 2 and all(v == v for v in history.train_loss)
    scores = evaluate(net, (x[6:], y[6:]), num_classes=3, device="cpu")
    assert len(scores["iou_per_class"]) == 3 and 0.0 <= scores["pixel_accuracy"] <= 1.0
