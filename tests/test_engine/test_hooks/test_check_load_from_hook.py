"""A ``load_from`` checkpoint that does not fit the model stops the run
before anything trains; a partial load that is meant is named and logged
(mmengine loads with ``strict=False``: warnings, then random weights)."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
from conftest import (
    REPO_ROOT,
    build_runner,
    tiny_model_config,
    tiny_vit_config,
)
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from mmkamim.engine.hooks import CheckLoadFromHook
from mmkamim.utils import UsageError

KAMIM = 'kamim_vit-base_8xb256_in1k.py'


def saved_model(path, edit=None, keep=lambda name: True, **backbone) -> str:
    """Save the state dict of the tiny KAMIM ViT, with ``backbone``
    settings changed, as a checkpoint holding the tensors ``keep`` names."""
    cfg = tiny_model_config(KAMIM)
    cfg.model.backbone.update(backbone)
    if 'arch' in backbone:
        cfg.model.neck.in_channels = backbone['arch']['embed_dims']
    init_default_scope('mmpretrain')
    state = MODELS.build(cfg.model).state_dict()
    torch.save(dict(state_dict={k: v for k, v in state.items() if keep(k)}),
               path)
    return str(path)


def runner_loading(tmp_path, image_folder, checkpoint, allow_random=None,
                   work='work'):
    cfg = Config.fromfile(tiny_vit_config(tmp_path, image_folder, KAMIM))
    cfg.load_from = checkpoint
    if allow_random is not None:
        assert cfg.custom_hooks[1].type == 'CheckLoadFromHook'
        cfg.custom_hooks[1].allow_random = allow_random
    return build_runner(cfg, tmp_path / work)


def checkpoints_written(tmp_path):
    return sorted(p.name for p in (tmp_path / 'work').glob('*.pth'))


def test_a_checkpoint_of_another_width_stops_before_training(
        tmp_path, image_folder):
    wide = saved_model(tmp_path / 'wide.pth',
                       arch=dict(embed_dims=64, num_layers=2, num_heads=2,
                                 feedforward_channels=128))
    runner = runner_loading(tmp_path, image_folder, wide)
    with pytest.raises(UsageError) as error:
        runner.train()
    message = str(error.value)
    assert message.startswith(f'load_from={wide} does not fit the KAMIM '
                              'model: of its 33 parameter tensors, ')
    # Every tensor is there, all but the decoder's bias (its output is
    # pixels) of another width; the first ones named.
    assert '32 have another shape (backbone.cls_token: checkpoint (1, 1, ' \
        '64) vs model (1, 1, 32), ' in message
    assert 'it fills only 1 of 33 parameter tensors (1.1 % of the 71,808 ' \
        'values), less than half' in message
    assert checkpoints_written(tmp_path) == []
    assert runner.iter == 0


def test_one_tensor_of_another_shape_is_enough(tmp_path, image_folder):
    state = torch.load(saved_model(tmp_path / 'full.pth'),
                       weights_only=True)
    state['state_dict']['backbone.layers.1.ffn.layers.1.weight'] = \
        torch.zeros(32, 16)
    torch.save(state, tmp_path / 'one.pth')
    runner = runner_loading(tmp_path, image_folder, str(tmp_path / 'one.pth'))
    with pytest.raises(UsageError, match=r'tensors, 1 have another shape '
                       r'\(backbone\.layers\.1\.ffn\.layers\.1\.weight: '
                       r'checkpoint \(32, 16\) vs model \(32, 64\)\)\. Is '):
        runner.train()


def test_a_position_embedding_of_another_size_counts_as_filled(
        tmp_path, image_folder):
    # 96 px: 36 + 1 tokens; MMPretrain resizes them to 144 + 1 on load.
    small = saved_model(tmp_path / 'small.pth', img_size=96)
    runner = runner_loading(tmp_path, image_folder, small)
    runner.train()
    log = (tmp_path / 'work').glob('*/*.log')
    text = next(log).read_text()
    assert f'load_from={small} fills 33 of 33 parameter tensors (100.0 % ' \
        'of the' in text


def test_missing_parameters_stop_unless_allowed(tmp_path, image_folder):
    """Encoder-only weights into KAMIM: the decoder would stay random."""
    encoder = saved_model(tmp_path / 'encoder.pth',
                          keep=lambda name: name.startswith('backbone.'))
    runner = runner_loading(tmp_path, image_folder, encoder)
    with pytest.raises(UsageError, match=r'tensors, 2 are not in it '
                       r'\(neck\.decoder\.0\.weight, neck\.decoder\.0\.bias'
                       r'\)\. .*CheckLoadFromHook\(allow_random='):
        runner.train()
    assert checkpoints_written(tmp_path) == []

    class Loaded(Hook):

        def before_train(self, runner) -> None:
            self.backbone = {k: v.clone() for k, v in
                             runner.model.backbone.state_dict().items()}

    # A work dir of its own: two runs started within a second would write
    # one log file.
    runner = runner_loading(tmp_path, image_folder, encoder,
                            allow_random=['neck.*'], work='allowed')
    loaded = Loaded()
    runner.register_hook(loaded)
    runner.train()
    saved = torch.load(encoder, weights_only=True)['state_dict']
    for name, value in loaded.backbone.items():
        assert torch.equal(value, saved[f'backbone.{name}']), name
    text = next((tmp_path / 'allowed').glob('*/*.log')).read_text()
    assert (f'load_from={encoder}: 2 parameters keep their initialisation, '
            'as allow_random permits (neck.decoder.0.weight, '
            'neck.decoder.0.bias); the checkpoint fills the other 31') in text


def test_less_than_half_stops_whatever_is_allowed(tmp_path, image_folder):
    # The first of the 2 blocks alone: 12 % of the values.
    few = saved_model(tmp_path / 'few.pth',
                      keep=lambda name: name.startswith('backbone.layers.0.'))
    runner = runner_loading(tmp_path, image_folder, few, allow_random=['*'])
    with pytest.raises(UsageError, match=r'tensors, it fills only 12 of 33 '
                       r'parameter tensors \(11\.9 % of the 71,808 values\), '
                       r'less than half\.'):
        runner.train()


def test_names_with_another_prefix_fit_nothing(tmp_path, image_folder):
    state = torch.load(saved_model(tmp_path / 'full.pth'), weights_only=True)
    state['state_dict'] = {f'model.{k}': v
                           for k, v in state['state_dict'].items()}
    torch.save(state, tmp_path / 'prefixed.pth')
    runner = runner_loading(tmp_path, image_folder,
                            str(tmp_path / 'prefixed.pth'))
    with pytest.raises(UsageError, match=r'33 are not in it .*less than '
                       r"half; 33 of its tensors are not the model's "
                       r'\(model\.backbone\.cls_token, '):
        runner.train()


def test_a_single_pattern_string_is_refused():
    with pytest.raises(ValueError, match=r"got the string 'neck\.\*': write "
                       r"\['neck\.\*'\]"):
        CheckLoadFromHook(allow_random='neck.*')


def test_train_py_stops_with_one_line_and_trains_nothing(tmp_path,
                                                        image_folder):
    wide = saved_model(tmp_path / 'wide.pth',
                       arch=dict(embed_dims=64, num_layers=2, num_heads=2,
                                 feedforward_channels=128))
    config = tiny_vit_config(tmp_path, image_folder, KAMIM)
    done = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), config,
         '--work-dir', str(tmp_path / 'work'), '--cfg-options',
         f'load_from={wide}'], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f'error: load_from={wide} does not fit the KAMIM '
                           'model: of its 33 parameter tensors, 32 have '
                           'another shape')
    assert 'Traceback' not in done.stderr
    assert checkpoints_written(tmp_path) == []
