"""A run asked to stop (SIGTERM, SIGUSR1) saves where it is, says so, exits
with 128 + the signal, and ``--resume`` ends where the straight run ends.

The signal is sent when the run has finished iteration K: a test hook in the
training process writes a file then and waits until the run has noted the
signal, so the stop is after iteration K exactly, on any machine. No test
waits for a length of time.
"""
import os
import os.path as osp
import signal
import socket
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT, build_runner, tiny_vit_config, wait_for_file
from mmengine.config import Config
from torch.utils.data import DataLoader, Dataset

from mmkamim.engine.hooks import PreemptionHook
from mmkamim.engine.hooks.preemption_hook import OutsideSignalsIgnored
from mmkamim.utils import UsageError

K = 6  # the stop comes after iteration 6: the 2nd of epoch 2

# Imported by the training processes (custom_imports).
STOP_AT = """
import os, signal, time
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class StopAt(Hook):
    priority = 'LOW'  # before PreemptionHook

    def __init__(self, iteration, wait_on_rank=0):
        self.iteration = iteration
        self.wait_on_rank = wait_on_rank

    def preemption(self, runner):
        return next(h for h in runner.hooks
                    if type(h).__name__ == 'PreemptionHook')

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 != self.iteration:
            return
        marker = os.path.join(runner.work_dir, f'reached_{runner.rank}')
        with open(marker + '.part', 'w') as f:
            f.write(str(os.getpid()))
        os.replace(marker + '.part', marker)
        if runner.rank == self.wait_on_rank:
            while self.preemption(runner).received is None:
                time.sleep(0.01)

    def before_save_checkpoint(self, runner, checkpoint):
        # A second signal while the interrupted run saves changes nothing.
        received = self.preemption(runner).received
        if received is not None:
            os.kill(os.getpid(), received)
"""

EPOCHS = """
train_dataloader.update(num_workers={workers},
                        persistent_workers={workers} > 0)
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=3)
default_hooks['checkpoint'] = dict(type='AtomicCheckpointHook', interval=1,
                                   max_keep_ckpts=1)
log_processor = dict(by_epoch=True)
param_scheduler = [dict(type='LinearLR', start_factor=0.5, by_epoch=False,
                        begin=0, end=12)]
"""


def parameters(checkpoint) -> torch.Tensor:
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    return torch.cat([value.flatten().float() for value in state.values()])


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / a.abs().max())


HOOKS = """
custom_imports = dict(imports=['mmkamim', 'stop_at'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook'),
                dict(type='ReproducibilityHook'),
                dict(type='LossScaleMonitorHook'),
                dict(type='PreemptionHook'),
                dict(type='StopAt', iteration={K}, wait_on_rank={rank})]
"""


@pytest.fixture(scope='module')
def straight(tmp_path_factory, image_folder):
    """The uninterrupted run's parameters (one process)."""
    tmp = tmp_path_factory.mktemp('straight')
    config = tiny_vit_config(tmp, image_folder,
                             'kamim_vit-base_8xb256_in1k.py',
                             EPOCHS.format(workers=0))
    build_runner(Config.fromfile(config), tmp / 'work').train()
    return parameters(tmp / 'work' / 'epoch_3.pth')


def stopping_config(tmp_path, image_folder, workers=0, rank=0, stop=K):
    """The straight run's config with the test hook, stopping after
    iteration ``stop``; the environment that imports the hook."""
    (tmp_path / 'stop_at.py').write_text(STOP_AT)
    config = tiny_vit_config(
        tmp_path, image_folder, 'kamim_vit-base_8xb256_in1k.py',
        EPOCHS.format(workers=workers) + HOOKS.format(K=stop, rank=rank))
    path = [str(tmp_path), os.environ.get('PYTHONPATH', '')]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, path)))
    return config, env


