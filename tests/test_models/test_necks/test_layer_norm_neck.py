import torch

from mmkamim.models import LayerNormNeck


def test_pools_then_normalises_channels():
    neck = LayerNormNeck(in_channels=8)
    x = torch.randn(3, 8, 4, 4) * 5 + 2
    (out, ) = neck((x, ))
    assert out.shape == (3, 8)
    expected = torch.nn.functional.layer_norm(x.mean((2, 3)), (8, ), eps=1e-6)
    torch.testing.assert_close(out, expected)
    assert len(list(neck.parameters())) == 2  # trainable scale and shift


def test_without_pooling_takes_vectors():
    neck = LayerNormNeck(in_channels=4, avg_pool=False)
    (out, ) = neck((torch.randn(2, 4), ))
    torch.testing.assert_close(out.mean(1), torch.zeros(2), atol=1e-5,
                               rtol=0)
