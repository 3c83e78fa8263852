import glob
import os.path as osp

import mmpretrain
import pytest
import torch
from conftest import CONFIG_DIR, build_runner, tiny_vit_config
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS, TRANSFORMS

CONFIGS = sorted(
    osp.basename(path)
    for path in glob.glob(osp.join(CONFIG_DIR, '*.py'))
    if osp.basename(path).startswith(('kamim_', 'simmim_')))
# Backbone parameters in millions as built (the figures README and the
# metafiles give); the KAMIM paper (4.1.2, Table 1) truncates them to 5.5,
# 21.6, 85.7, 27.5 and 86.7.
PARAMS = {
    'vit-tiny': 5.51,
    'vit-small': 21.65,
    'vit-base': 85.76,
    'swin-tiny': 27.51,
    'swin-base': 86.73,
}


def arch_of(name: str) -> str:
    return next(arch for arch in PARAMS if f'_{arch}' in name)


def test_every_algorithm_and_model_is_shipped():
    assert 'kamim_vit-base_8xb256_in1k.py' in CONFIGS
    for algo in ('kamim', 'simmim'):
        for arch in PARAMS:
            assert any(
                name.startswith(f'{algo}_{arch}') for name in CONFIGS), arch


@pytest.mark.parametrize('name', CONFIGS)
def test_config_follows_the_paper(name):
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    model = MODELS.build(cfg.model)
    params = sum(p.numel() for p in model.backbone.parameters()) / 1e6
    assert abs(params - PARAMS[arch_of(name)]) < 0.005

    optim = cfg.optim_wrapper
    assert optim.optimizer.type == 'AdamW' and optim.optimizer.lr == 8e-4
    assert optim.optimizer.weight_decay == 0.05
    assert tuple(optim.optimizer.betas) == (0.9, 0.999)
    assert optim.clip_grad.max_norm == 1.0
    assert cfg.train_cfg.max_epochs == 110
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == 10 and warmup.start_factor * 8e-4 == pytest.approx(
        1e-6)
    assert (cosine.begin, cosine.end, cosine.eta_min) == (10, 110, 1e-5)
    assert cfg.train_dataloader.batch_size * 8 == 2048

    pipeline = [step.type for step in cfg.train_pipeline]
    crop = cfg.train_pipeline[1]
    assert (crop.scale, tuple(crop.crop_ratio_range)) == (192, (0.67, 1.0))
    flips = {step.direction for step in cfg.train_pipeline
             if step.type == 'RandomFlip'}
    assert flips == {'horizontal', 'vertical'}
    masking = cfg.train_pipeline[4]
    assert masking.type == 'SimMIMMaskGenerator'
    assert (masking.mask_patch_size, masking.mask_ratio) == (32, 0.6)
    patch = 4 if 'swin' in name else 16
    assert masking.model_patch_size == patch == cfg.model.head.patch_size
    assert 'KeypointDensity' not in pipeline
    if name.startswith('kamim'):
        assert cfg.model.type == 'KAMIM'
        pre = cfg.model.data_preprocessor
        assert (pre.type, pre.detector, pre.detector_kwargs, pre.rasterize,
                pre.patch_size, pre.temperature) == (
                    'KAMIMDataPreprocessor', 'fast', {}, 'circle', 8, 0.25)
        built = model.data_preprocessor
        assert (built.threshold, built.nonmax_suppression) == (10, True)
        # SimMIM's normalisation.
        for key in ('mean', 'std', 'to_rgb'):
            assert pre[key] == cfg.data_preprocessor[key]
    else:
        assert cfg.model.type == 'SimMIM'
        assert 'data_preprocessor' not in cfg.model


KEYPOINT_TWINS = [(name, 'simmim' + name[5:])
                  for name in CONFIGS if name.startswith('kamim')] + [
                      ('kamae_vit-base_8xb256_in1k.py',
                       'mae_vit-base_8xb256_in1k.py'),
                      ('kapixmim_vit-base_8xb256_in1k.py',
                       'pixmim_vit-base_8xb256_in1k.py'),
                  ]


@pytest.mark.parametrize('name,twin', KEYPOINT_TWINS)
def test_keypoint_config_is_its_twin_with_device_weights(name, twin):
    weighted = Config.fromfile(osp.join(CONFIG_DIR, name))
    plain = Config.fromfile(osp.join(CONFIG_DIR, twin))
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'data_preprocessor', 'default_hooks', 'custom_hooks',
                'train_dataloader'):
        assert weighted[key] == plain[key], key
    # The data pipelines are the same: the weights are computed on the
    # training device.
    assert weighted.train_dataloader.dataset.pipeline == \
        plain.train_dataloader.dataset.pipeline
    assert weighted.model.data_preprocessor.type == 'KAMIMDataPreprocessor'
    for part in ('backbone', 'neck', 'target_generator'):
        assert weighted.model.get(part) == plain.model.get(part), part


