import glob
import os.path as osp

import pytest
import torch
from conftest import CONFIG_DIR, TINY_VIT
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmkamim  # noqa: F401
from mmkamim.models import LowFreqTargetGenerator

ARCH = TINY_VIT


def build(algorithm: str, generator: bool, weighted: bool):
    init_default_scope('mmpretrain')
    cfg = dict(
        type=algorithm,
        backbone=dict(
            type='MAEViT', arch=ARCH, img_size=64, patch_size=16,
            mask_ratio=0.75),
        neck=dict(
            type='MAEPretrainDecoder', num_patches=16, patch_size=16,
            in_chans=3, embed_dim=32, decoder_embed_dim=32, decoder_depth=1,
            decoder_num_heads=2),
        head=dict(
            type='KAMAEHead' if weighted else 'MAEPretrainHead',
            norm_pix=True,
            patch_size=16,
            loss=dict(
                type='WeightedPixelReconstructionLoss'
                if weighted else 'PixelReconstructionLoss',
                criterion='L2')))
    if generator:
        cfg['target_generator'] = dict(
            type='LowFreqTargetGenerator', radius=5)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def samples(weight=None, count=2):
    out = []
    for _ in range(count):
        sample = DataSample()
        if weight is not None:
            sample.set_field(weight, 'kp_weight')
        out.append(sample)
    return out


def seeded_loss(model, inputs, data_samples):
    torch.manual_seed(1)  # MAEViT draws its mask at random
    return model.loss(inputs, data_samples)['loss']


def test_pixmim_reconstructs_the_low_frequency_target():
    pixmim, mae = build('PixMIM', True, False), build('MAE', False, False)
    mae.load_state_dict(pixmim.state_dict())
    inputs = torch.randn(2, 3, 64, 64)
    low = LowFreqTargetGenerator(5)(inputs)
    torch.manual_seed(1)
    latent, mask, ids_restore = mae.backbone(inputs)
    expected = mae.head.loss(mae.neck(latent, ids_restore), low, mask)
    torch.testing.assert_close(seeded_loss(pixmim, inputs, samples()),
                               expected)
    assert not torch.allclose(seeded_loss(mae, inputs, samples()), expected)


def test_pixmim_needs_a_target_generator():
    with pytest.raises(TypeError, match='target_generator'):
        build('PixMIM', False, False)


@pytest.mark.parametrize('weighted,plain', [('KAMAE', 'MAE'),
                                            ('KAMAE', 'PixMIM')])
def test_unit_keypoint_weights_give_the_unweighted_loss(weighted, plain):
    generator = plain == 'PixMIM'
    ours, theirs = build(weighted, generator, True), build(
        plain, generator, False)
    theirs.load_state_dict(ours.state_dict())
    inputs = torch.randn(2, 3, 64, 64)
    ones = torch.ones(8, 8).numpy()
    assert torch.equal(
        seeded_loss(ours, inputs, samples(ones)),
        seeded_loss(theirs, inputs, samples()))
    heavy = torch.full((8, 8), 3.0)
    assert seeded_loss(ours, inputs, samples(heavy)).item() == \
        pytest.approx(3 * seeded_loss(theirs, inputs, samples()).item(),
                      rel=1e-5)
    with pytest.raises(ValueError, match='KeypointDensity'):
        ours.loss(inputs, samples())


@pytest.mark.parametrize('old, new', [('KeypointAwareMAE', 'KAMAE'),
                                      ('KeypointAwarePixMIM', 'KAMAE')])
def test_first_release_names_build_the_same_class_and_warn(old, new):
    with pytest.warns(DeprecationWarning,
                      match=f"type='{old}' is deprecated and goes in mmkamim "
                      f"0.2.0: use type='{new}'"):
        model = build(old, False, True)
    assert type(model).__name__ == new


def test_the_first_release_head_name_warns():
    from mmkamim.models import KAMAEHead
    init_default_scope('mmpretrain')
    with pytest.warns(DeprecationWarning, match="use type='KAMAEHead'"):
        head = MODELS.build(dict(type='KeypointAwareMAEHead', patch_size=16,
                                 loss=dict(type='PixelReconstructionLoss',
                                           criterion='L2')))
    assert type(head) is KAMAEHead


def test_no_config_uses_a_deprecated_name():
    configs = glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True)
    assert configs
    for path in configs:
        text = open(path).read()
        assert 'KeypointAware' not in text, path
