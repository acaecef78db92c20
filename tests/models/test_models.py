import pytest
import torch

from helpers.models import unet


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_unet_shapes_and_gradients(depth):
    net = unet(2, 4, base=4, depth=depth)
    x = torch.randn(2, 2, 32, 32, requires_grad=True)
    out = net(x)
    assert out.shape == (2, 4, 32, 32)
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_unet_parameter_count_grows_with_depth():
    count = [sum(p.numel() for p in unet(1, 2, base=8, depth=d).parameters()) for d in (1, 2, 3)]
    assert count[0] < count[1] < count[2]


def test_unet_skip_connections_carry_fine_detail():
    # A depth-2 U-Net must be able to see a single-pixel change at full resolution;
    # without skips the pooled path would blur it across 4x4 blocks.
    torch.manual_seed(0)
    net = unet(1, 1, base=4, depth=2).eval()
    x = torch.zeros(1, 1, 16, 16)
    y0 = net(x)
    x[0, 0, 5, 5] = 1.0
    diff = (net(x) - y0).abs()[0, 0]
    assert diff[5, 5] > 0 and diff[4:7, 4:7].sum() > diff.sum() * 0.1


@pytest.mark.parametrize("shape, message", [
    ((2, 3, 32, 32), r"UNet expects input \(N, 1, H, W\)"),
    ((2, 1, 30, 32), "needs H and W divisible by 4"),
    ((1, 32, 32), r"UNet expects input"),
])
def test_unet_bad_input(shape, message):
    with pytest.raises(ValueError, match=message):
        unet(1, 2, base=4, depth=2)(torch.zeros(shape))


def test_unet_bad_arguments():
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1"):
        unet(1, 0)
    with pytest.raises(ValueError, match="depth must be an integer >= 1"):
        unet(1, 2, depth=0)
