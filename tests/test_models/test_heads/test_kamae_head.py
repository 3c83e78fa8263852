import pytest
import torch
from mmpretrain.models.heads import MAEPretrainHead

from mmkamim.models import KAMAEHead

# Loss values and skipped steps depend on float rounding.
pytestmark = pytest.mark.numerics


def heads(norm_pix: bool = True, patch_size: int = 16):
    mae = MAEPretrainHead(
        norm_pix=norm_pix,
        patch_size=patch_size,
        loss=dict(type='PixelReconstructionLoss', criterion='L2'))
    ours = KAMAEHead(
        norm_pix=norm_pix,
        patch_size=patch_size,
        loss=dict(type='WeightedPixelReconstructionLoss', criterion='L2'))
    return mae, ours


def test_unit_weights_give_mae_loss_exactly():
    torch.manual_seed(0)
    target = torch.randn(2, 3, 64, 64)
    pred = torch.randn(2, 16, 16 * 16 * 3)
    mask = (torch.rand(2, 16) > 0.25).float()
    mae, ours = heads()
    expected = mae.loss(pred, target, mask)
    assert torch.equal(ours.loss(pred, target, mask, torch.ones(2, 8, 8)),
                       expected)
    assert torch.equal(ours.loss(pred, target, mask), expected)


def test_hand_computed_weighted_loss():
    # A one-channel 4x4 image in four 2x2 patches, one weight cell per
    # patch; patches 0 and 3 are masked.
    target = torch.zeros(1, 1, 4, 4)
    _, ours = heads(norm_pix=False, patch_size=2)
    ours.in_channels = 1
    pred = torch.arange(16, dtype=torch.float32).reshape(1, 4, 4) / 10
    mask = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    weight = torch.tensor([[[3.0, 1.0], [1.0, 0.5]]])
    expected = (3 * (pred[0, 0]**2).mean() + 0.5 * (pred[0, 3]**2).mean()) / 2
    loss = ours.loss(pred, target, mask, weight)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_pixel_weights_follow_patch_layout():
    # A weight on one 8 px cell only changes the loss of the patch holding
    # that cell, and only through that cell's pixels.
    torch.manual_seed(0)
    target = torch.randn(1, 3, 32, 32)
    pred = torch.randn(1, 4, 16 * 16 * 3)
    mask = torch.ones(1, 4)
    _, ours = heads(norm_pix=False)
    weight = torch.ones(1, 4, 4)
    weight[0, 2, 3] = 5.0  # rows 16-23, cols 24-31: patch 3 (row 1, col 1)
    patches = ours.patchify(target)
    per_pixel = (pred - patches)**2
    cell = torch.zeros(1, 3, 32, 32)
    cell[..., 16:24, 24:32] = 1
    extra = 4 * (per_pixel * ours.patchify(cell)).mean(-1)
    expected = (per_pixel.mean(-1) + extra).mean()
    loss = ours.loss(pred, target, mask, weight)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_inputs_outside_autocast_give_the_exact_loss(dtype):
    """Prediction, target and T = 0.1 weights (up to e^10 = 22026) in half
    precision with no autocast, as from a model cast with .half(): the
    head's float32 computation gives the float64 value."""
    torch.manual_seed(0)
    target = torch.randn(2, 3, 64, 64).to(dtype)
    pred = (3 * torch.randn(2, 16, 16 * 16 * 3)).to(dtype)
    mask = (torch.rand(2, 16) > 0.25).float()
    weight = torch.ones(2, 8, 8)
    weight[:, ::2] = 22026.0
    weight = weight.to(dtype)
    _, ours = heads()
    loss = ours.loss(pred, target, mask, weight)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    reference = ours.loss(pred.double(), target.double(), mask.double(),
                          weight.double())
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)


def test_float32_under_autocast():
    torch.manual_seed(0)
    target = torch.randn(1, 3, 32, 32)
    pred = torch.randn(1, 4, 768, dtype=torch.bfloat16)
    _, ours = heads()
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        loss = ours.loss(pred, target, torch.ones(1, 4),
                         torch.full((1, 4, 4), 22026.0))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
