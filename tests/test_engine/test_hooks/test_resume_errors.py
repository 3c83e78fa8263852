"""Resuming or loading from a checkpoint that cannot serve stops before
training with one message naming the file and the fix (mmengine gives a
bare exception, an error from inside the optimizer, or resumes silently
from what it could load)."""
import glob
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT, build_runner, tiny_vit_config
from mmengine.config import Config

from mmkamim.utils import UsageError


@pytest.fixture(scope='module')
def saved(tmp_path_factory, image_folder):
    """A tiny KAMIM run's config and its iter_3.pth."""
    tmp = tmp_path_factory.mktemp('saved')
    config = tiny_vit_config(tmp, image_folder,
                             'kamim_vit-base_8xb256_in1k.py')
    build_runner(Config.fromfile(config), tmp / 'work').train()
    return config, tmp / 'work' / 'iter_3.pth'


def edited(source, target, edit) -> str:
    checkpoint = torch.load(source, weights_only=True)
    torch.save(edit(checkpoint), target)
    return str(target)


def without(*keys):
    return lambda c: {k: v for k, v in c.items() if k not in keys}


def renamed(c):
    c['state_dict'] = {k.replace('backbone.', 'encoder.'): v
                       for k, v in c['state_dict'].items()}
    return c


def reshaped(c):
    key = next(k for k in c['state_dict'] if 'qkv.weight' in k)
    c['state_dict'][key] = torch.zeros(3, 3)
    return c


def two_groups(c):
    c['optimizer']['param_groups'] = c['optimizer']['param_groups'] * 2
    return c


def fewer_schedulers(c):
    c['param_schedulers'] = []
    return c


@pytest.mark.parametrize('case, make, message', [
    ('missing file', lambda s, t: str(t),
     r'checkpoint .*case\.pth does not exist'),
    ('a folder', lambda s, t: str(s.parent),
     r'is a folder. To continue the run saved in it, pass --work-dir'),
    ('a text file', lambda s, t: (t.write_text('hello'), str(t))[1],
     r'is not a PyTorch checkpoint \(a file written by torch.save\)'),
    ('weights only', lambda s, t: edited(
        s, t, lambda c: {'state_dict': c['state_dict']}),
     r'it holds weights only .* pass --cfg-options load_from=.* without '
     r'--resume'),
    ('no meta', lambda s, t: edited(s, t, without('meta')),
     r'cannot resume from .*case\.pth: it lacks meta\.'),
    ('no optimizer', lambda s, t: edited(s, t, without('optimizer')),
     r'it lacks optimizer\.'),
    ('no schedulers', lambda s, t: edited(s, t, without('param_schedulers')),
     r'it lacks param_schedulers\.'),
    ('another model (names)', lambda s, t: edited(s, t, renamed),
     r'it was saved by another model: 31 of the model\'s weights are not in '
     r'it \(backbone.cls_token, .*31 of its weights are not the model\'s'),
    ('another model (shapes)', lambda s, t: edited(s, t, reshaped),
     r'1 have another shape \(backbone.layers.0.attn.qkv.weight \(\(3, 3\) '
     r'saved, \(96, 32\) here\)\)'),
    ('another optimizer', lambda s, t: edited(s, t, two_groups),
     r'its optimizer has parameter groups of \[33, 33\] parameters, this '
     r"run's \[33\]"),
    ('other schedulers', lambda s, t: edited(s, t, fewer_schedulers),
     r'it holds 0 parameter schedulers, this run has 1'),
])
def test_resume_refuses_naming_the_file_and_the_fix(tmp_path, saved, case,
                                                   make, message):
    config, source = saved
    path = make(source, tmp_path / 'case.pth')
    cfg = Config.fromfile(config)
    cfg.resume, cfg.load_from = True, path
    with pytest.raises(UsageError, match=message):
        build_runner(cfg, tmp_path / 'work').train()


def test_resume_on_other_data_is_refused(tmp_path, saved, image_folder):
    config, source = saved
    cfg = Config.fromfile(config)
    cfg.resume, cfg.load_from = True, str(source)
    fewer = tmp_path / 'fewer'
    fewer.mkdir()
    for path in sorted(glob.glob(osp.join(image_folder, '*.png')))[:5]:
        shutil.copy(path, fewer)
    cfg.train_dataloader.dataset.data_root = str(fewer)
    with pytest.raises(UsageError, match='saved training on 8 images, this '
                       'run has 5'):
        build_runner(cfg, tmp_path / 'work').train()


def test_train_py_says_it_in_one_line(tmp_path, saved):
    config, _ = saved
    done = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), config,
         '--work-dir', str(tmp_path), '--resume', str(tmp_path / 'no.pth')],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f'error: checkpoint {tmp_path / "no.pth"} does not exist')
    assert 'Traceback' not in done.stderr


def resumed_log(tmp_path, config, checkpoint, **options) -> str:
    cfg = Config.fromfile(config)
    cfg.resume, cfg.load_from = True, checkpoint
    cfg.merge_from_dict(options)
    work = tmp_path / 'work'
    build_runner(cfg, work).train()
    return next(work.glob('*/*.log')).read_text()


NO_GENERATORS = 'which holds no random generator states'
NO_POSITION = 'the checkpoint records no sample position'
OTHER_SAMPLER = 'the training sampler is DefaultSampler, not Reproducible'


def test_a_complete_checkpoint_resumes_without_warnings(tmp_path, saved):
    config, source = saved
    log = resumed_log(tmp_path, config, str(source))
    for warning in (NO_GENERATORS, NO_POSITION, OTHER_SAMPLER):
        assert warning not in log


def test_what_a_checkpoint_lacks_for_an_exact_resume_is_said(tmp_path,
                                                            saved):
    config, source = saved

    def bare(c):
        del c['rng_states'], c['meta']['sample_position']
        return c

    path = edited(source, tmp_path / 'bare.pth', bare)
    log = resumed_log(tmp_path, config, path)
    # Every training step seeds the generators anew: nothing is lost.
    assert NO_GENERATORS not in log
    assert NO_POSITION in log and 'right only on the layout' in log
    # Without that seeding the generators' state matters, and is missing.
    log = resumed_log(tmp_path / 'unseeded', config, path,
                      custom_hooks=[dict(type='WeightsOnlyCheckpointHook'),
                                    dict(type='ReproducibilityHook',
                                         seed_steps=False)])
    assert f'resuming from {path}, {NO_GENERATORS}' in log
    assert 'MAE and PixMIM masks, drop path' in log


def test_a_sampler_that_cannot_resume_exactly_is_said(tmp_path, saved):
    config, source = saved
    log = resumed_log(
        tmp_path, config, str(source),
        train_dataloader=dict(sampler=dict(type='DefaultSampler',
                                           shuffle=True)))
    assert OTHER_SAMPLER in log
