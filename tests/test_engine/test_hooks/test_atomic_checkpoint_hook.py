"""A kill at any moment of a save leaves a complete checkpoint that
``--resume`` picks, and the resumed run ends where the straight one does.

A tiny KAMIM ViT trains 6 iterations with a checkpoint every 2 and
``max_keep_ckpts=1`` (as the demo configs), where mmengine's hook deletes
``iter_2.pth`` before it writes ``iter_4.pth``. The save of ``iter_4.pth``
fails at each step in turn; the work dir is then copied elsewhere (the
original removed) and resumed there.
"""
import errno
import glob
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import (
    REPO_ROOT,
    build_runner,
    tiny_demo_config,
    tiny_vit_config,
    wait_for_file,
)
from mmengine.config import Config
from mmengine.fileio import LocalBackend
from mmengine.hooks import Hook
from mmengine.runner import Runner

import mmkamim.engine.hooks.atomic_checkpoint_hook as atomic
from mmkamim.engine.runners import CheckedRunner
from mmkamim.utils import UsageError
from mmkamim.utils.checkpoint_files import latest_checkpoint, tensor_bytes

SIX_ITERATIONS = """
train_cfg['max_iters'] = 6
param_scheduler = [dict(type='LinearLR', start_factor=0.5, by_epoch=False,
                        begin=0, end=6)]
default_hooks['checkpoint'] = dict(type='AtomicCheckpointHook', interval=2,
                                   by_epoch=False, max_keep_ckpts=1)
"""


class Killed(Exception):
    """Stands for the process dying at the injected point."""


class FirstIteration(Hook):

    def before_train(self, runner) -> None:
        self.start = runner.iter


def parameters(checkpoint) -> torch.Tensor:
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    return torch.cat([value.flatten().float() for value in state.values()])


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / a.abs().max())


@pytest.fixture(scope='module')
def six_iterations(tmp_path_factory, image_folder):
    """The config, and the parameters of the uninterrupted run."""
    tmp = tmp_path_factory.mktemp('atomic')
    config = tiny_vit_config(tmp, image_folder,
                             'kamim_vit-base_8xb256_in1k.py', SIX_ITERATIONS)
    build_runner(Config.fromfile(config), tmp / 'straight').train()
    return config, parameters(tmp / 'straight' / 'iter_6.pth')


def train(config, work_dir, resume=False):
    cfg = Config.fromfile(config)
    cfg.resume = resume
    runner = build_runner(cfg, work_dir)
    first = FirstIteration()
    runner.register_hook(first)
    runner.train()
    return first.start


def at_iter_4(function, before: bool):
    """``function``, failing before or after it runs when it handles
    ``iter_4.pth``."""

    def failing(*args):
        if before and 'iter_4.pth' in str(args):
            raise Killed
        result = function(*args)
        if 'iter_4.pth' in str(args):
            raise Killed
        return result

    return failing


def remove_before_failing(self, paths):
    if any('iter_2.pth' in p for p in paths):
        raise Killed
    return REMOVE(self, paths)


REMOVE = atomic.AtomicCheckpointHook._remove


@pytest.mark.parametrize('point, resumed_from, patch', [
    ('temporary file written', 2,
     lambda mp: mp.setattr(atomic, 'publish', at_iter_4(atomic.publish,
                                                         before=True))),
    ('renamed', 2,
     lambda mp: mp.setattr(atomic, 'publish', at_iter_4(atomic.publish,
                                                         before=False))),
    ('last_checkpoint written', 4,
     lambda mp: mp.setattr(atomic, 'write_last_checkpoint',
                           at_iter_4(atomic.write_last_checkpoint,
                                     before=False))),
    ('retired file not yet removed', 4,
     lambda mp: mp.setattr(atomic.AtomicCheckpointHook, '_remove',
                           remove_before_failing)),
])
def test_a_save_killed_at_any_step_resumes_exactly(
        tmp_path, six_iterations, monkeypatch, point, resumed_from, patch):
    config, expected = six_iterations
    with monkeypatch.context() as mp:
        patch(mp)
        with pytest.raises(Killed):
            train(config, tmp_path / 'killed')
    # Whatever the step, the work dir holds the checkpoint last_checkpoint
    # names, complete.
    killed = tmp_path / 'killed'
    assert osp.basename(latest_checkpoint(str(killed))) == \
        f'iter_{resumed_from}.pth'
    torch.load(latest_checkpoint(str(killed)), weights_only=True)

    # Copied elsewhere, the work dir resumes from its own files.
    moved = tmp_path / 'moved'
    shutil.copytree(killed, moved)
    shutil.rmtree(killed)
    assert train(config, moved, resume=True) == resumed_from
    assert relative_difference(expected,
                               parameters(moved / 'iter_6.pth')) <= 1e-5
    # Nothing left over: no temporary file, no retired checkpoint.
    files = [f for f in os.listdir(moved) if osp.isfile(moved / f)]
    assert sorted(files) == sorted(
        ['iter_6.pth', 'last_checkpoint', osp.basename(config)])
    assert (moved / 'last_checkpoint').read_text() == 'iter_6.pth'


