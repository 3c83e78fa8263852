import numpy as np
import pytest
import torch
import torch._inductor.config as inductor_config
from conftest import TINY_VIT
from mmpretrain.models import VisionTransformer
from torch import nn
from torch._dynamo.utils import counters

from mmkamim.models.utils import compile_forward, python_scalars


def test_numpy_scalars_become_python_numbers_of_the_same_value():
    module = nn.Sequential(nn.Linear(2, 2))
    module[0].rate = np.linspace(0, 0.1, 3)[1]
    module[0].count = np.int64(3)
    module[0].table = np.zeros(2)  # an array is not a scalar: left alone
    assert python_scalars(module) == 2
    assert type(module[0].rate) is float and module[0].rate == 0.05
    assert type(module[0].count) is int and module[0].count == 3
    assert isinstance(module[0].table, np.ndarray)
    assert python_scalars(module) == 0


@pytest.mark.slow
def test_a_vit_with_stochastic_depth_compiles_into_one_graph():
    # MMPretrain's ViT keeps each block's drop-path rate as a NumPy scalar,
    # on which mmcv's drop_path branches: a graph break at every DropPath.
    def compiled_forward(compile_model):
        torch._dynamo.reset()
        counters.clear()
        torch.manual_seed(0)
        vit = VisionTransformer(arch=TINY_VIT, img_size=32, patch_size=16,
                                drop_path_rate=0.1)
        x = torch.randn(2, 3, 32, 32)
        torch.manual_seed(1)
        eager = vit(x)[0]
        compile_model(vit)
        torch.manual_seed(1)
        with inductor_config.patch(fallback_random=True):
            compiled = vit(x)[0]
        return (eager, compiled, sum(counters['graph_break'].values()),
                counters['stats']['unique_graphs'])

    _, _, breaks, graphs = compiled_forward(lambda vit: vit.compile())
    assert breaks > 0 and graphs > 1
    eager, compiled, breaks, graphs = compiled_forward(compile_forward)
    assert breaks == 0 and graphs == 1
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)
