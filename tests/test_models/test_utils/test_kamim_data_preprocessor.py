"""KAMIMDataPreprocessor in a model: the CPU transform's weights and loss."""
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
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

from mmkamim.utils import keypoints_in_pipeline


def packed(pipeline, files, seed: int):
    """The pipeline's packed samples, with every random draw seeded."""
    init_default_scope('mmpretrain')
    transform = Compose(copy.deepcopy(pipeline))
    samples = []
    for i, path in enumerate(files):
        random.seed(seed + i)
        np.random.seed(seed + i)
        samples.append(transform(dict(img_path=path)))
    return default_collate(samples)


def test_forward_adds_the_weights_and_normalises_as_simmim(image_folder):
    cfg = tiny_model_config('kamim_vit-base_8xb256_in1k.py')
    init_default_scope('mmpretrain')
    ours = MODELS.build(cfg.model.data_preprocessor)
    plain = SelfSupDataPreprocessor(**{
        k: v for k, v in cfg.data_preprocessor.items() if k != 'type'})
    files = sorted(glob.glob(osp.join(image_folder, '*.png')))[:4]
    data = packed(cfg.train_dataloader.dataset.pipeline, files, seed=0)
    expected = plain(copy.deepcopy(data), True)
    # mmengine runs the data preprocessor inside the optimiser's autocast.
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = ours(copy.deepcopy(data), True)
    torch.testing.assert_close(out['inputs'], expected['inputs'], rtol=0,
                               atol=0)
    weights = ours.keypoint_weights(data['inputs'])
    for sample, weight in zip(out['data_samples'], weights):
        assert sample.kp_weight.dtype == torch.float32
        assert torch.equal(sample.kp_weight, weight)
        assert sample.kp_weight.shape == (24, 24)
        assert sample.kp_weight.min() == 1


@pytest.mark.parametrize('name', ['kamim_vit-base_8xb256_in1k.py',
                                  'kapixmim_vit-base_8xb256_in1k.py'])
def test_one_iteration_equals_the_cpu_transform(name, image_folder):
    """Same images, masks and initial model: the device path and the
    KeypointDensity pipeline give the same weights, loss and update."""
    device_cfg = tiny_model_config(name)
    cpu_cfg = keypoints_in_pipeline(copy.deepcopy(device_cfg))
    files = sorted(glob.glob(osp.join(image_folder, '*.png')))[:4]
    losses, params = [], []
    for cfg in (device_cfg, cpu_cfg):
        init_default_scope('mmpretrain')
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
        data = packed(cfg.train_dataloader.dataset.pipeline, files, seed=3)
        torch.manual_seed(1)  # MAE draws its mask in the model
        log = model.train_step(data, optim)
        losses.append(log['loss'])
        params.append(torch.cat([p.detach().flatten()
                                 for p in model.parameters()]))
    assert 'kp_weight' in cpu_cfg.train_dataloader.dataset.pipeline[-1][
        'algorithm_keys']
    assert torch.equal(losses[0], losses[1])
    assert torch.equal(params[0], params[1])
