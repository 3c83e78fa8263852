"""Our ViTs attend through torch's fused ``scaled_dot_product_attention``
(flash / memory-efficient kernels where the device has them), not the
explicit softmax fallback MMPretrain keeps for old torch."""
import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_VIT, tiny_model_config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

CONFIGS = ('simmim_vit-base_8xb256_in1k.py', 'kamim_vit-base_8xb256_in1k.py',
           'mae_vit-base_8xb256_in1k.py', 'pixmim_vit-base_8xb256_in1k.py',
           'kapixmim_vit-base_8xb256_in1k.py')


def counted_attention(backbone):
    """Wrap every block's attention function; return the call list."""
    calls = []
    for block in backbone.layers:
        attention = block.attn
        assert attention.scaled_dot_product_attention is \
            F.scaled_dot_product_attention, type(attention).__name__

        def fused(*args, _fused=attention.scaled_dot_product_attention,
                  **kwargs):
            calls.append(args[0].shape)
            return _fused(*args, **kwargs)

        attention.scaled_dot_product_attention = fused
    return calls


@pytest.mark.parametrize('name', CONFIGS)
def test_training_forward_uses_fused_attention(name):
    init_default_scope('mmpretrain')
    cfg = tiny_model_config(name)
    model = MODELS.build(cfg.model)
    model.train()
    backbone = model.backbone
    calls = counted_attention(backbone)
    size = cfg.model.backbone.img_size
    images = torch.zeros(2, 3, size, size)
    if cfg.model.backbone.type == 'SimMIMViT':
        # With the mask token (SimMIM, KAMIM) and without it.
        grid = size // 16
        mask = torch.zeros(2, grid, grid, dtype=torch.bool)
        mask[:, ::2] = True
        backbone(images, mask)
        backbone(images, None)
        assert len(calls) == 2 * TINY_VIT['num_layers']
    else:
        backbone(images)  # MAE-style: the visible tokens only
        assert len(calls) == TINY_VIT['num_layers']
