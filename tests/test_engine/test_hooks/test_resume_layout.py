"""A resumed run continues at the first sample not yet trained, whatever its
batch size or number of processes, and its learning rate follows the
schedule at the run's progress.

36 (or 37) small photos, batch 4, a checkpoint at iteration 3 (12 samples
of epoch 1 trained): the run is resumed from it with batch 4, 8 and 2, on 2
gloo processes, and with the loop iteration-based. A test hook records the
dataset indices and the learning rate of every step.
"""
import json
import math
import os
import os.path as osp
import socket
import subprocess
import sys
from collections import Counter

import cv2
import pytest
import torch
from conftest import (
    REPO_ROOT,
    build_runner,
    random_resized_crops,
    tiny_vit_config,
)
from mmengine.config import Config
from mmengine.hooks import Hook

from mmkamim.utils import UsageError

BASE_LR = 8e-4
ETA_MIN = 1e-5

# One warm-up epoch from a quarter of the lr, one cosine epoch; the lr is
# scaled with the global batch (base batch 4).
RUN = """
train_dataloader.update(batch_size=4)
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=2)
default_hooks['checkpoint'] = dict(type='AtomicCheckpointHook', interval=3,
                                   by_epoch=False, max_keep_ckpts=-1)
log_processor = dict(by_epoch=True)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.25, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=1, eta_min=%r, by_epoch=True,
         begin=1, end=2, convert_to_iter_based=True)]
auto_scale_lr = dict(enable=True, base_batch_size=4)
""" % ETA_MIN

ITERATION_BASED = """
train_cfg = dict(_delete_=True, type='ResumableIterBasedTrainLoop',
                 max_iters=18)
param_scheduler = [dict(type='LinearLR', start_factor=0.25, by_epoch=False,
                        begin=0, end=18)]
log_processor = dict(by_epoch=False)
"""


def expected_lr(epochs: float, global_batch: int) -> float:
    """The schedule above at a progress in epochs, written out."""
    base = BASE_LR * global_batch / 4
    if epochs < 1:
        return base * (0.25 + 0.75 * epochs)
    return ETA_MIN + (base - ETA_MIN) * (1 + math.cos(
        math.pi * min(epochs - 1, 1))) / 2


class Record(Hook):
    """Per step: the epoch, the dataset indices and the learning rate."""

    def __init__(self):
        self.steps = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.steps.append(dict(
            epoch=runner.epoch, lr=runner.optim_wrapper.get_lr()['lr'][0],
            indices=[s.sample_idx for s in data_batch['data_samples']]))


RECORD_FILE = '''
import json, os
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class RecordToFile(Hook):

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        with open(os.path.join(runner.work_dir,
                               f'steps{runner.rank}.jsonl'), 'a') as f:
            f.write(json.dumps(dict(
                epoch=runner.epoch, iter=runner.iter,
                indices=[s.sample_idx for s in data_batch['data_samples']]
            )) + '\\n')
'''


def photos(root, count: int) -> str:
    root.mkdir()
    for i, crop in enumerate(random_resized_crops(count, size=64, seed=1)):
        cv2.imwrite(str(root / f'photo_{i:02d}.png'), crop)
    return str(root)


@pytest.fixture(scope='module')
def straight(tmp_path_factory):
    """36 photos; 2 epochs straight at batch 4, with iter_3.pth."""
    tmp = tmp_path_factory.mktemp('layout')
    folder = photos(tmp / 'photos', 36)
    config = tiny_vit_config(tmp, folder, 'kamim_vit-base_8xb256_in1k.py',
                             RUN)
    steps, runner = train(config, tmp / 'straight')
    return dict(tmp=tmp, folder=folder, config=config, steps=steps,
                work=tmp / 'straight', params=params(runner))


def train(config, work_dir, **options):
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    runner = build_runner(cfg, work_dir)
    record = Record()
    runner.register_hook(record, priority='NORMAL')
    runner.train()
    return record.steps, runner


def params(runner) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in runner.model.parameters()])


def relative_difference(a, b) -> float:
    return float((a - b).abs().max() / a.abs().max())


def trained_in_epoch(steps, epoch):
    return [i for s in steps if s['epoch'] == epoch for i in s['indices']]


def assert_every_index_once_after(before, after, size, repeats=0):
    """The interrupted epoch: every index trained, before or after, and
    only ``repeats`` (the new layout's round-up padding) twice."""
    assert len(set(before)) == len(before)
    assert sorted(set(before + after)) == list(range(size))
    assert len(before) + len(after) == size + repeats


