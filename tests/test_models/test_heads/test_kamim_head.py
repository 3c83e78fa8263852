import numpy as np
import pytest
import torch
from mmpretrain.models.heads import SimMIMHead

from mmkamim.models import KAMIMHead

# Loss values and skipped steps depend on float rounding.
pytestmark = pytest.mark.numerics


def kamim_head(patch_size: int = 16) -> KAMIMHead:
    return KAMIMHead(
        patch_size=patch_size,
        loss=dict(
            type='WeightedPixelReconstructionLoss', criterion='L1',
            channel=3))


def simmim_masks(batch: int, seed: int = 0) -> torch.Tensor:
    """(batch, 12, 12) masks of 16 px patches as ``SimMIMMaskGenerator``
    makes them at 192 px (60 % of the 32 px mask patches), drawn from a
    generator of their own."""
    generator = torch.Generator().manual_seed(seed)
    count = int(np.ceil(36 * 0.6))
    masks = torch.zeros(batch, 36, dtype=torch.long)
    for mask in masks:
        mask[torch.randperm(36, generator=generator)[:count]] = 1
    return masks.reshape(batch, 6, 6).repeat_interleave(
        2, 1).repeat_interleave(2, 2)


def test_uniform_weights_equal_simmim():
    torch.manual_seed(0)
    pred, target = torch.randn(4, 3, 192, 192), torch.randn(4, 3, 192, 192)
    mask = simmim_masks(4)
    simmim = SimMIMHead(
        patch_size=16,
        loss=dict(type='PixelReconstructionLoss', criterion='L1', channel=3))
    expected = simmim.loss(pred, target, mask)
    head = kamim_head()
    for weight in (None, torch.ones(4, 24, 24), torch.ones(4, 12, 12)):
        assert abs(head.loss(pred, target, mask, weight) - expected) < 1e-6


def test_hand_computed_weighted_loss():
    # One 4x4 image, 2x2 mask patches (top-left and bottom-right masked),
    # 2x2 weight cells with weights 1, 2, 3, 4.
    pred = torch.arange(48, dtype=torch.float32).reshape(1, 3, 4, 4) / 10
    target = torch.zeros(1, 3, 4, 4)
    mask = torch.tensor([[[1, 0], [0, 1]]])
    weight = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    total, pixels = 0.0, 0
    for c in range(3):
        for y in range(4):
            for x in range(4):
                if mask[0, y // 2, x // 2]:
                    total += float(weight[0, y // 2, x // 2]) * abs(
                        float(pred[0, c, y, x]))
                    pixels += (c == 0)
    expected = total / pixels / 3
    loss = kamim_head(patch_size=2).loss(pred, target, mask, weight)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def weights_at_t01(batch: int, cells: int, dtype) -> torch.Tensor:
    """Half the rows at e^10 = 22026, the weight of a fully covered cell at
    T = 0.1, the others at 1."""
    weight = torch.ones(batch, cells, cells)
    weight[:, ::2] = float(np.exp(np.float32(10)))
    return weight.to(dtype)


def inputs_half_precision_loses(dtype):
    """Targets in [b, 2b) with b = 2 / eps, where the spacing of ``dtype``
    is at least 2, and predictions in [0, 0.9): ``pred - target`` rounded
    to ``dtype`` is ``-target``, every prediction is lost. Both are exact
    in ``dtype``."""
    generator = torch.Generator().manual_seed(0)
    base = 2 / torch.finfo(dtype).eps
    target = (base * (1 + torch.rand(2, 3, 192, 192, generator=generator))
              ).to(dtype)
    pred = (0.9 * torch.rand(2, 3, 192, 192, generator=generator)).to(dtype)
    return pred, target


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_inputs_outside_autocast_give_the_exact_loss(dtype):
    """A model cast with .half() hands the head half-precision prediction,
    target and weights with no autocast around it. Computed in that
    precision, the difference of the test's inputs loses the predictions
    (a relative error of about 1e-4 for fp16, 1e-3 for bf16); the head's
    float32 computation gives the float64 value."""
    pred, target = inputs_half_precision_loses(dtype)
    weight = weights_at_t01(2, 24, dtype)
    mask = simmim_masks(2)
    loss = kamim_head().loss(pred, target, mask, weight)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    reference = kamim_head().loss(pred.double(), target.double(), mask,
                                  weight.double())
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)


def test_float32_under_autocast():
    torch.manual_seed(0)
    target = torch.randn(2, 3, 192, 192)
    pred = target + 3 * torch.randn(2, 3, 192, 192)
    weight = weights_at_t01(2, 24, torch.float32)
    mask = simmim_masks(2)
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        loss = kamim_head().loss(pred.bfloat16(), target, mask, weight)
    reference = kamim_head().loss(pred.bfloat16().double(), target.double(),
                                  mask, weight.double())
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)


def test_weight_grid_must_tile_the_image():
    torch.manual_seed(0)
    pred = torch.randn(1, 3, 192, 192)
    with pytest.raises(ValueError, match='7x7 grid'):
        kamim_head().loss(pred, pred, simmim_masks(1), torch.ones(1, 7, 7))
