import torch
from conftest import TINY_VIT
from mmpretrain.models import VisionTransformer

from mmkamim.models import SimMIMViT

TINY = TINY_VIT


def build(**kwargs) -> SimMIMViT:
    torch.manual_seed(0)
    model = SimMIMViT(arch=TINY, img_size=64, patch_size=16, **kwargs)
    model.init_weights()
    # MMPretrain's BaseBackbone.train() returns None: no chaining.
    model.eval()
    return model


def test_masked_forward_gives_patch_feature_map():
    model = build()
    x = torch.randn(2, 3, 64, 64)
    mask = torch.zeros(2, 4, 4, dtype=torch.long)
    mask[:, :2] = 1
    (out, ) = model(x, mask)
    assert out.shape == (2, 32, 4, 4)


def test_mask_token_replaces_masked_patches():
    model = build()
    x = torch.randn(1, 3, 64, 64)
    mask = torch.zeros(1, 4, 4, dtype=torch.long)
    mask[0, 1, 2] = 1
    (out, ) = model(x, mask)
    # Changing the pixels of the masked patch changes nothing ...
    hidden = x.clone()
    hidden[..., 16:32, 32:48] = torch.randn(3, 16, 16)
    torch.testing.assert_close(model(hidden, mask)[0], out)
    # ... changing a visible patch does.
    visible = x.clone()
    visible[..., 0:16, 0:16] = torch.randn(3, 16, 16)
    assert not torch.allclose(model(visible, mask)[0], out)
    # And masking uses the learnt token: moving it changes the output.
    with torch.no_grad():
        model.mask_token.add_(1.0)
    assert not torch.allclose(model(x, mask)[0], out)


def test_without_mask_is_plain_vit_and_weights_load_into_it():
    model = build(out_indices=[0, 1])
    vit = VisionTransformer(
        arch=TINY, img_size=64, patch_size=16, out_indices=[0, 1],
        out_type='featmap', norm_cfg=dict(type='LN', eps=1e-6))
    result = vit.load_state_dict(model.state_dict(), strict=False)
    assert result.missing_keys == []
    assert result.unexpected_keys == ['mask_token']
    vit.eval()
    x = torch.randn(2, 3, 64, 64)
    for ours, plain in zip(model(x), vit(x)):
        torch.testing.assert_close(ours, plain)
    # With an all-zero mask the masked path is the same network.
    unmasked = model(x, torch.zeros(2, 4, 4, dtype=torch.long))[0]
    torch.testing.assert_close(unmasked, vit(x)[-1])
