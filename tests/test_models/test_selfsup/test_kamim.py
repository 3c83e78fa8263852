import pytest
import torch
from conftest import TINY_VIT
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmkamim  # noqa: F401

TINY = TINY_VIT


def build(algorithm: str):
    init_default_scope('mmpretrain')
    head = dict(
        type='SimMIMHead',
        patch_size=16,
        loss=dict(type='PixelReconstructionLoss', criterion='L1', channel=3))
    if algorithm == 'KAMIM':
        head = dict(
            type='KAMIMHead',
            patch_size=16,
            loss=dict(
                type='WeightedPixelReconstructionLoss', criterion='L1',
                channel=3))
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type=algorithm,
            backbone=dict(
                type='SimMIMViT', arch=TINY, img_size=64, patch_size=16),
            neck=dict(
                type='SimMIMLinearDecoder', in_channels=32,
                encoder_stride=16),
            head=head))
    model.init_weights()
    return model


def samples(weights):
    out = []
    for weight in weights:
        sample = DataSample()
        mask = torch.zeros(4, 4, dtype=torch.long)
        mask[1:3, 1:3] = 1
        sample.set_mask(mask)
        if weight is not None:
            sample.set_field(weight, 'kp_weight')
        out.append(sample)
    return out


def test_kamim_with_unit_weights_is_simmim():
    kamim, simmim = build('KAMIM'), build('SimMIM')
    simmim.load_state_dict(kamim.state_dict())
    inputs = torch.randn(2, 3, 64, 64)
    ones = [torch.ones(8, 8).numpy()] * 2
    torch.testing.assert_close(
        kamim.loss(inputs, samples(ones))['loss'],
        simmim.loss(inputs, samples([None, None]))['loss'])


def test_kamim_weights_reach_the_loss():
    kamim = build('KAMIM')
    inputs = torch.randn(2, 3, 64, 64)
    ones = kamim.loss(inputs, samples([torch.ones(8, 8)] * 2))['loss']
    heavy = torch.ones(8, 8)
    heavy[2:6, 2:6] = 5.0  # the masked centre weighs 5
    weighted = kamim.loss(inputs, samples([heavy] * 2))['loss']
    assert weighted.item() == pytest.approx(5 * ones.item(), rel=1e-5)


def test_missing_weights_name_the_fix():
    kamim = build('KAMIM')
    with pytest.raises(ValueError, match='KeypointDensity'):
        kamim.loss(torch.randn(2, 3, 64, 64), samples([None, None]))
