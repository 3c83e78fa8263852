"""A run whose loss goes inf/NaN stops at that iteration, with its cause,
and writes nothing non-finite."""
import math
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT, build_runner, tiny_vit_config
from mmengine.config import Config
from mmengine.hooks import Hook
from test_loss_scale_monitor_hook import CPUFloat16AmpOptimWrapper

from mmkamim.engine.hooks import NonFiniteLossHook

EVERY_ITERATION = """
train_cfg['max_iters'] = 6
default_hooks['checkpoint'] = dict(type='AtomicCheckpointHook', interval=1,
                                   by_epoch=False, max_keep_ckpts=-1)
"""


class NaNFrom(Hook):
    """Make the loss NaN from an iteration on (on the given ranks)."""

    def __init__(self, iteration: int, ranks=(0, )) -> None:
        self.iteration = iteration
        self.ranks = ranks

    def before_train(self, runner) -> None:
        model, hook = runner.model, self
        loss = model.loss

        def nan_loss(*args, **kwargs):
            losses = loss(*args, **kwargs)
            if runner.iter + 1 >= hook.iteration and \
                    runner.rank in hook.ranks:
                losses['loss'] = losses['loss'] * math.nan
            return losses

        model.loss = nan_loss


def config(tmp_path, image_folder, extra=''):
    return Config.fromfile(tiny_vit_config(
        tmp_path, image_folder, 'kamim_vit-base_8xb256_in1k.py',
        EVERY_ITERATION + extra))


def all_finite(checkpoint) -> bool:
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    return all(torch.isfinite(v).all() for v in state.values())


def test_a_huge_learning_rate_stops_before_a_nan_checkpoint(
        tmp_path, image_folder):
    cfg = config(tmp_path, image_folder)
    cfg.optim_wrapper.optimizer.lr = 1e30
    cfg.param_scheduler = []
    work = tmp_path / 'work'
    with pytest.raises(RuntimeError) as error:
        build_runner(cfg, work).train()
    message = str(error.value)
    # One step of lr 1e30 leaves the parameters unusable: iteration 2.
    assert message.startswith("iteration 2: loss term 'loss' is nan")
    assert 'lr=1e+30 now' in message and 'temperature T=0.25' in message
    assert f'The last complete checkpoint is {work / "iter_1.pth"}' in \
        message
    assert sorted(f for f in os.listdir(work) if f.endswith('.pth')) == \
        ['iter_1.pth']
    assert all_finite(work / 'iter_1.pth')


def test_a_non_finite_gradient_norm_stops_too(tmp_path, image_folder):
    cfg = config(tmp_path, image_folder)

    class InfiniteGradient(Hook):

        def before_train(self, runner):
            param = next(runner.model.parameters())
            param.register_hook(
                lambda grad: grad * math.inf if runner.iter + 1 >= 3 else
                grad)

    runner = build_runner(cfg, tmp_path / 'work')
    runner.register_hook(InfiniteGradient())
    with pytest.raises(RuntimeError, match=r'^iteration 3: gradient norm '
                       r'\(grad_norm\) is (inf|nan)'):
        runner.train()
    assert not (tmp_path / 'work' / 'iter_3.pth').exists()


def test_with_amp_it_stops_after_patience(tmp_path, image_folder):
    assert CPUFloat16AmpOptimWrapper  # registered for the config below
    cfg = config(tmp_path, image_folder, """
optim_wrapper = dict(type='CPUFloat16AmpOptimWrapper')
train_cfg['max_iters'] = 10
""")
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type != 'NonFiniteLossHook'] + [
                            dict(type='NonFiniteLossHook', amp_patience=3)]
    runner = build_runner(cfg, tmp_path / 'work')
    runner.register_hook(NaNFrom(2))
    with pytest.raises(RuntimeError) as error:
        runner.train()
    assert str(error.value).startswith(
        "iteration 4: loss term 'loss' is nan, for 3 consecutive iterations "
        '(the loss scaler skipped every one)')
    assert '--amp-dtype bfloat16' in str(error.value)
    assert not (tmp_path / 'work' / 'iter_4.pth').exists()
    assert all_finite(tmp_path / 'work' / 'iter_3.pth')


def test_bad_patience_is_named():
    with pytest.raises(ValueError, match='amp_patience must be an integer '
                       '>= 1, got 0'):
        NonFiniteLossHook(amp_patience=0)


NAN_ON_RANK_1 = '''
import math
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class NaNOnRank1(Hook):

    def before_train(self, runner):
        loss = runner.model.module.loss

        def nan_loss(*args, **kwargs):
            losses = loss(*args, **kwargs)
            if runner.iter + 1 >= 3 and runner.rank == 1:
                losses['loss'] = losses['loss'] * math.nan
            return losses

        runner.model.module.loss = nan_loss
'''


@pytest.mark.slow
def test_all_ranks_stop_when_one_goes_nan(tmp_path, image_folder):
    (tmp_path / 'nan_on_rank_1.py').write_text(NAN_ON_RANK_1)
    path = tiny_vit_config(tmp_path, image_folder,
                           'kamim_vit-base_8xb256_in1k.py',
                           EVERY_ITERATION + """
custom_imports = dict(imports=['mmkamim', 'nan_on_rank_1'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook'),
                dict(type='ReproducibilityHook'),
                dict(type='NonFiniteLossHook'), dict(type='NaNOnRank1')]
""")
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    work = tmp_path / 'work'
    done = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
         f'--master_port={port}', osp.join(REPO_ROOT, 'tools', 'train.py'),
         path, '--launcher', 'pytorch', '--work-dir', str(work)],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=str(tmp_path), OMP_NUM_THREADS='1'))
    assert done.returncode != 0
    # Rank 0's loss was finite: its log names rank 1's.
    assert "rank 1: loss term 'loss' is nan" in done.stdout + done.stderr
    assert sorted(f for f in os.listdir(work) if f.endswith('.pth')) == [
        'iter_1.pth', 'iter_2.pth']
    assert all_finite(work / 'iter_2.pth')


def test_train_py_exits_non_zero_and_says_why_last(tmp_path, image_folder):
    path = tiny_vit_config(tmp_path, image_folder,
                           'kamim_vit-base_8xb256_in1k.py', EVERY_ITERATION)
    work = tmp_path / 'work'
    done = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), path,
         '--work-dir', str(work), '--cfg-options',
         'optim_wrapper.optimizer.lr=1e30', 'param_scheduler=[]'],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    log = next(work.glob('*/*.log')).read_text().strip().splitlines()
    assert "iteration 2: loss term 'loss' is nan" in log[-1]