def test_last_checkpoint_is_read_in_both_forms_and_names_a_lost_file(
        tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    assert latest_checkpoint(str(work)) is None
    (work / 'iter_2.pth').write_bytes(b'')
    (work / 'last_checkpoint').write_text(str(work / 'iter_2.pth'))
    assert latest_checkpoint(str(work)) == str(work / 'iter_2.pth')
    (work / 'last_checkpoint').write_text('iter_2.pth')
    assert latest_checkpoint(str(work)) == str(work / 'iter_2.pth')
    (work / 'last_checkpoint').write_text('iter_4.pth')
    with pytest.raises(UsageError,
                       match=r'names iter_4.pth, which does not exist. '
                       r'Resume from one of the checkpoints the work dir '
                       r'holds \(iter_2.pth\)'):
        latest_checkpoint(str(work))


def test_mmengine_resumes_from_what_resume_from_sets(tmp_path,
                                                   image_folder,
                                                   monkeypatch):
    """The contract resume_from relies on: a resuming Runner's
    load_or_resume resumes from the private attribute it sets."""
    cfg = Config.fromfile(tiny_vit_config(tmp_path, image_folder,
                                          'kamim_vit-base_8xb256_in1k.py'))
    cfg.resume = True
    runner = build_runner(cfg, tmp_path / 'work')
    resumed = []
    monkeypatch.setattr(runner, 'resume', resumed.append)
    atomic.resume_from(runner, str(tmp_path / 'iter_2.pth'))
    runner.load_or_resume()
    assert resumed == [str(tmp_path / 'iter_2.pth')]


HALF_WRITTEN = """
import os, runpy, sys, time
from mmengine.fileio.backends.local_backend import LocalBackend
put = LocalBackend.put


def half_then_hang(self, obj, filepath):
    if str(filepath).endswith('iter_4.pth.partial'):
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
            f.flush()
            time.sleep(3600)
    return put(self, obj, filepath)


LocalBackend.put = half_then_hang
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


@pytest.mark.slow
def test_sigkill_in_the_middle_of_writing(tmp_path, six_iterations):
    """A real ``kill -9`` while the checkpoint file is half written."""
    config, expected = six_iterations
    wrapper = tmp_path / 'half_written.py'
    wrapper.write_text(HALF_WRITTEN)
    work = tmp_path / 'work'
    train_py = osp.join(REPO_ROOT, 'tools', 'train.py')
    child = subprocess.Popen(
        [sys.executable, str(wrapper), train_py, config, '--work-dir',
         str(work)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = work / '.iter_4.pth.partial'
    wait_for_file(partial, child)
    while partial.stat().st_size == 0:  # the first half is being written
        assert child.poll() is None
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert (work / 'last_checkpoint').read_text() == 'iter_2.pth'
    done = subprocess.run(
        [sys.executable, train_py, config, '--work-dir', str(work),
         '--resume'], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert relative_difference(expected,
                               parameters(work / 'iter_6.pth')) <= 1e-5
    assert glob.glob(str(work / '.*.partial')) == []


def test_a_failed_best_save_keeps_the_former_best(tmp_path, photo_dataset,
                                                  kamim_checkpoint,
                                                  monkeypatch):
    """``save_best``: the former best goes only once the new one is in
    place (mmengine removes it first)."""
    cfg = Config.fromfile(
        tiny_demo_config(tmp_path, photo_dataset,
                         'vit-micro-p16_1xb32-linear_photos-96px.py'))
    cfg.model.backbone.init_cfg.checkpoint = kamim_checkpoint
    cfg.default_hooks.checkpoint.save_best = 'auto'
    runner = build_runner(cfg, tmp_path / 'probe')
    runner.train()  # validates after epoch 2: the first best
    hook = next(h for h in runner.hooks
                if isinstance(h, atomic.AtomicCheckpointHook))
    best = hook.best_ckpt_path
    assert osp.basename(best) == 'best_accuracy_top1_epoch_2.pth'

    def killed(*args):
        raise Killed

    with monkeypatch.context() as mp:
        mp.setattr(atomic, 'publish', killed)
        with pytest.raises(Killed):
            hook._save_best_checkpoint(runner, {'accuracy/top1': 101.0})
    torch.load(best, weights_only=True)  # still there, complete

    # A better score: the new best is written, then the former removed
    # (here under another name, as after a later epoch).
    former = osp.join(osp.dirname(best), 'best_accuracy_top1_epoch_1.pth')
    shutil.copy(best, former)
    hook.best_ckpt_path = former
    hook._save_best_checkpoint(runner, {'accuracy/top1': 102.0})
    assert not osp.exists(former)
    assert hook.best_ckpt_path == best
    torch.load(best, weights_only=True)


class BestScore(Hook):
    """Make every validation of the run a new best."""

    priority = 'HIGHEST'  # before CheckpointHook reads the metrics

    def after_val_epoch(self, runner, metrics=None) -> None:
        metrics['accuracy/top1'] = 100.0 + runner.epoch


@pytest.mark.parametrize('stored', ['relative', 'absolute (mmengine)'])
def test_a_copied_work_dir_never_touches_the_original(
        tmp_path, photo_dataset, kamim_checkpoint, stored):
    """``save_best`` resumed in a copy of the work dir: the copy's former
    best goes, the original's stays (mmengine removed the original's,
    whose absolute path the message hub kept)."""
    config = tiny_demo_config(
        tmp_path, photo_dataset, 'vit-micro-p16_1xb32-linear_photos-96px.py',
        "train_cfg = dict(max_epochs=2, val_interval=1)\n"
        "default_hooks = dict(checkpoint=dict(interval=1, "
        "save_best='auto'))")
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg.checkpoint = kamim_checkpoint
    original = tmp_path / 'original'
    runner = build_runner(cfg, original)
    runner.register_hook(BestScore())
    runner.train()
    best = original / 'best_accuracy_top1_epoch_2.pth'
    assert best.exists()
    saved = torch.load(original / 'epoch_2.pth', weights_only=True)
    assert saved['message_hub']['runtime_info']['best_ckpt'] == best.name
    copy = tmp_path / 'copy'
    shutil.copytree(original, copy)
    if stored != 'relative':  # as mmengine and earlier versions wrote it
        saved['message_hub']['runtime_info']['best_ckpt'] = str(best)
        torch.save(saved, copy / 'epoch_2.pth')

    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg.checkpoint = kamim_checkpoint
    cfg.train_cfg.max_epochs = 3
    cfg.resume = True
    runner = build_runner(cfg, copy)
    runner.register_hook(BestScore())
    runner.train()
    assert best.exists()  # the original's, untouched
    assert sorted(p.name for p in copy.glob('best_*.pth')) == [
        'best_accuracy_top1_epoch_3.pth']


def full_disk_at_iter_4(put):
    """LocalBackend.put that writes half of iter_4.pth's bytes, then finds
    the disk full."""

    def writing(self, obj, filepath):
        if 'iter_4.pth' not in str(filepath):
            return put(self, obj, filepath)
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filepath)

    return writing


def test_a_full_disk_stops_with_one_line_and_leaves_nothing(
        tmp_path, six_iterations, monkeypatch):
    config, _ = six_iterations
    work = tmp_path / 'work'
    monkeypatch.setattr(LocalBackend, 'put', full_disk_at_iter_4(
        LocalBackend.put))
    with pytest.raises(UsageError) as error:
        train(config, work)
    message = str(error.value)
    assert message.startswith(f'cannot write {work / "iter_4.pth"}: No '
                              'space left on device. It needs ')
    needed, free = (int(n.replace(',', '')) for n in re.findall(
        r'([\d,]+) (?:bytes|are free)', message))
    # The tensors of the checkpoint it was writing: about those of
    # iter_2.pth (the logged values differ).
    saved = tensor_bytes(torch.load(work / 'iter_2.pth', weights_only=True))
    assert 0.95 * saved <= needed <= 1.05 * saved
    assert free > 0
    assert 'max_keep_ckpts' in message and '--resume' in message
    assert glob.glob(str(work / '.*.partial')) == []
    assert (work / 'last_checkpoint').read_text() == 'iter_2.pth'


def test_a_full_disk_at_the_flush_leaves_nothing(tmp_path, six_iterations,
                                                 monkeypatch):
    config, _ = six_iterations

    def full_at_flush(partial, path):
        if 'iter_4.pth' in path:
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), partial)
        return PUBLISH(partial, path)

    monkeypatch.setattr(atomic, 'publish', full_at_flush)
    with pytest.raises(UsageError, match='iter_4.pth: Disk quota exceeded'):
        train(config, tmp_path / 'work')
    assert glob.glob(str(tmp_path / 'work' / '.*.partial')) == []


PUBLISH = atomic.publish


def test_resume_on_a_full_disk_removes_the_partial_file_first(
        tmp_path, six_iterations, monkeypatch):
    """The disk is full as long as a cut-off write's temporary file is
    there (mmengine writes the config's copy before any hook runs)."""
    config, expected = six_iterations
    work = tmp_path / 'work'
    cfg = Config.fromfile(config)
    cfg.train_cfg.max_iters = 4
    build_runner(cfg, work).train()
    # Left by a save of iter_6.pth that filled the disk and was killed.
    (work / '.iter_6.pth.partial').write_bytes(b'\0' * 1000)
    dump = Runner.dump_config

    def dump_unless_full(self):
        if glob.glob(str(work / '.*.partial')):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return dump(self)

    monkeypatch.setattr(Runner, 'dump_config', dump_unless_full)
    cfg = Config.fromfile(config)
    cfg.resume = True
    build_runner(cfg, work, runner_class=CheckedRunner).train()
    assert relative_difference(expected,
                               parameters(work / 'iter_6.pth')) <= 1e-5
