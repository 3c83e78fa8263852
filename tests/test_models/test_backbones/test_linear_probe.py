import torch
from conftest import TINY_VIT
from mmpretrain.models import SwinTransformer, VisionTransformer

from mmkamim.models import LinearProbeSwin, LinearProbeViT

ARCH = dict(TINY_VIT, num_layers=4)  # probes read an inner block


def test_vit_builds_only_the_probed_blocks_and_matches_a_full_vit():
    torch.manual_seed(0)
    full = VisionTransformer(arch=ARCH, img_size=64, out_indices=[1],
                             out_type='featmap')
    probe = LinearProbeViT(arch=ARCH, img_size=64, out_indices=1)
    assert len(probe.layers) == 2 and not hasattr(probe, 'ln1')
    result = probe.load_state_dict(full.state_dict(), strict=False)
    assert result.missing_keys == []
    assert set(result.unexpected_keys) == {
        k for k in full.state_dict()
        if k.startswith(('layers.2.', 'layers.3.', 'ln1.'))
    }
    full.eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(probe(x)[0], full(x)[0])


def test_vit_probing_the_last_block_keeps_the_final_norm():
    probe = LinearProbeViT(arch=ARCH, img_size=64, out_indices=3)
    assert len(probe.layers) == 4 and probe.final_norm


def test_probes_stay_frozen_and_in_eval_mode():
    torch.manual_seed(0)
    swin = LinearProbeSwin(arch='tiny', img_size=64, pad_small_map=True)
    for probe in (LinearProbeViT(arch=ARCH, img_size=64, out_indices=1), swin):
        probe.train()
        assert not any(m.training for m in probe.modules())
        assert not any(p.requires_grad for p in probe.parameters())
        out = probe(torch.randn(1, 3, 64, 64))[0]
        assert not out.requires_grad


def test_swin_probe_reads_the_last_stage_before_its_norm():
    torch.manual_seed(0)
    full = SwinTransformer(
        arch='tiny', img_size=64, drop_path_rate=0.0, pad_small_map=True)
    probe = LinearProbeSwin(
        arch='tiny', img_size=64, drop_path_rate=0.0, pad_small_map=True)
    normed = LinearProbeSwin(
        arch='tiny', img_size=64, drop_path_rate=0.0, pad_small_map=True,
        out_norm=True)
    with torch.no_grad():
        full.norm3.weight.normal_()
        full.norm3.bias.normal_()
    result = probe.load_state_dict(full.state_dict(), strict=False)
    assert result.unexpected_keys == ['norm3.weight', 'norm3.bias']
    assert result.missing_keys == []
    normed.load_state_dict(full.state_dict())
    full.eval()
    x = torch.randn(1, 3, 64, 64)
    raw = probe(x)[0]
    # The default is the released probe's feature: no final LayerNorm.
    torch.testing.assert_close(
        full.norm3(raw.permute(0, 2, 3, 1)).permute(0, 3, 1, 2), full(x)[0])
    torch.testing.assert_close(normed(x)[0], full(x)[0])
