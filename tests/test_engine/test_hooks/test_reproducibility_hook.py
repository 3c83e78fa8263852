"""Interrupted runs resume exactly: epoch checkpoints, and kill -9 mid-epoch.

A tiny KAMIM ViT trains 2 epochs of 4 iterations with 2 persistent
dataloader workers and the default ``seed=None``. Training it straight, and
training it 1 epoch (or killing it in the 2nd) then resuming, must end with
the same parameters.
"""
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch
from conftest import (
    REPO_ROOT,
    tiny_vit_config,
    train_in_process,
    wait_for_file,
)

EPOCHS = """
train_dataloader.update(num_workers=2, persistent_workers=True)
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=2)
default_hooks['checkpoint'] = dict(type='AtomicCheckpointHook', interval=1)
log_processor = dict(by_epoch=True)
randomness = dict(seed=None, deterministic=True)
# The fused AdamW tools/train.py's runner picks; the in-process runs use
# mmengine's Runner, which would step the plain loop.
optim_wrapper = dict(optimizer=dict(fused=True))
"""


def parameters(checkpoint) -> torch.Tensor:
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    return torch.cat([value.flatten().float() for value in state.values()])


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / a.abs().max())


@pytest.mark.slow
@pytest.mark.numerics
def test_resume_from_an_epoch_checkpoint_and_after_kill_9(tmp_path,
                                                          image_folder):
    config = tiny_vit_config(tmp_path, image_folder,
                             'kamim_vit-base_8xb256_in1k.py', EPOCHS)
    straight = tmp_path / 'straight'
    train_in_process(config, straight)
    seed = torch.load(straight / 'epoch_2.pth',
                      weights_only=True)['meta']['seed']
    expected = parameters(straight / 'epoch_2.pth')

    # 1 epoch, then --resume for the 2nd; the seed the first run drew (here
    # forced to the straight run's) must come back from the checkpoint.
    resumed = tmp_path / 'resumed'
    train_in_process(config, resumed, **{'randomness.seed': seed,
                              'train_cfg.max_epochs': 1})
    train_in_process(config, resumed, resume=True)
    assert relative_difference(expected,
                               parameters(resumed / 'epoch_2.pth')) <= 1e-5

    # Killed mid-epoch with iteration checkpoints, resumed from the last.
    killed = tmp_path / 'killed'
    command = [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'),
               config, '--work-dir', str(killed), '--cfg-options',
               'default_hooks.checkpoint.by_epoch=False']
    child = subprocess.Popen(command + [f'randomness.seed={seed}'],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    wait_for_file(killed / 'iter_6.pth', child)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not (killed / 'iter_8.pth').exists()  # stopped in epoch 2
    done = subprocess.run(command + ['--resume'], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert 'resumed epoch: 1, iter: ' in log
    assert relative_difference(expected,
                               parameters(killed / 'iter_8.pth')) <= 1e-5
