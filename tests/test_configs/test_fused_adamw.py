import copy

import pytest
import torch
from conftest import tiny_model_config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS


@pytest.mark.parametrize('option', [dict(fused=True), dict(foreach=True)])
def test_fused_and_foreach_adamw_step_as_the_plain_one(option):
    # --cfg-options optim_wrapper.optimizer.fused=True (CUDA and, from
    # torch 2.4, CPU) or foreach=True: one multi-tensor kernel instead of a
    # loop over parameters, the same update up to float32 rounding.
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
