import pytest
import torch
from mmpretrain.models.losses import PixelReconstructionLoss

from mmkamim.models import WeightedPixelReconstructionLoss


@pytest.mark.parametrize('criterion', ['L1', 'L2'])
def test_without_weight_is_pixel_reconstruction_loss(criterion):
    torch.manual_seed(0)
    pred, target = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    mask = (torch.rand(2, 1, 8, 8) > 0.5).float()
    ours = WeightedPixelReconstructionLoss(criterion, channel=3)
    theirs = PixelReconstructionLoss(criterion, channel=3)
    torch.testing.assert_close(ours(pred, target, mask),
                               theirs(pred, target, mask))
    torch.testing.assert_close(
        ours(pred, target, mask, torch.ones(2, 1, 8, 8)),
        theirs(pred, target, mask))


def test_weight_multiplies_the_penalty():
    loss = WeightedPixelReconstructionLoss('L2', channel=1)
    pred = torch.tensor([[[[1.0, 2.0]]]])
    target = torch.tensor([[[[0.0, 0.0]]]])
    weight = torch.tensor([[[[3.0, 0.5]]]])
    mask = torch.tensor([[[[1.0, 1.0]]]])
    # (3 * 1^2 + 0.5 * 2^2) / 2 masked pixels
    assert loss(pred, target, mask, weight).item() == pytest.approx(2.5)
    assert loss(pred, target, None, weight).item() == pytest.approx(2.5)
