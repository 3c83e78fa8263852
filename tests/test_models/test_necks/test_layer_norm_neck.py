import pytest
import torch

from mmkamim.models import LayerNormNeck


def test_tokens_mode_normalises_each_image_over_channels_and_tokens():
    torch.manual_seed(0)
    neck = LayerNormNeck(in_channels=8, num_tokens=16)
    with torch.no_grad():
        neck.norm.weight.normal_()
        neck.norm.bias.normal_()
    x = torch.randn(3, 8, 4, 4) * 5 + 2
    (out, ) = neck((x, ))
    assert out.shape == (3, 8)
    tokens = x.flatten(2)
    mean = tokens.mean((1, 2), keepdim=True)
    var = tokens.var((1, 2), unbiased=False, keepdim=True)
    normed = (tokens - mean) / torch.sqrt(var + 1e-5)
    expected = (normed * neck.norm.weight + neck.norm.bias).mean(-1)
    torch.testing.assert_close(out, expected)
    # One scale and shift per channel and token, as LayerNorm([C, N]).
    assert neck.norm.weight.shape == (8, 16)


def test_channels_mode_pools_then_normalises():
    torch.manual_seed(0)
    neck = LayerNormNeck(in_channels=8, mode='channels')
    x = torch.randn(3, 8, 4, 4) * 5 + 2
    (out, ) = neck((x, ))
    expected = torch.nn.functional.layer_norm(x.mean((2, 3)), (8, ),
                                              eps=1e-5)
    torch.testing.assert_close(out, expected)


def test_tokens_mode_names_a_wrong_token_count():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match='needs num_tokens'):
        LayerNormNeck(in_channels=8)
    neck = LayerNormNeck(in_channels=8, num_tokens=36)
    with pytest.raises(ValueError, match=r'\(8, 36\) per image, got '
                       r'\(8, 12, 12\)'):
        neck((torch.randn(1, 8, 12, 12), ))
