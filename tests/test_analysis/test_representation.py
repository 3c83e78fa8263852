"""Representation analyses: analytic cases, and the tool on a tiny ViT."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import CONFIG_DIR, REPO_ROOT, TINY_VIT
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from mmkamim.analysis.representation import (
    analyse_layers,
    attention_nmi,
    fourier_profile,
    mean_attention_distance,
    patch_attention,
    patch_distances,
    record_attention,
)

GRID, PATCH, HEADS = 4, 16, 2
TOKENS = GRID * GRID


def test_self_attention_has_distance_0_and_nmi_1():
    eye = torch.eye(TOKENS).expand(3, HEADS, TOKENS, TOKENS)
    assert torch.equal(mean_attention_distance(eye, PATCH),
                       torch.zeros(HEADS, dtype=torch.float64))
    torch.testing.assert_close(attention_nmi(eye),
                               torch.ones(HEADS, dtype=torch.float64))


def test_uniform_attention_has_the_mean_pairwise_distance_and_nmi_0():
    uniform = torch.full((2, HEADS, TOKENS, TOKENS), 1 / TOKENS)
    expected = patch_distances(GRID, PATCH).mean()
    torch.testing.assert_close(mean_attention_distance(uniform, PATCH),
                               expected.expand(HEADS))
    torch.testing.assert_close(attention_nmi(uniform),
                               torch.zeros(HEADS, dtype=torch.float64))


def test_query_independent_attention_has_nmi_0():
    torch.manual_seed(0)
    rows = torch.softmax(torch.randn(2, HEADS, 1, TOKENS), -1)
    same = rows.expand(2, HEADS, TOKENS, TOKENS)
    torch.testing.assert_close(attention_nmi(same),
                               torch.zeros(HEADS, dtype=torch.float64),
                               atol=1e-12, rtol=0)


def test_class_token_is_dropped_and_rows_renormalised():
    torch.manual_seed(0)
    weights = torch.softmax(torch.randn(1, HEADS, TOKENS + 1, TOKENS + 1), -1)
    patches = patch_attention(weights, 1)
    assert patches.shape == (1, HEADS, TOKENS, TOKENS)
    torch.testing.assert_close(patches.sum(-1),
                               torch.ones(1, HEADS, TOKENS))


def test_fourier_profile_of_known_maps():
    constant = torch.ones(2, 3, 12, 12)
    profile = fourier_profile(constant)
    assert profile.shape == (7, ) and profile[0] == 0
    # All energy at frequency 0: every other frequency is at the floor.
    floor = np.log(1e-6) - np.log(144.0)
    np.testing.assert_allclose(profile[1:], floor, rtol=1e-6)
    # A checkerboard is all at frequency (pi, pi).
    board = (torch.arange(12)[:, None] + torch.arange(12)) % 2 * 2.0 - 1
    high = fourier_profile(board.expand(1, 1, 12, 12))
    assert high[-1] - high[0] == pytest.approx(
        np.log(144.0) - np.log(1e-6))
    # Smoothing lowers the high frequencies: a low-pass map's profile falls.
    noise = torch.randn(4, 8, 12, 12,
                        generator=torch.Generator().manual_seed(0))
    smooth = torch.nn.functional.avg_pool2d(
        noise.repeat(1, 1, 3, 3), 5, stride=1, padding=2)[..., 12:24, 12:24]
    assert fourier_profile(smooth)[-1] < fourier_profile(noise)[-1] - 1


def tiny_vit():
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='VisionTransformer', out_type='raw',
        arch=dict(TINY_VIT, num_layers=3, num_heads=HEADS), img_size=64,
        patch_size=PATCH))


def test_recorded_attention_matches_the_model():
    vit = tiny_vit()
    vit.eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = vit(images)[0]
    result = analyse_layers(vit, images)
    assert result['attention_distance'].shape == (3, HEADS)
    assert result['nmi'].shape == (3, HEADS)
    assert result['fourier'].shape == (3, 3)
    # Recording attention does not change what the model computes.
    with torch.no_grad():
        torch.testing.assert_close(vit(images)[0], expected)
    assert torch.equal(result['last_tokens'], result['tokens'][-1])


def test_recorded_weights_are_softmax_of_the_blocks_projections():
    """What is recorded is each block's softmax(q k^T / sqrt(d)), computed
    here from the block's own LayerNorm and qkv projection."""
    vit = tiny_vit()
    vit.eval()
    images = torch.randn(2, 3, 64, 64,
                         generator=torch.Generator().manual_seed(2))
    with torch.no_grad(), record_attention(vit) as recorded:
        vit(images)
    assert len(recorded) == len(vit.layers)
    with torch.no_grad():
        tokens, _ = vit.patch_embed(images)
        tokens = torch.cat([vit.cls_token.expand(2, -1, -1), tokens], 1)
        tokens = tokens + vit.pos_embed
        for layer, attention in zip(vit.layers, recorded):
            attn = layer.attn
            x = layer.ln1(tokens)
            qkv = attn.qkv(x).reshape(2, x.shape[1], 3, attn.num_heads,
                                      attn.head_dims).permute(2, 0, 3, 1, 4)
            expected = torch.softmax(
                qkv[0] @ qkv[1].transpose(-2, -1) / attn.head_dims**0.5, -1)
            torch.testing.assert_close(attention, expected)
            tokens = layer(tokens)


@pytest.mark.slow
def test_tool_writes_figures_and_json(tmp_path, image_folder):
    cfg = Config.fromfile(osp.join(CONFIG_DIR,
                                   'simmim_vit-tiny_8xb256_in1k.py'))
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = tmp_path / 'vit.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    config = osp.join(CONFIG_DIR, 'simmim_vit-tiny_8xb256_in1k.py')
    done = subprocess.run(
        [sys.executable,
         osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                  'representation_analysis.py'), '--checkpoints',
         f'A={config}:{checkpoint}', f'B={config}:{checkpoint}', '--data',
         image_folder, '--max-images', '3', '--out-dir', str(tmp_path)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ('attention_distance', 'nmi', 'fourier', 'tsne', 'pca'):
        assert osp.getsize(tmp_path / f'{name}.png') > 10_000
    summary = json.loads((tmp_path / 'representation.json').read_text())
    assert set(summary['A']) >= {'attention_distance_px', 'nmi',
                                 'fourier_relative_log_amplitude',
                                 'pca_explained_variance'}
    assert np.array(summary['A']['nmi']).shape == (12, 3)
    assert summary['A']['nmi'] == summary['B']['nmi']
