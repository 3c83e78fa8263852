"""Property tests of the keypoint-weighted losses over random inputs.

For random predictions, targets, SimMIM patch masks and cell weights, the
KAMIM and keypoint-aware MAE losses are finite and non-negative, equal
SimMIM's / MAE's when every weight is 1, and do not change when the weights
are scaled where no masked patch lies.
"""
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmpretrain.models.heads import MAEPretrainHead, SimMIMHead

from mmkamim.models import KAMAEHead, KAMIMHead

PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def loss_case(draw, square: bool = False):
    """Prediction, target, a SimMIM patch mask and cell weights (square
    images for MAE, whose patchify needs them)."""
    mask_patch = draw(st.sampled_from([4, 8, 16]))
    cell = draw(st.sampled_from([c for c in (4, 8, 16) if c <= mask_patch]))
    rows = draw(st.integers(1, 6))
    cols = rows if square else draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**16))
    generator = torch.Generator().manual_seed(seed)
    height, width = rows * mask_patch, cols * mask_patch
    pred = torch.randn(2, 3, height, width, generator=generator) * 3
    target = torch.randn(2, 3, height, width, generator=generator)
    mask = (torch.rand(2, rows, cols, generator=generator) < 0.6).long()
    mask[:, 0, 0] = 1  # at least one masked patch per image
    log_weight = torch.rand(2, height // cell, width // cell,
                            generator=generator) * draw(st.floats(0, 10))
    return mask_patch, cell, pred, target, mask, torch.exp(log_weight)


def kamim_head(patch: int) -> KAMIMHead:
    return KAMIMHead(patch_size=patch, loss=dict(
        type='WeightedPixelReconstructionLoss', criterion='L1', channel=3))


def scaled_off_mask(weight: torch.Tensor, mask: torch.Tensor, patch: int,
                    cell: int, factor: float) -> torch.Tensor:
    """``weight`` times ``factor`` in every cell no masked patch covers."""
    per_patch = patch // cell
    covered = mask.repeat_interleave(per_patch, 1).repeat_interleave(
        per_patch, 2).bool()
    return torch.where(covered, weight, weight * factor)


@PROPERTY
@given(loss_case(), st.floats(1e-3, 1e3))
def test_kamim_loss_properties(case, factor):
    patch, cell, pred, target, mask, weight = case
    head = kamim_head(patch)
    loss = head.loss(pred, target, mask, weight)
    assert torch.isfinite(loss) and loss >= 0
    simmim = SimMIMHead(patch_size=patch, loss=dict(
        type='PixelReconstructionLoss', criterion='L1', channel=3))
    ones = torch.ones_like(weight)
    torch.testing.assert_close(head.loss(pred, target, mask, ones),
                               simmim.loss(pred, target, mask))
    scaled = scaled_off_mask(weight, mask, patch, cell, factor)
    assert torch.equal(head.loss(pred, target, mask, scaled), loss)


@PROPERTY
@given(loss_case(square=True), st.floats(1e-3, 1e3), st.booleans())
def test_keypoint_aware_mae_loss_properties(case, factor, norm_pix):
    patch, cell, _, target, mask, weight = case
    ours = KAMAEHead(norm_pix=norm_pix, patch_size=patch,
                                loss=dict(
                                    type='WeightedPixelReconstructionLoss',
                                    criterion='L2'))
    mae = MAEPretrainHead(norm_pix=norm_pix, patch_size=patch, loss=dict(
        type='PixelReconstructionLoss', criterion='L2'))
    tokens = mask.flatten(1).float()
    pred = torch.randn(2, tokens.shape[1], patch * patch * 3,
                       generator=torch.Generator().manual_seed(1))
    loss = ours.loss(pred, target, tokens, weight)
    assert torch.isfinite(loss) and loss >= 0
    torch.testing.assert_close(
        ours.loss(pred, target, tokens, torch.ones_like(weight)),
        mae.loss(pred, target, tokens))
    scaled = scaled_off_mask(weight, mask, patch, cell, factor)
    assert torch.equal(ours.loss(pred, target, tokens, scaled), loss)


@PROPERTY
@given(loss_case(square=True), st.booleans())
def test_nothing_masked_gives_zero_with_zero_gradient(case, weighted):
    """MMPretrain's loss divides 0 by 0 there (NaN); ours is 0, with and
    without weights, for images (KAMIM) and tokens (MAE)."""
    patch, _, pred, target, mask, weight = case
    weight = weight if weighted else None
    pred = pred.clone().requires_grad_(True)
    loss = kamim_head(patch).loss(pred, target, torch.zeros_like(mask),
                                  weight)
    loss.backward()
    assert loss.item() == 0 and torch.equal(pred.grad,
                                            torch.zeros_like(pred))
    head = KAMAEHead(patch_size=patch, loss=dict(
        type='WeightedPixelReconstructionLoss', criterion='L2'))
    tokens = torch.zeros(2, mask[0].numel())
    pred = torch.randn(2, tokens.shape[1], patch * patch * 3,
                       generator=torch.Generator().manual_seed(2))
    pred.requires_grad_(True)
    loss = head.loss(pred, target, tokens, weight)
    loss.backward()
    assert loss.item() == 0 and torch.equal(pred.grad,
                                            torch.zeros_like(pred))