@pytest.mark.parametrize('batch', [4, 8, 2])
def test_one_process_resumed_with_another_batch(tmp_path, straight, batch):
    first = straight['steps'][:3]  # what iter_3.pth had trained
    steps, runner = train(
        straight['config'], tmp_path / 'resumed', resume=True,
        load_from=str(straight['work'] / 'iter_3.pth'),
        **{'train_dataloader.batch_size': batch})
    assert_every_index_once_after(trained_in_epoch(first, 0),
                                  trained_in_epoch(steps, 0), 36)
    assert sorted(trained_in_epoch(steps, 1)) == list(range(36))
    if batch == 4:  # the layout it was written with: the straight run
        assert [s['indices'] for s in steps] == [
            s['indices'] for s in straight['steps'][3:]]
        assert [s['lr'] for s in steps] == [
            s['lr'] for s in straight['steps'][3:]]
        assert relative_difference(straight['params'],
                                   params(runner)) <= 1e-5
        return
    # The lr of every step: the schedule at the progress before it, from
    # the base lr scaled to the new batch.
    done = {0: 12, 1: 0}
    for step in steps:
        epochs = step['epoch'] + done[step['epoch']] / 36
        assert step['lr'] == pytest.approx(expected_lr(epochs, batch),
                                           rel=1e-7)
        done[step['epoch']] += len(step['indices'])


