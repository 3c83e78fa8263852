"""Settings that make the loss undefined are refused before training,
named by their config path, with the value and what is allowed."""
import os.path as osp
import subprocess
import sys

import pytest
from conftest import CONFIG_DIR, REPO_ROOT
from mmengine.config import Config
from mmengine.registry import RUNNERS

from mmkamim.utils.config_checks import (
    check_training_config,
    training_config_errors,
)

KAMIM = osp.join(CONFIG_DIR, 'kamim_vit-base_8xb256_in1k.py')
MASK = 'train_dataloader.dataset.pipeline.4'  # SimMIMMaskGenerator


def kamim(**options) -> Config:
    cfg = Config.fromfile(KAMIM)
    cfg.merge_from_dict(options)
    return cfg


def test_every_shipped_config_passes():
    from glob import glob
    for path in glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True):
        if '_base_' not in path:
            assert training_config_errors(Config.fromfile(path)) == [], path


@pytest.mark.parametrize('options, message', [
    ({f'{MASK}.mask_ratio': 0.0},
     rf'{MASK}.mask_ratio=0.0: the fraction of mask patches hidden must be '
     r'in \(0, 1\]'),
    ({f'{MASK}.mask_ratio': 1.5}, rf'{MASK}.mask_ratio=1.5: .* \(0, 1\]'),
    ({f'{MASK}.mask_patch_size': 24},
     rf'{MASK}.mask_patch_size=24 is not a multiple of model_patch_size=16'),
    ({f'{MASK}.mask_patch_size': 40},
     rf'{MASK}.mask_patch_size=40 does not divide input_size=192; allowed: '
     r'\[16, 32, 48, 64, 96, 192\]'),
    ({'model.data_preprocessor.patch_size': 7},
     r'model.data_preprocessor.patch_size=7 \(the keypoint weight cell, '
     r'w_ps\) does not divide the 192 px input; allowed: \[1, 2, 3, 4, 6, 8,'),
    ({'model.data_preprocessor.temperature': 0.0},
     r'model.data_preprocessor.temperature=0.0: .* T must be > 0'),
])
def test_each_bad_setting_is_named(options, message):
    with pytest.raises(ValueError, match=message):
        check_training_config(kamim(**options))


def test_mae_ratio_and_the_transform_path():
    cfg = Config.fromfile(
        osp.join(CONFIG_DIR, 'kamae_vit-base_8xb256_in1k.py'))
    cfg.model.backbone.mask_ratio = 1.0
    assert training_config_errors(cfg) == [
        'model.backbone.mask_ratio=1.0: MAE hides this fraction of the '
        'patches and encodes the rest, so it must be in (0, 1)']
    from mmkamim.utils import keypoints_in_pipeline
    cfg = keypoints_in_pipeline(kamim(**{
        'model.data_preprocessor.patch_size': 5}))
    [error] = training_config_errors(cfg)
    assert error.startswith('train_dataloader.dataset.pipeline.5.patch_size=5')


def test_the_runner_our_configs_select_checks_before_building(tmp_path):
    cfg = kamim(**{f'{MASK}.mask_patch_size': 24,
                   'work_dir': str(tmp_path)})
    assert cfg.runner_type == 'mmpretrain.CheckedRunner'
    with pytest.raises(ValueError, match='mask_patch_size=24'):
        RUNNERS.build(cfg)


def test_train_py_refuses_before_training(tmp_path):
    done = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), KAMIM,
         '--work-dir', str(tmp_path), '--cfg-options',
         f'{MASK}.mask_ratio=0.0'], capture_output=True, text=True,
        timeout=300)
    assert done.returncode != 0
    assert f'{MASK}.mask_ratio=0.0' in done.stderr
    assert not list(tmp_path.iterdir())  # nothing was built or written
