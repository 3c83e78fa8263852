"""A misconfigured keypoint run stops at its first iteration and names the
fix, instead of training something else or failing deep inside."""
import os.path as osp

import pytest
import torch
from conftest import CONFIG_DIR, build_runner, tiny_vit_config
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

SIMMIM_PREPROCESSOR = """
model = dict(data_preprocessor=dict(
    _delete_=True, type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
    to_rgb=True))
"""


def pipeline_with(*steps: str) -> str:
    """The SimMIM ViT pipeline with ``steps`` before PackInputs, and a
    PackInputs that packs kp_weight."""
    return f"""
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192, crop_ratio_range=(0.67, 1.0)),
    dict(type='SimMIMMaskGenerator', input_size=192, mask_patch_size=32,
         model_patch_size=16, mask_ratio=0.6),
    {', '.join(steps)},
    dict(type='PackInputs', algorithm_keys=['kp_weight']),
]
train_dataloader['dataset']['pipeline'] = train_pipeline
"""


def first_iteration(tmp_path, image_folder, extra: str) -> None:
    cfg = Config.fromfile(
        tiny_vit_config(tmp_path, image_folder,
                        'kamim_vit-base_8xb256_in1k.py', extra))
    build_runner(cfg, tmp_path / 'work').train()


@pytest.mark.parametrize('case,extra,match', [
    ('no keypoint weights at all', SIMMIM_PREPROCESSOR,
     r"have no 'kp_weight': compute the keypoint weights with "
     r"model.data_preprocessor=dict\(type='KAMIMDataPreprocessor'"),
    ('kp_weight not packed', SIMMIM_PREPROCESSOR + """
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192, crop_ratio_range=(0.67, 1.0)),
    dict(type='SimMIMMaskGenerator', input_size=192, mask_patch_size=32,
         model_patch_size=16, mask_ratio=0.6),
    dict(type='KeypointDensity'),
    dict(type='PackInputs'),
]
train_dataloader['dataset']['pipeline'] = train_pipeline
""", r"'kp_weight' to PackInputs' algorithm_keys"),
    ('mask of another patch size', """
train_dataloader['dataset']['pipeline'] = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192, crop_ratio_range=(0.67, 1.0)),
    dict(type='SimMIMMaskGenerator', input_size=192, mask_patch_size=32,
         model_patch_size=8, mask_ratio=0.6),
    dict(type='PackInputs'),
]
""", r'the masks are \(24, 24\) patches.*model_patch_size=16'),
    ('transform after normalisation', SIMMIM_PREPROCESSOR + pipeline_with(
        "dict(type='Normalize', mean=[0, 0, 0], std=[1, 1, 1])",
        "dict(type='KeypointDensity')"),
     r'needs a uint8 numpy image \(before normalisation\), got float32'),
    ('w_ps not dividing the image (device)',
     'model = dict(data_preprocessor=dict(patch_size=7))',
     r'image size 192x192 is not divisible by patch_size=7'),
    ('w_ps not dividing the image (transform)', SIMMIM_PREPROCESSOR +
     pipeline_with("dict(type='KeypointDensity', patch_size=7)"),
     r'image size 192x192 is not divisible by patch_size=7'),
])
def test_stops_at_the_first_iteration_naming_the_fix(tmp_path, image_folder,
                                                     case, extra, match):
    # Failures in the data pipeline come wrapped with the file's name.
    with pytest.raises((ValueError, RuntimeError), match=match):
        first_iteration(tmp_path, image_folder, extra)
    # Nothing was trained.
    assert not (tmp_path / 'work' / 'iter_1.pth').exists()


def test_weights_of_another_image_size_name_the_fix():
    """Weights that do not tile the images the model sees (e.g. computed
    before a resize) stop the loss."""
    torch.manual_seed(0)
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(osp.join(CONFIG_DIR,
                                   'kamim_vit-tiny_8xb256_in1k.py'))
    model = MODELS.build(cfg.model)
    sample = DataSample()
    sample.set_field(torch.ones(12, 12, dtype=torch.long), 'mask')
    sample.set_field(torch.ones(30, 40), 'kp_weight')
    with pytest.raises(ValueError, match=r'a 30x40 grid of keypoint weights '
                       r'does not tile a 192x192 image.*patch_size \(w_ps\)'):
        model.loss(torch.randn(1, 3, 192, 192), [sample])