@pytest.mark.slow  # about 40 s
def test_a_second_change_of_layout_stays_right(tmp_path, straight):
    """4 -> 8 at iteration 3, then -> 2 from a checkpoint of the resumed
    run (still in the first epoch)."""
    # The batch-8 run's checkpoint after its first step: 12 + 8 samples.
    cfg_options = {'train_dataloader.batch_size': 8,
                   'default_hooks.checkpoint.interval': 4}
    eight, _ = train(straight['config'], tmp_path / 'eight4', resume=True,
                     load_from=str(straight['work'] / 'iter_3.pth'),
                     **cfg_options)
    two, _ = train(straight['config'], tmp_path / 'two', resume=True,
                   load_from=str(tmp_path / 'eight4' / 'iter_4.pth'),
                   **{'train_dataloader.batch_size': 2})
    before = trained_in_epoch(straight['steps'][:3], 0) + \
        trained_in_epoch(eight[:1], 0)
    assert_every_index_once_after(before, trained_in_epoch(two, 0), 36)
    done = 20
    for step in (s for s in two if s['epoch'] == 0):
        assert step['lr'] == pytest.approx(expected_lr(done / 36, 2),
                                           rel=1e-7)
        done += len(step['indices'])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_tools(config, work, nproc, tmp, *options):
    """tools/train.py on 1 process or 2 gloo processes; the steps each rank
    recorded."""
    env = dict(os.environ, PYTHONPATH=str(tmp), OMP_NUM_THREADS='1',
               PORT=str(free_port()), PYTHON=sys.executable)
    tools = osp.join(REPO_ROOT, 'tools')
    command = (['bash', osp.join(tools, 'dist_train.sh'), config, '2']
               if nproc == 2 else
               [sys.executable, osp.join(tools, 'train.py'), config])
    done = subprocess.run(command + ['--work-dir', str(work)] + list(options),
                          env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return [[json.loads(line) for line in open(work / f'steps{rank}.jsonl')]
            for rank in range(nproc)], done.stdout + done.stderr


def recording_config(tmp, folder, extra=''):
    (tmp / 'record_to_file.py').write_text(RECORD_FILE)
    return tiny_vit_config(tmp, folder, 'kamim_vit-base_8xb256_in1k.py',
                           RUN + """
custom_imports = dict(imports=['mmkamim', 'record_to_file'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook'),
                dict(type='ReproducibilityHook'),
                dict(type='PreemptionHook'), dict(type='RecordToFile')]
""" + extra)


def epoch_indices(ranks, epoch, until=None):
    return [i for steps in ranks for s in steps
            if s['epoch'] == epoch and (until is None or s['iter'] < until)
            for i in s['indices']]


@pytest.mark.slow
@pytest.mark.parametrize('size, first, then, stop, repeats', [
    (36, 1, 2, 3, 0),   # 12 trained; 24 left for 2 processes
    (37, 2, 1, 3, 0),   # 3 x 2 x 4 = 24 trained; 13 left for 1 process
    (37, 1, 2, 3, 1),   # 12 trained; 25 left, padded by 1 for 2 processes
])
def test_another_number_of_processes(tmp_path, size, first, then, stop,
                                     repeats):
    folder = photos(tmp_path / 'photos', size)
    config = recording_config(tmp_path, folder)
    before, _ = run_tools(config, tmp_path / 'first', first, tmp_path)
    checkpoint = tmp_path / 'first' / f'iter_{stop}.pth'
    position = torch.load(checkpoint, weights_only=True)['meta'][
        'sample_position']
    assert position['samples'] == stop * 4 * first
    after, log = run_tools(config, tmp_path / 'then', then, tmp_path,
                           '--resume', str(checkpoint))
    assert_every_index_once_after(epoch_indices(before, 0, stop),
                                  epoch_indices(after, 0), size, repeats)
    assert sorted(set(epoch_indices(after, 1))) == list(range(size))
    left = size - stop * 4 * first
    assert (f'resuming epoch 1 after {stop * 4 * first} of its {size} '
            f'samples: {left} remain') in log
    assert 'Layout changed' in log
    if repeats:
        # The repeat is the epoch's first index, as DefaultSampler pads.
        counts = Counter(epoch_indices(before, 0, stop) +
                         epoch_indices(after, 0))
        assert [i for i, n in counts.items() if n == 2] == [
            epoch_indices(before, 0)[0]]


@pytest.mark.slow  # about 40 s
def test_iteration_based_loop_resumes_by_position(tmp_path, straight):
    config = tiny_vit_config(tmp_path, straight['folder'],
                             'kamim_vit-base_8xb256_in1k.py',
                             RUN + ITERATION_BASED)
    steps, runner = train(config, tmp_path / 'straight')
    assert [s['epoch'] for s in steps] == [0] * 9 + [1] * 9
    same, resumed = train(config, tmp_path / 'same', resume=True,
                          load_from=str(tmp_path / 'straight' / 'iter_3.pth'))
    assert [s['indices'] for s in same] == [s['indices'] for s in steps[3:]]
    assert relative_difference(params(runner), params(resumed)) <= 1e-5
    eight, _ = train(config, tmp_path / 'eight', resume=True,
                     load_from=str(tmp_path / 'straight' / 'iter_3.pth'),
                     **{'train_dataloader.batch_size': 8})
    assert_every_index_once_after(trained_in_epoch(steps[:3], 0),
                                  trained_in_epoch(eight, 0), 36)
    assert sorted(trained_in_epoch(eight, 1)) == list(range(36))


def strip_position(source, target):
    checkpoint = torch.load(source, weights_only=True)
    del checkpoint['meta']['sample_position']
    torch.save(checkpoint, target)


def test_an_older_checkpoint_resumes_on_its_own_layout_only(
        tmp_path, straight):
    older = tmp_path / 'older.pth'
    strip_position(straight['work'] / 'iter_3.pth', older)
    steps, runner = train(straight['config'], tmp_path / 'same', resume=True,
                          load_from=str(older))
    assert relative_difference(straight['params'], params(runner)) <= 1e-5
    with pytest.raises(UsageError, match='written before mmkamim recorded '
                       r'.* \(9 iterations per epoch then, 5 now\)'):
        train(straight['config'], tmp_path / 'eight', resume=True,
              load_from=str(older), **{'train_dataloader.batch_size': 8})


def test_mmengine_iteration_loop_refuses_another_layout(tmp_path, straight):
    config = tiny_vit_config(
        tmp_path, straight['folder'], 'kamim_vit-base_8xb256_in1k.py',
        RUN + ITERATION_BASED.replace('ResumableIterBasedTrainLoop',
                                      'IterBasedTrainLoop'))
    train(config, tmp_path / 'first', **{'train_cfg.max_iters': 3})
    with pytest.raises(UsageError, match="train_cfg.type="
                       "'ResumableIterBasedTrainLoop'"):
        train(config, tmp_path / 'eight', resume=True,
              load_from=str(tmp_path / 'first' / 'iter_3.pth'),
              **{'train_dataloader.batch_size': 8})


def test_positions_survive_weights_only_loading(straight):
    meta = torch.load(straight['work'] / 'iter_3.pth',
                      weights_only=True)['meta']
    assert meta['sample_position'] == dict(
        epoch=0, samples=12, world_size=1, batch_size=4, dataset_size=36,
        progress_schedule=False)
