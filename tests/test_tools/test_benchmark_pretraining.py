import importlib.util
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT, TINY_VIT, tiny_model_config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


def load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                    'benchmark_pretraining.py')
    spec = importlib.util.spec_from_file_location('benchmark', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_flops_count_every_product_and_the_attention():
    # By hand, for the tests' ViT (2 blocks, 32 dims, MLP 64) at 192 px in
    # 16 px patches (144 patches + the class token) and SimMIM's neck (a
    # 1x1 convolution to 16 x 16 x 3 values per patch), per image.
    tool = load_tool()
    init_default_scope('mmpretrain')
    cfg = tiny_model_config('simmim_vit-base_8xb256_in1k.py')
    model = MODELS.build(cfg.model)
    patches, tokens, dims = 144, 145, TINY_VIT['embed_dims']
    hidden = TINY_VIT['feedforward_channels']
    block = (tokens * dims * 3 * dims + tokens * dims * dims +
             2 * tokens * dims * hidden + 2 * tokens * tokens * dims)
    macs = (patches * 3 * 16 * 16 * dims + TINY_VIT['num_layers'] * block +
            patches * dims * 16 * 16 * 3)
    batch = 2
    samples = []
    for _ in range(batch):
        sample = DataSample()
        sample.set_mask(torch.zeros(12, 12, dtype=torch.bool))
        samples.append(sample)
    data = dict(inputs=torch.zeros(batch, 3, 192, 192), data_samples=samples)
    flops = tool.training_flops(model, data)
    # 3 x forward, 2 FLOPs per multiply-add; the LayerNorms the counter
    # adds are under 1 %.
    expected = 3 * 2 * batch * macs
    assert expected <= flops <= 1.01 * expected


@pytest.mark.slow
def test_compile_time_counts_one_graph_and_no_break():
    # What --compile-time reports for each method (here in this process):
    # the compiled KAMIM step is one graph, with no graph break.
    tool = load_tool()
    init_default_scope('mmpretrain')
    cfg = tiny_model_config('kamim_vit-base_8xb256_in1k.py')
    found = tool.compile_time_of(cfg, 'cpu', amp=False, batch=2, steps=1,
                                 rounds=1)
    assert found['graphs'] == 1 and found['graph_breaks'] == {}
