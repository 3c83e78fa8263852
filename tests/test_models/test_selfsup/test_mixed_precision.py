"""fp16 training of KAMIM at T = 0.1, where weights reach e^10 = 22026.

mmengine's AmpOptimWrapper needs CUDA, so on the CPU the same recipe runs by
hand: fp16 autocast around the forward, a dynamic loss scaler
(``torch.amp.GradScaler('cpu')``, mmengine's default 'dynamic' scale),
unscaling before clipping at 1.0; 220 steps of a tiny ViT (marked slow).
"""
import copy
import glob
import os.path as osp
import random

import numpy as np
import pytest
import torch
from conftest import tiny_model_config
from mmcv.transforms import Compose
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS


@pytest.mark.slow
@pytest.mark.parametrize('name', ['kamim_vit-base_8xb256_in1k.py',
                                  'kamae_vit-base_8xb256_in1k.py'])
def test_fp16_at_t_01_stays_finite_and_rarely_skips(name, image_folder):
    init_default_scope('mmpretrain')
    cfg = tiny_model_config(name)
    cfg.model.data_preprocessor.temperature = 0.1
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler('cpu')

    pipeline = Compose(copy.deepcopy(cfg.train_dataloader.dataset.pipeline))
    files = sorted(glob.glob(osp.join(image_folder, '*.png')))
    random.seed(0)
    np.random.seed(0)
    batches = [
        default_collate([pipeline(dict(img_path=f)) for f in files[i:i + 4]])
        for i in (0, 4)
    ]
    largest, skipped = 0.0, []
    for step in range(220):
        data = model.data_preprocessor(copy.deepcopy(batches[step % 2]),
                                       True)
        largest = max(largest, max(float(s.kp_weight.max())
                                   for s in data['data_samples']))
        with torch.autocast('cpu', dtype=torch.float16):
            loss = model(**data, mode='loss')['loss']
        assert torch.isfinite(loss), step
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scale = scaler.get_scale()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
        skipped.append(scaler.get_scale() < scale)
    assert largest > 1000  # the photos do reach weights of thousands
    # The scaler starts at 2^16 and halves on each overflow until it fits
    # (9 steps for KAMIM, 4 for KA-MAE here); after that it skips rarely.
    late = skipped[20:]
    assert sum(late) / len(late) < 0.01, skipped