def test_cfg_options_change_kamim_hyperparameters():
    from mmkamim.utils import keypoints_in_pipeline
    options = {
        'model.data_preprocessor.temperature': 0.1,
        'model.data_preprocessor.patch_size': 16,
        'model.data_preprocessor.detector_kwargs.threshold': 20,
    }
    init_default_scope('mmpretrain')
    for name in ('kamim_vit-base_8xb256_in1k.py',
                 'kamim_swin-tiny-w6_8xb256_in1k.py',
                 'kapixmim_vit-base_8xb256_in1k.py'):
        cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
        cfg.merge_from_dict(options)
        pre = MODELS.build(cfg.model.data_preprocessor)
        assert (pre.settings.temperature, pre.patch_size,
                pre.threshold) == (0.1, 16, 20)
        # The same settings drive the CPU transform.
        keypoints_in_pipeline(cfg)
        pipeline = cfg.train_dataloader.dataset.pipeline
        assert pipeline[-1].algorithm_keys == ['kp_weight']
        density = TRANSFORMS.build(pipeline[-2])
        assert (density.settings.temperature, density.settings.patch_size,
                density.settings.detector_kwargs['threshold']) == (0.1, 16, 20)
        assert cfg.model.data_preprocessor.type == \
            'PipelineWeightsDataPreprocessor'
        MODELS.build(cfg.model.data_preprocessor)


def test_orb_and_sift_need_the_pipeline_and_say_so():
    from mmkamim.utils import keypoints_in_pipeline
    cfg = Config.fromfile(
        osp.join(CONFIG_DIR, 'kamim_vit-base_8xb256_in1k.py'))
    cfg.merge_from_dict({'model.data_preprocessor.detector': 'sift'})
    init_default_scope('mmpretrain')
    with pytest.raises(ValueError, match='--keypoints-in-pipeline'):
        MODELS.build(cfg.model.data_preprocessor)
    keypoints_in_pipeline(cfg)
    density = TRANSFORMS.build(cfg.train_dataloader.dataset.pipeline[-2])
    assert density.settings.detector == 'sift'


def test_vit_config_trains_with_the_runner(tmp_path, image_folder):
    config = tiny_vit_config(tmp_path, image_folder,
                             'kamim_vit-base_8xb256_in1k.py')
    cfg = Config.fromfile(config)
    runner = build_runner(cfg, tmp_path / 'work')
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    assert osp.exists(osp.join(cfg.work_dir, 'iter_3.pth'))


def test_mmpretrain_swin_config_becomes_kamim_by_custom_imports(
        tmp_path, image_folder):
    packaged = osp.join(
        osp.dirname(mmpretrain.__file__), '.mim', 'configs', 'simmim',
        'simmim_swin-base-w6_8xb256-amp-coslr-100e_in1k-192px.py')
    config = tmp_path / 'kamim_from_mmpretrain.py'
    config.write_text(f"""
_base_ = [{packaged!r}]
custom_imports = dict(imports=['mmkamim'], allow_failed_imports=False)
model = dict(
    type='KAMIM',
    backbone=dict(arch=dict(_delete_=True, embed_dims=32, depths=[2, 2, 2, 2],
                            num_heads=[1, 2, 4, 8])),
    neck=dict(in_channels=32 * 2**3),
    head=dict(type='KAMIMHead',
              loss=dict(type='WeightedPixelReconstructionLoss')))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192, crop_ratio_range=(0.67, 1.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='SimMIMMaskGenerator', input_size=192, mask_patch_size=32,
         model_patch_size=4, mask_ratio=0.6),
    dict(type='KeypointDensity', temperature=0.1),
    dict(type='PackInputs', algorithm_keys=['kp_weight']),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='CustomDataset',
                 data_root={image_folder!r}, with_label=False,
                 pipeline=train_pipeline))
# The packaged config uses AmpOptimWrapper, which needs CUDA.
optim_wrapper = dict(type='OptimWrapper')
param_scheduler = []
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2,
                     by_epoch=False))
work_dir = {str(tmp_path / 'work')!r}
""")
    runner = build_runner(Config.fromfile(str(config)))
    assert type(runner.model).__name__ == 'KAMIM'
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
