"""CheckPretrainedHook stops every probe or fine-tune it cannot fill."""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from conftest import CONFIG_DIR
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.models import SwinTransformer
from mmpretrain.registry import MODELS

from mmkamim.engine.hooks import CheckPretrainedHook
from mmkamim.models import SimMIMViT
from mmkamim.utils.weight_fill import shapes_fit


def runner_for(config: str, checkpoint) -> SimpleNamespace:
    """What the hook reads of a runner: the config and the built model."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'benchmarks', config))
    cfg.model.backbone.init_cfg.checkpoint = str(checkpoint)
    init_default_scope('mmpretrain')
    return SimpleNamespace(cfg=cfg, model=MODELS.build(cfg.model))


def save(path, state: dict, prefix: str = 'backbone.') -> str:
    torch.save(dict(state_dict={prefix + k: v for k, v in state.items()}),
               path)
    return str(path)


def test_vit_small_checkpoint_in_vit_base_probe(tmp_path):
    small = save(tmp_path / 'small.pth',
                 SimMIMViT(arch='deit-small').state_dict())
    runner = runner_for('vit-base-p16_8xb256-linear-coslr-100e_in1k.py',
                        small)
    with pytest.raises(ValueError,
                       match=r'have another shape \(cls_token: checkpoint '
                       r'\(1, 1, 384\) vs backbone \(1, 1, 768\)'):
        CheckPretrainedHook().before_run(runner)


def test_swin_tiny_checkpoint_in_swin_base_probe(tmp_path):
    tiny = save(tmp_path / 'tiny.pth', SwinTransformer(
        arch='tiny', img_size=192,
        stage_cfgs=dict(block_cfgs=dict(window_size=6))).state_dict())
    runner = runner_for('swin-base-w6_8xb256-linear-coslr-100e_in1k.py', tiny)
    # Stage 3 of Swin-B has 18 blocks, Swin-T's 6; every width differs.
    with pytest.raises(ValueError, match=r'are missing \(stages\.2\.blocks\.6'
                       r'.*have another shape \(patch_embed'):
        CheckPretrainedHook().before_run(runner)


def test_checkpoint_of_buffers_only(tmp_path):
    model = SwinTransformer(arch='tiny', img_size=192,
                            stage_cfgs=dict(block_cfgs=dict(window_size=6)))
    buffers = save(tmp_path / 'buffers.pth', dict(model.named_buffers()))
    runner = runner_for('swin-tiny-w6_8xb256-linear-coslr-100e_in1k.py',
                        buffers)
    total = len(list(runner.model.backbone.parameters()))
    with pytest.raises(ValueError,
                       match=f'of its {total} parameters, {total} are '
                       'missing'):
        CheckPretrainedHook().before_run(runner)


def test_wrong_prefix_names_the_prefixes_it_found(tmp_path):
    wrong = save(tmp_path / 'wrong.pth',
                 SimMIMViT(arch='deit-tiny').state_dict(), prefix='encoder.')
    runner = runner_for('vit-tiny-p16_8xb256-finetune-coslr-100e_in1k.py',
                        wrong)
    with pytest.raises(ValueError, match=r"prefix 'backbone\.' \(its keys "
                       r'start with encoder\.\): set '
                       r'model\.backbone\.init_cfg\.prefix'):
        CheckPretrainedHook().before_run(runner)


def test_a_full_checkpoint_passes_and_allow_random_lets_one_through(
        tmp_path):
    state = SimMIMViT(arch='deit-tiny').state_dict()
    full = save(tmp_path / 'full.pth', state)
    runner = runner_for('vit-tiny-p16_8xb256-finetune-coslr-100e_in1k.py',
                        full)
    CheckPretrainedHook().before_run(runner)
    no_norm = save(tmp_path / 'no_norm.pth',
                   {k: v for k, v in state.items()
                    if not k.startswith('ln1.')})
    runner = runner_for('vit-tiny-p16_8xb256-finetune-coslr-100e_in1k.py',
                        no_norm)
    with pytest.raises(ValueError, match=r'2 are missing \(ln1.weight, '
                       r'ln1.bias\)'):
        CheckPretrainedHook().before_run(runner)
    CheckPretrainedHook(allow_random=['ln1.*']).before_run(runner)


def test_only_the_resized_axis_may_differ():
    assert shapes_fit('pos_embed', torch.Size([1, 197, 768]),
                      torch.Size([1, 145, 768]))
    assert not shapes_fit('pos_embed', torch.Size([1, 145, 384]),
                          torch.Size([1, 145, 768]))
    table = 'stages.0.blocks.0.attn.w_msa.relative_position_bias_table'
    assert shapes_fit(table, torch.Size([169, 3]), torch.Size([121, 3]))
    assert not shapes_fit(table, torch.Size([121, 4]), torch.Size([121, 3]))
    assert not shapes_fit('cls_token', torch.Size([1, 1, 384]),
                          torch.Size([1, 1, 768]))
