import numpy as np
import torch
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.structures import DataSample

from mmkamim.models.utils import PipelineWeightsDataPreprocessor

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
            to_rgb=True)


def batch():
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(2):
        sample = DataSample()
        sample.set_field(rng.random((12, 12), dtype=np.float32) + 1,
                         'kp_weight')
        sample.set_mask(torch.from_numpy(rng.random((6, 6)) > 0.5))
        samples.append(sample)
    images = torch.from_numpy(
        rng.integers(0, 256, (2, 3, 96, 96), dtype=np.uint8))
    return dict(inputs=images, data_samples=samples)


def test_numpy_weights_become_equal_tensors_and_the_rest_is_simmims():
    data, same = batch(), batch()
    weights = [s.kp_weight.copy() for s in data['data_samples']]
    out = PipelineWeightsDataPreprocessor(**NORM)(data, training=True)
    expected = SelfSupDataPreprocessor(**NORM)(same, training=True)
    torch.testing.assert_close(out['inputs'], expected['inputs'],
                               rtol=0, atol=0)
    for sample, plain, weight in zip(out['data_samples'],
                                     expected['data_samples'], weights):
        assert isinstance(sample.kp_weight, torch.Tensor)
        assert np.array_equal(sample.kp_weight.numpy(), weight)
        assert torch.equal(sample.mask, plain.mask)
