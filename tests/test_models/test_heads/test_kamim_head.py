import numpy as np
import pytest
import torch
from mmpretrain.datasets.transforms import SimMIMMaskGenerator
from mmpretrain.models.heads import SimMIMHead

from mmkamim.models import KAMIMHead


def kamim_head(patch_size: int = 16) -> KAMIMHead:
    return KAMIMHead(
        patch_size=patch_size,
        loss=dict(
            type='WeightedPixelReconstructionLoss', criterion='L1',
            channel=3))


def simmim_masks(batch: int) -> torch.Tensor:
    generator = SimMIMMaskGenerator(
        input_size=192, mask_patch_size=32, model_patch_size=16,
        mask_ratio=0.6)
    return torch.stack([
        torch.from_numpy(generator(dict())['mask']) for _ in range(batch)
    ])


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


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision_predictions_keep_float32_loss(dtype):
    torch.manual_seed(0)
    target = torch.randn(2, 3, 192, 192)
    pred = (target + 3 * torch.randn(2, 3, 192, 192)).to(dtype)
    mask = simmim_masks(2)
    # T = 0.1: a fully covered cell weighs e^10 = 22026 over an empty one.
    weight = torch.ones(2, 24, 24)
    weight[:, ::2] = float(np.exp(np.float32(10)))
    head = kamim_head()
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        loss = head.loss(pred, target, mask, weight)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    reference = kamim_head().loss(pred.double(), target.double(), mask,
                                  weight.double())
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)
    # The same sum kept in half precision overflows or rounds away:
    # the float32 path is what keeps the loss exact.
    half = (pred * weight.repeat_interleave(8, 1).repeat_interleave(
        8, 2)[:, None].to(dtype)).abs().sum()
    assert not torch.isfinite(half) or abs(half.float().item() - (
        pred.float().abs() * weight.repeat_interleave(8, 1).repeat_interleave(
            8, 2)[:, None]).sum().item()) > 1e-3


def test_weight_grid_must_tile_the_image():
    pred = torch.randn(1, 3, 192, 192)
    with pytest.raises(ValueError, match='7x7 grid'):
        kamim_head().loss(pred, pred, simmim_masks(1), torch.ones(1, 7, 7))