def resume_and_compare(command, work, expected, env, stop=K):
    done = subprocess.run(command + ['--resume'], capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f'resumed epoch: 1, iter: {stop}' in done.stdout + done.stderr
    assert relative_difference(expected,
                               parameters(work / 'epoch_3.pth')) <= 1e-5
    assert not (work / f'iter_{stop}.pth').exists()  # retired when replaced


@pytest.mark.slow
@pytest.mark.parametrize('name', ['SIGTERM', 'SIGUSR1'])
def test_a_signal_to_the_whole_job_saves_exits_and_resumes(
        tmp_path, image_folder, straight, name):
    """Signalled as Slurm does: the training process and its two dataloader
    workers (one process group)."""
    number = getattr(signal, name)
    config, env = stopping_config(tmp_path, image_folder, workers=2)
    work = tmp_path / 'work'
    command = [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'),
               config, '--work-dir', str(work)]
    log = tmp_path / 'log.txt'
    with open(log, 'w') as out:
        child = subprocess.Popen(command, stdout=out, stderr=out, env=env,
                                 start_new_session=True)
        wait_for_file(work / 'reached_0', child)
        os.killpg(child.pid, number)
        assert child.wait(timeout=600) == 128 + number
    text = log.read_text()
    assert f'{name} received: saving the run after iteration {K}' in text
    assert (f'stopped by {name} after iteration {K}; continue with '
            f'--resume (it picks {work / f"iter_{K}.pth"}). Exit code '
            f'{128 + number}') in text
    assert 'DataLoader worker' not in text  # the workers ignored it
    checkpoint = torch.load(work / f'iter_{K}.pth', weights_only=True)
    # The position: epoch 2 (index 1) is not finished.
    assert checkpoint['meta']['epoch'] == 1
    assert checkpoint['meta']['iter'] == K
    assert (work / 'last_checkpoint').read_text() == f'iter_{K}.pth'
    resume_and_compare(command, work, straight, env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('localhost', 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_stop_together_when_one_is_signalled(
        tmp_path, image_folder):
    # 2 iterations per epoch here: stop after the 1st of epoch 2.
    stop = 3
    config, env = stopping_config(tmp_path, image_folder, rank=1, stop=stop)
    env['OMP_NUM_THREADS'] = '1'

    def launch(work_dir, config=config):
        return [sys.executable, '-m', 'torch.distributed.run',
                '--nproc_per_node=2', f'--master_port={free_port()}',
                osp.join(REPO_ROOT, 'tools', 'train.py'), config,
                '--launcher', 'pytorch', '--work-dir', str(work_dir)]

    # Straight, for reference: the same two processes, without the hook.
    plain = tiny_vit_config(tmp_path, image_folder,
                            'kamim_vit-base_8xb256_in1k.py',
                            EPOCHS.format(workers=0))
    straight = subprocess.run(launch(tmp_path / 'straight', plain),
                              capture_output=True, text=True, timeout=600,
                              env=env)
    assert straight.returncode == 0, straight.stderr[-3000:]
    expected = parameters(tmp_path / 'straight' / 'epoch_3.pth')

    work = tmp_path / 'work'
    log = tmp_path / 'log.txt'
    with open(log, 'w') as out:
        child = subprocess.Popen(launch(work), stdout=out,
                                 stderr=out, env=env)
        wait_for_file(work / 'reached_1', child)
        os.kill(int((work / 'reached_1').read_text()), signal.SIGTERM)
        assert child.wait(timeout=600) != 0
    text = log.read_text()
    # Rank 0, not signalled, saved after the same iteration and stopped.
    assert f'stopped by SIGTERM after iteration {stop}' in text
    assert 'exitcode  : 143' in text and 'exitcode  : -' not in text
    assert 'Epoch(train) [2][2/2]' not in text
    checkpoint = torch.load(work / f'iter_{stop}.pth', weights_only=True)
    assert checkpoint['meta']['iter'] == stop
    resume_and_compare(launch(work), work, expected, env, stop)


class Numbers(Dataset):

    def __len__(self) -> int:
        return 64

    def __getitem__(self, index: int):
        return torch.tensor([index, os.getpid()])


def test_workers_ignore_outside_signals_and_still_stop_when_told(tmp_path):
    loader = DataLoader(
        Numbers(), batch_size=4, num_workers=2,
        worker_init_fn=OutsideSignalsIgnored({signal.SIGTERM,
                                              signal.SIGUSR1}))
    iterator = iter(loader)
    batches = [next(iterator) for _ in range(4)]
    workers = {int(p) for batch in batches for p in batch[:, 1]}
    assert len(workers) == 2
    # From another process, as Slurm signals a job step.
    subprocess.run(['kill', '-s', 'TERM'] + [str(p) for p in workers],
                   check=True)
    subprocess.run(['kill', '-s', 'USR1'] + [str(p) for p in workers],
                   check=True)
    rest = list(iterator)
    assert len(batches) + len(rest) == 16  # every batch arrived
    # Their parent still stops them (as at the end of a run).
    processes = list(iterator._workers)
    del iterator
    for process in processes:
        process.join(timeout=60)
        assert not process.is_alive()


def test_needs_the_atomic_checkpoint_hook_and_real_signals(
        tmp_path, image_folder):
    with pytest.raises(ValueError, match="'SIGKILL' is not a signal"):
        PreemptionHook(signals=['SIGKILL'])
    with pytest.raises(ValueError, match="'TERM' is not a signal"):
        PreemptionHook(signals=['TERM'])
    config = tiny_vit_config(
        tmp_path, image_folder, 'kamim_vit-base_8xb256_in1k.py',
        "default_hooks['checkpoint'] = dict(type='CheckpointHook')")
    with pytest.raises(UsageError, match="default_hooks.checkpoint.type="
                       "'AtomicCheckpointHook'"):
        build_runner(Config.fromfile(config), tmp_path / 'work').train()


def test_a_finished_run_gives_the_handlers_back(tmp_path, image_folder):
    before = signal.getsignal(signal.SIGTERM)
    config = tiny_vit_config(tmp_path, image_folder,
                             'kamim_vit-base_8xb256_in1k.py')
    runner = build_runner(Config.fromfile(config), tmp_path / 'work')
    runner.train()
    hook = next(h for h in runner.hooks if isinstance(h, PreemptionHook))
    assert hook.received is None
    assert signal.getsignal(signal.SIGTERM) is before


# A stopped evaluation whose shutdown receives SIGTERM again, as a rank
# does when torchrun sees another rank exit first. Python restores the
# default handlers before it clears the modules, so the object's __del__
# signals the process when no Python handler can note it any more.
LATE_SIGNAL = """
import os, signal, sys
from types import SimpleNamespace
from mmkamim.engine.hooks import PreemptionHook


class SignalsAtShutdown:

    def __del__(self, kill=os.kill, pid=os.getpid(), number=signal.SIGTERM,
                write=sys.stdout.write):
        write('signalled at shutdown\\n')
        kill(pid, number)


late = SignalsAtShutdown()
runner = SimpleNamespace(_train_loop=None, _val_loop=None, _test_loop=None)
hook = PreemptionHook()
hook.before_run(runner)
os.kill(os.getpid(), signal.SIGTERM)
hook.after_val(runner)
"""


def test_a_signal_during_the_exit_after_a_stop_changes_nothing(tmp_path):
    script = tmp_path / 'late_signal.py'
    script.write_text(LATE_SIGNAL)
    done = subprocess.run([sys.executable, str(script)], capture_output=True,
                          text=True, timeout=600)
    assert 'signalled at shutdown' in done.stdout
    assert done.returncode == 143, done.stderr[-2000:]
