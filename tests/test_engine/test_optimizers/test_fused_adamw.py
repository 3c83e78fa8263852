import copy

import pytest
import torch
from conftest import build_runner, tiny_model_config, tiny_vit_config
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from mmkamim.engine.optimizers import fused_kernel_available, with_fused_adam
from mmkamim.engine.runners import CheckedRunner

ADAMW = dict(type='OptimWrapper',
             optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))


def test_the_running_torch_is_asked_about_the_device():
    # torch has fused AdamW on the CPU from 2.4 (and on CUDA); not for
    # tensors without storage.
    assert fused_kernel_available('cpu')
    assert not fused_kernel_available('meta')


def test_adam_and_adamw_are_fused_where_the_kernel_exists():
    for kind in ('AdamW', 'Adam', 'torch.optim.AdamW', torch.optim.AdamW):
        cfg = dict(ADAMW, optimizer=dict(ADAMW['optimizer'], type=kind))
        fused = with_fused_adam(cfg, 'cpu')
        assert fused['optimizer']['fused'] is True
        assert 'fused' not in cfg['optimizer']  # a copy, not changed
        assert with_fused_adam(cfg, 'meta') is cfg


@pytest.mark.parametrize('optimizer', [
    dict(type='AdamW', lr=1e-3, fused=False),
    dict(type='AdamW', lr=1e-3, foreach=True),
    dict(type='AdamW', lr=1e-3, foreach=False),
    dict(type='SGD', lr=0.1),
])
def test_a_config_that_chooses_keeps_its_choice(optimizer):
    cfg = dict(type='OptimWrapper', optimizer=optimizer)
    assert with_fused_adam(cfg, 'cpu') is cfg


@pytest.mark.parametrize('option', [{}, {'fused': False}])
def test_the_runner_trains_with_the_fused_kernel_unless_told_not_to(
        tmp_path, image_folder, option):
    cfg = Config.fromfile(
        tiny_vit_config(tmp_path, image_folder,
                        'kamim_vit-base_8xb256_in1k.py'))
    cfg.optim_wrapper.optimizer.update(option)
    runner = build_runner(cfg, tmp_path / 'work', CheckedRunner)
    runner.train()
    assert runner.optim_wrapper.optimizer.defaults['fused'] is option.get(
        'fused', True)


@pytest.mark.parametrize('option', [dict(fused=True), dict(foreach=True)])
def test_fused_and_foreach_adamw_step_as_the_plain_one(option):
    # The fused kernel (our runner's default where torch has it) or
    # foreach=True: the plain loop's update up to float32 rounding.
    init_default_scope('mmpretrain')
    cfg = tiny_model_config('kamim_vit-base_8xb256_in1k.py')
    torch.manual_seed(0)
    plain_model = MODELS.build(cfg.model)
    fused_model = copy.deepcopy(plain_model)
    wrappers = []
    for model, extra in ((plain_model, dict(fused=False, foreach=False)),
                         (fused_model, option)):
        optim = copy.deepcopy(cfg.optim_wrapper)
        optim.optimizer.update(extra)
        wrappers.append(build_optim_wrapper(model, optim))
    (key, value), = option.items()
    assert wrappers[1].optimizer.defaults[key] is value
    generator = torch.Generator().manual_seed(1)
    weights = [torch.randn(p.shape, generator=generator)
               for p in plain_model.parameters()]
    for model, wrapper in zip((plain_model, fused_model), wrappers):
        for _ in range(3):  # steps 2 and 3 use the moment estimates
            loss = sum((p * w).sum() + (p**2).sum()
                       for p, w in zip(model.parameters(), weights))
            wrapper.update_params(loss)
    for (name, plain), fused in zip(plain_model.named_parameters(),
                                    fused_model.parameters()):
        torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-7,
                                   msg=name)
