import pytest
import torch
from conftest import TINY_VIT, tiny_demo_config
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmpretrain.models import MAEViT, SwinTransformer, VisionTransformer
from mmpretrain.registry import MODELS

from mmkamim.models import LinearProbeSwin
from mmkamim.models.utils import encoder_features


def images(count=4, size=96):
    generator = torch.Generator().manual_seed(0)
    return torch.randn(count, 3, size, size, generator=generator)


def test_features_are_what_the_linear_probe_reads(tmp_path, photo_dataset,
                                                  kamim_checkpoint):
    # The probe: the checkpoint's backbone cut after block 1, its patch
    # tokens average-pooled by the probe's neck. k-NN reads the same from
    # the pre-training encoder, and from the probe's backbone.
    probe_cfg = Config.fromfile(
        tiny_demo_config(tmp_path, photo_dataset,
                         'vit-micro-p16_1xb32-linear_photos-96px.py'))
    probe_cfg.model.backbone.init_cfg.checkpoint = kamim_checkpoint
    probe = MODELS.build(probe_cfg.model)
    probe.init_weights()
    pre_cfg = Config.fromfile(
        tiny_demo_config(tmp_path, photo_dataset,
                         'kamim_vit-micro_1xb32_photos-96px.py'))
    encoder = MODELS.build(pre_cfg.model)
    load_checkpoint(encoder, kamim_checkpoint, map_location='cpu')
    probe.eval(), encoder.eval()
    x = images()
    with torch.no_grad():
        expected = probe.extract_feat(x)[0]
        read = encoder_features(encoder.backbone, x, layers=(1, ))
        from_probe = encoder_features(probe.backbone, x)
    assert expected.shape == (4, 32)
    torch.testing.assert_close(read, expected)
    torch.testing.assert_close(from_probe, expected)


def test_an_mae_encoder_reads_the_whole_image():
    # MAEViT masks unless given mask=None; the features are those of a
    # plain ViT with the same weights, every patch seen.
    torch.manual_seed(0)
    mae = MAEViT(arch=TINY_VIT, img_size=96, mask_ratio=0.75)
    vit = VisionTransformer(arch=TINY_VIT, img_size=96, out_indices=[0],
                            out_type='featmap')
    mae.eval(), vit.eval()  # (their train() returns None)
    missing = vit.load_state_dict(mae.state_dict(), strict=False)
    assert missing.missing_keys == []
    x = images()
    with torch.no_grad():
        expected = vit(x)[0].mean((2, 3))
        first = encoder_features(mae, x, layers=(1, ))
        again = encoder_features(mae, x, layers=(1, ))
    torch.testing.assert_close(first, expected)
    assert torch.equal(first, again)


def test_options_class_token_and_concatenated_blocks():
    torch.manual_seed(0)
    vit = VisionTransformer(arch=TINY_VIT, img_size=96,
                            out_indices=[0, 1], out_type='raw',
                            final_norm=False)
    vit.eval()
    x = images()
    with torch.no_grad():
        tokens = vit(x)  # (B, 1 + 36, 32) after blocks 1 and 2
        both = encoder_features(vit, x, layers=(1, 2))
        cls = encoder_features(vit, x, token='cls')
    torch.testing.assert_close(
        both, torch.cat([t[:, 1:].mean(1) for t in tokens], 1))
    torch.testing.assert_close(cls, tokens[1][:, 0])  # default: last block


def test_swin_reads_its_last_stage_before_the_final_norm():
    torch.manual_seed(0)
    swin = SwinTransformer(arch='tiny', img_size=64, drop_path_rate=0.0,
                           pad_small_map=True)
    swin.eval()
    probe = LinearProbeSwin(arch='tiny', img_size=64, drop_path_rate=0.0,
                            pad_small_map=True)
    probe.load_state_dict(swin.state_dict(), strict=False)
    x = images(2, 64)
    with torch.no_grad():
        torch.testing.assert_close(encoder_features(swin, x),
                                   probe(x)[0].mean((2, 3)))
    with pytest.raises(ValueError, match=r'layers=\(1,\) reads ViT blocks, '
                       'but a SwinTransformer is read at its last stage: '
                       'set layers=None'):
        encoder_features(swin, x, layers=(1, ))
    with pytest.raises(ValueError, match="token='cls' reads a class token, "
                       'which a SwinTransformer does not have'):
        encoder_features(swin, x, token='cls')


def test_bad_options_are_named():
    vit = VisionTransformer(arch=TINY_VIT, img_size=96)
    with pytest.raises(ValueError, match=r'layers=\[3\]: this '
                       'VisionTransformer has blocks 1 to 2'):
        encoder_features(vit, images(1), layers=(3, ))
    with pytest.raises(ValueError, match="token='mean': it must be "
                       "'patch_mean' or 'cls'"):
        encoder_features(vit, images(1), token='mean')
    no_cls = VisionTransformer(arch=TINY_VIT, img_size=96,
                               with_cls_token=False, out_type='avg_featmap')
    with pytest.raises(ValueError, match="token='cls': this "
                       'VisionTransformer has no class token'):
        encoder_features(no_cls, images(1), token='cls')


def test_blocks_after_the_deepest_read_do_not_run():
    vit = VisionTransformer(arch=dict(TINY_VIT, num_layers=4), img_size=96,
                            patch_size=16)
    vit.eval()  # MMPretrain's train() returns None
    ran = []
    for number, block in enumerate(vit.layers, 1):
        block.register_forward_hook(
            lambda _m, _i, _o, number=number: ran.append(number))
    layers, norm = vit.layers, vit.ln1
    x = images()
    with torch.no_grad():
        read = encoder_features(vit, x, layers=(1, 2))
        assert ran == [1, 2]
        # The whole network again after, and the same features as from it.
        assert vit.layers is layers and vit.final_norm and vit.ln1 is norm
        tokens, _ = vit.patch_embed(x)
        tokens = torch.cat([vit.cls_token.expand(4, -1, -1), tokens], 1)
        tokens = tokens + vit.pos_embed
        expected = []
        for block in layers[:2]:
            tokens = block(tokens)
            expected.append(tokens[:, 1:].mean(1))
        ran.clear()
        vit(x)
    assert ran == [1, 2, 3, 4]
    torch.testing.assert_close(read, torch.cat(expected, 1), rtol=0, atol=0)
