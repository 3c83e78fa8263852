import importlib
import os.path as osp

import pytest
import torch
from conftest import CONFIG_DIR, REPO_ROOT, tool_error_line
from mmengine.config import Config

import mmkamim.analysis.stages as stages
from mmkamim.analysis.compare import (
    compare,
    keypoint_examples,
    pretrain_and_probe,
)
from mmkamim.analysis.demo import EXAMPLE_PHOTOS
from mmkamim.analysis.stages import run_stage_once
from mmkamim.utils import UsageError

# The package exports a function of the module's name.
compare_module = importlib.import_module('mmkamim.analysis.compare')


def test_examples_are_titled_by_their_class(photo_dataset):
    """An ImageFolder numbers its files within each class: the figure
    names the class too, so three photos are not all "000.png"."""
    paths = [osp.join(photo_dataset, 'val', name, '000.png')
             for name in EXAMPLE_PHOTOS]
    titles = [example['title'] for example in keypoint_examples(paths, 96)]
    assert titles == [f'{name}/000.png (96 px)' for name in EXAMPLE_PHOTOS]


def fake_metrics(monkeypatch, calls):
    """Stages that record their options instead of training."""

    def run_stage_once(config, work_dir, options, nproc, log):
        calls.append(options)
        return 1.0

    monkeypatch.setattr(compare_module, 'run_stage_once', run_stage_once)
    monkeypatch.setattr(compare_module, 'read_scalars',
                        lambda work_dir: [{'accuracy/top1': 50.0}])


def test_a_converted_checkpoint_is_probed_with_its_epsilon(
        tmp_path, monkeypatch):
    calls = []
    fake_metrics(monkeypatch, calls)
    converted = tmp_path / 'converted.pth'
    torch.save(dict(meta=dict(hf_layer_norm_eps=1e-12), state_dict={}),
               converted)
    probe = osp.join(CONFIG_DIR, 'demo',
                     'vit-micro-p16_1xb32-linear_photos-96px.py')
    assert Config.fromfile(probe).model.backbone.norm_cfg.type == 'LN'
    pretrain_and_probe('Released', None, probe, str(tmp_path / 'run'),
                       checkpoint=str(converted))
    assert calls[-1]['model.backbone.norm_cfg.eps'] == 1e-12
    # One set by hand wins; our own checkpoints name none.
    pretrain_and_probe('Released', None, probe, str(tmp_path / 'run'),
                       {}, {'model.backbone.norm_cfg.eps': 1e-5},
                       checkpoint=str(converted))
    assert calls[-1]['model.backbone.norm_cfg.eps'] == 1e-5
    torch.save(dict(meta=dict(), state_dict={}), tmp_path / 'ours.pth')
    pretrain_and_probe('Ours', None, probe, str(tmp_path / 'run'),
                       checkpoint=str(tmp_path / 'ours.pth'))
    assert 'model.backbone.norm_cfg.eps' not in calls[-1]


class Interrupted(Exception):
    pass


def test_a_stage_of_other_settings_is_refused_finished_or_not(
        tmp_path, monkeypatch):
    work = tmp_path / 'stage'
    resumed = []

    def interrupted(config, work_dir, options, nproc, log, resume):
        (work / 'iter_1.pth').write_bytes(b'')
        (work / 'last_checkpoint').write_text('iter_1.pth')
        raise Interrupted

    monkeypatch.setattr(stages, 'run_stage', interrupted)
    with pytest.raises(Interrupted):
        run_stage_once('a.py', str(work), {'lr': 1}, log=lambda line: None)
    with pytest.raises(UsageError, match=r'stage holds an interrupted stage '
                       r"with other settings: options: \{'lr': '1'\} there, "
                       r"\{'lr': '2'\} now\. Use another --work-dir, or "
                       'remove it'):
        run_stage_once('a.py', str(work), {'lr': 2})
    monkeypatch.setattr(stages, 'run_stage',
                        lambda *args, resume: resumed.append(resume) or 2.0)
    assert run_stage_once('a.py', str(work), {'lr': 1},
                          log=lambda line: None) == 2.0
    assert resumed == [True]
    with pytest.raises(UsageError, match='holds a finished stage with other '
                       'settings: config: '):
        run_stage_once('b.py', str(work), {'lr': 1})
    assert run_stage_once('a.py', str(work), {'lr': 1},
                          log=lambda line: None) == 2.0
    assert resumed == [True]


def test_an_interrupted_comparison_refuses_other_settings(
        tmp_path, monkeypatch):
    work = str(tmp_path / 'compare')
    probe = osp.join(CONFIG_DIR, 'demo',
                     'vit-micro-p16_1xb32-linear_photos-96px.py')
    simmim = osp.join(CONFIG_DIR, 'demo',
                      'simmim_vit-micro_1xb32_photos-96px.py')
    runs = [dict(name='SimMIM', config=simmim)]

    def interrupted(*args, **kwargs):
        raise Interrupted

    monkeypatch.setattr(compare_module, 'pretrain_and_probe', interrupted)
    with pytest.raises(Interrupted):
        compare(runs, probe, work, seeds=(0, ), log=lambda line: None)
    with pytest.raises(Interrupted):  # the same settings go on
        compare(runs, probe, work, seeds=(0, ), log=lambda line: None)
    line = tool_error_line(
        osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                 'compare_pretraining.py'), '--runs', f'SimMIM={simmim}',
        '--probe-config', probe, '--work-dir', work, '--seeds', '1')
    assert line == (f'error: {work} holds a comparison with other settings: '
                    'seeds: [0] there, [1] now. Use another --work-dir, or '
                    'remove it')
