"""The DCN paper's augmentation: one of six dihedral ops per sample, image and mask alike."""

import pytest
import torch

from helpers.augment.gpu import DIHEDRAL_OPS, RandomDihedral, apply_dihedral, random_dihedral

REFERENCE = {
    "identity": lambda t: t,
    "rot90": lambda t: torch.rot90(t, 1, (-2, -1)),
    "rot180": lambda t: torch.rot90(t, 2, (-2, -1)),
    "rot270": lambda t: torch.rot90(t, 3, (-2, -1)),
    "hflip": lambda t: torch.flip(t, (-1,)),
    "vflip": lambda t: torch.flip(t, (-2,)),
}


def test_each_sample_gets_its_own_op_and_all_six_occur():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(120, 2, 6, 6)
    xa, ops = random_dihedral(x, generator=g, return_ops=True)
    counts = torch.bincount(ops, minlength=6)
    assert counts.shape == (6,) and bool((counts > 0).all())
    for i in range(len(x)):  # against the ops applied one by one
        torch.testing.assert_close(xa[i], REFERENCE[DIHEDRAL_OPS[int(ops[i])]](x[i]), rtol=0, atol=0)
    # The six ops give six different images of an asymmetric input.
    y = torch.arange(16.0).view(1, 1, 4, 4).expand(6, 1, 4, 4)
    out = apply_dihedral(y, torch.arange(6))
    assert len({tuple(o.flatten().tolist()) for o in out}) == 6


def test_mask_stays_aligned_with_image():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(64, 1, 12, 12)
    f = lambda img: (img[:, 0] > 0.6).long() + (img[:, 0] > 0.9).long()  # noqa: E731  a pixelwise labelling
    y = f(x)
    xa, ya = random_dihedral(x, y, generator=g)
    assert ya.dtype == torch.long and ya.shape == y.shape
    torch.testing.assert_close(ya, f(xa), rtol=0, atol=0)  # mask = f(image) survives the augmentation
    assert not torch.equal(xa, x)  # and something did change
    # (N, 1, H, W) masks too.
    xb, yb = random_dihedral(x, y[:, None].float(), generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(yb[:, 0].long(), f(xb), rtol=0, atol=0)


def test_deterministic_given_the_generator():
    x = torch.rand(32, 1, 8, 8)
    a = random_dihedral(x, generator=torch.Generator().manual_seed(5), return_ops=True)[1]
    b = random_dihedral(x, generator=torch.Generator().manual_seed(5), return_ops=True)[1]
    c = random_dihedral(x, generator=torch.Generator().manual_seed(6), return_ops=True)[1]
    assert torch.equal(a, b) and not torch.equal(a, c)
    aug1, aug2 = RandomDihedral(seed=3), RandomDihedral(seed=3)
    y = torch.zeros(32, 8, 8, dtype=torch.long)
    for _ in range(2):  # successive batches differ, the two runs agree
        assert torch.equal(aug1(x, y)[0], aug2(x, y)[0])


def test_memory_format_and_dtype_are_kept():
    x = torch.rand(8, 3, 8, 8).contiguous(memory_format=torch.channels_last)
    out = random_dihedral(x, generator=torch.Generator().manual_seed(0))
    assert out.is_contiguous(memory_format=torch.channels_last) and out.dtype == x.dtype
    xb = torch.rand(4, 1, 8, 8).to(torch.bfloat16)
    assert random_dihedral(xb).dtype == torch.bfloat16


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="square"):
        random_dihedral(torch.zeros(2, 1, 8, 6))
    with pytest.raises(ValueError, match="must match"):
        random_dihedral(torch.zeros(2, 1, 8, 8), torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(N, C, H, W\)"):
        random_dihedral(torch.zeros(8, 8))
    with pytest.raises(ValueError, match="0..5"):
        apply_dihedral(torch.zeros(2, 1, 4, 4), torch.tensor([0, 6]))
    with pytest.raises(ValueError, match="integer tensor"):
        apply_dihedral(torch.zeros(2, 1, 4, 4), torch.tensor([0.0, 1.0]))
    with pytest.raises(TypeError):
        random_dihedral([[0.0]])
    with pytest.raises(TypeError, match="Generator"):
        random_dihedral(torch.zeros(2, 1, 4, 4), generator=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_on_gpu_without_host_sync():
    x = torch.rand(16, 1, 32, 32, device="cuda")
    y = (x[:, 0] > 0.5).long()
    aug = RandomDihedral(seed=0)
    torch.cuda.set_sync_debug_mode("error")
    try:
        xa, ya = aug(x, y)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.equal(ya, (xa[:, 0] > 0.5).long())
