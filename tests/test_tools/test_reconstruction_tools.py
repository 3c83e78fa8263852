"""Reconstruction figures and PSNR/SSIM of SimMIM-family and MAE-family
checkpoints."""
import contextlib
import glob
import json
import os.path as osp
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, load_tool, tiny_demo_config
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from mmkamim.analysis.reconstruction import (
    build_model,
    image_size,
    load_square,
    reconstruct,
)

TOOLS = osp.join(REPO_ROOT, 'tools', 'analysis_tools')
quality = load_tool('analysis_tools', 'reconstruction_quality.py').quality


@pytest.fixture
def pixmim(tmp_path, photo_dataset):
    """A tiny PixMIM with random weights, saved as a checkpoint."""
    config = tiny_demo_config(tmp_path, photo_dataset,
                              'pixmim_vit-micro_1xb32_photos-96px.py')
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    checkpoint = str(tmp_path / 'pixmim.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    return config, checkpoint


@pytest.fixture
def kamim(tmp_path, photo_dataset, kamim_checkpoint):
    config = tiny_demo_config(tmp_path, photo_dataset,
                              'kamim_vit-micro_1xb32_photos-96px.py')
    return config, kamim_checkpoint


def test_an_image_against_itself():
    rng = np.random.default_rng(0)
    img = rng.random((32, 32, 3))
    mask = np.zeros((32, 32), bool)
    mask[:16] = True
    scores = quality(img, img, mask)
    assert scores['psnr'] == scores['psnr_masked'] == np.inf
    assert scores['ssim'] == pytest.approx(1.0)
    assert scores['ssim_masked'] == pytest.approx(1.0)
    worse = quality(img, np.clip(img + 0.1 * mask[..., None], 0, 1), mask)
    assert worse['psnr'] > worse['psnr_masked']  # the error is all masked


@contextlib.contextmanager
def generators_untouched_checked():
    """The block must leave Python's, NumPy's and torch's generators as it
    found them."""
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    python, numpy, torch_state = (random.getstate(), np.random.get_state(),
                                  torch.get_rng_state())
    yield
    assert random.getstate() == python
    assert np.array_equal(np.random.get_state()[1], numpy[1])
    assert np.random.get_state()[2] == numpy[2]
    assert torch.equal(torch.get_rng_state(), torch_state)


@pytest.mark.parametrize('which', ['kamim', 'pixmim'])
def test_reconstructions_are_viewable_and_masked_where_trained(
        which, request, photo_dataset):
    config, checkpoint = request.getfixturevalue(which)
    model = build_model(config, checkpoint)
    size = image_size(model)
    image = load_square(osp.join(photo_dataset, 'val', 'coffee', '000.png'),
                        size)
    with generators_untouched_checked():
        out = reconstruct(model, image, mask_seed=3)
    for key in ('original', 'masked', 'reconstruction', 'raw'):
        assert out[key].shape == (size, size, 3)
        assert 0 <= out[key].min() and out[key].max() <= 1
    mask = out['pixel_mask']
    expected = 0.75 if which == 'pixmim' else 0.6
    assert abs(mask.mean() - expected) < 0.1
    # Outside the mask the figure shows the original; inside the model.
    assert np.array_equal(out['reconstruction'][~mask],
                          out['original'][~mask])
    assert np.array_equal(out['reconstruction'][mask], out['raw'][mask])
    assert (out['target'] is not None) == (which == 'pixmim')
    again = reconstruct(model, image, mask_seed=3)
    assert np.array_equal(again['pixel_mask'], mask)


@pytest.mark.slow  # a tool process, about 20 s
def test_tools_write_figures_and_metrics(tmp_path, kamim, photo_dataset):
    config, checkpoint = kamim
    images = osp.join(photo_dataset, 'val', 'coffee')
    figures = subprocess.run(
        [sys.executable, osp.join(TOOLS, 'visualize_reconstruction.py'),
         config, checkpoint, '--images', images, '--out-dir',
         str(tmp_path / 'figures')],
        capture_output=True, text=True, timeout=300)
    assert figures.returncode == 0, figures.stderr[-3000:]
    pngs = glob.glob(str(tmp_path / 'figures' / '*.png'))
    assert pngs and all(osp.getsize(p) > 10_000 for p in pngs)
    # The mask as the config makes it: here with another ratio.
    scores = subprocess.run(
        [sys.executable, osp.join(TOOLS, 'reconstruction_quality.py'),
         config, checkpoint, '--data', images, '--out-dir',
         str(tmp_path / 'quality'), '--cfg-options',
         'train_dataloader.dataset.pipeline.4.mask_ratio=0.75'],
        capture_output=True, text=True, timeout=300)
    assert scores.returncode == 0, scores.stderr[-3000:]
    result = json.loads(
        (tmp_path / 'quality' / 'reconstruction_quality.json').read_text())
    assert (result['colour_space'], result['data_range']) == ('RGB', 1.0)
    assert set(result['mean']) == {'psnr', 'ssim', 'psnr_masked',
                                   'ssim_masked'}
    assert result['images'] == len(result['per_image']) > 0
    assert '| masked pixels |' in scores.stdout
    assert {row['masked_fraction'] for row in result['per_image']} == {0.75}
    assert result['measured']['prediction_to_pixels'].startswith(
        'the prediction is in ImageNet-normalised pixels')
    assert 'Whole image: the model\'s output at every pixel' in \
        scores.stdout


def test_a_converted_checkpoint_is_analysed_with_its_epsilon(tmp_path,
                                                              kamim):
    config, checkpoint = kamim
    state = torch.load(checkpoint, weights_only=True)
    state['meta'] = dict(state.get('meta', {}), hf_layer_norm_eps=1e-12)
    converted = tmp_path / 'converted.pth'
    torch.save(state, converted)
    assert build_model(config, checkpoint).backbone.ln1.eps == 1e-6
    assert build_model(config, str(converted)).backbone.ln1.eps == 1e-12
