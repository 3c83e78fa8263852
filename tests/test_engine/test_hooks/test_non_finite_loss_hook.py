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
from mmkamim.engine.runners import CheckedRunner

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


def test_a_step_that_overflows_the_parameters_is_never_saved(
        tmp_path, image_folder):
    # Iteration 1's loss is finite; its fused AdamW step (as
    # tools/train.py's runner takes it) of lr 1e45, without clipping,
    # overflows float32, and iter_1.pth would hold -inf.
    cfg = config(tmp_path, image_folder)
    cfg.optim_wrapper.optimizer.lr = 1e45
    cfg.optim_wrapper.clip_grad = None
    cfg.param_scheduler = []
    work = tmp_path / 'work'
    with pytest.raises(RuntimeError) as error:
        build_runner(cfg, work, runner_class=CheckedRunner).train()
    message = str(error.value)
    assert message.startswith(
        'the parameters or optimizer state are not finite after the last '
        'optimizer step: ')
    assert 'Stopping before iter_1.pth is written' in message
    assert 'lr=1e+45 now' in message
    assert message.endswith('No checkpoint was written yet')
    assert not list(work.glob('*.pth')) and not list(work.glob('.*'))


class OverflowAt(Hook):
    """Give the optimizer a learning rate that overflows the parameters
    at one iteration (1-based)."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.iteration:
            for group in runner.optim_wrapper.param_groups:
                group['lr'] = 1e45


def test_the_good_checkpoint_stays_and_is_named(tmp_path, image_folder):
    # max_keep_ckpts=1: mmengine would delete iter_2.pth before writing
    # the overflowed iter_3.pth.
    cfg = config(tmp_path, image_folder)
    cfg.default_hooks.checkpoint.max_keep_ckpts = 1
    cfg.optim_wrapper.clip_grad = None
    cfg.param_scheduler = []
    work = tmp_path / 'work'
    runner = build_runner(cfg, work, runner_class=CheckedRunner)
    runner.register_hook(OverflowAt(3))
    with pytest.raises(RuntimeError) as error:
        runner.train()
    assert 'Stopping before iter_3.pth is written' in str(error.value)
    assert str(error.value).endswith(
        f'The last complete checkpoint is {work / "iter_2.pth"}')
    assert sorted(p.name for p in work.glob('*.pth')) == ['iter_2.pth']
    assert all_finite(work / 'iter_2.pth')


class OtherBackend(Hook):
    """Make AtomicCheckpointHook save as on a remote storage backend."""

    priority = 'LOWEST'  # after its before_train

    def before_train(self, runner) -> None:
        hook = next(h for h in runner.hooks
                    if type(h).__name__ == 'AtomicCheckpointHook')
        hook._atomic = False


def test_other_storage_backends_are_checked_too(tmp_path, image_folder):
    cfg = config(tmp_path, image_folder)
    cfg.optim_wrapper.clip_grad = None
    cfg.param_scheduler = []
    work = tmp_path / 'work'
    runner = build_runner(cfg, work, runner_class=CheckedRunner)
    runner.register_hook(OverflowAt(3))
    runner.register_hook(OtherBackend())
    with pytest.raises(RuntimeError, match='Stopping before iter_3.pth is '
                       'written'):
        runner.train()
    assert not (work / 'iter_3.pth').exists()
    assert all_finite(work / 'iter_2.pth')


def test_the_message_never_names_a_non_finite_checkpoint(tmp_path):
    """A checkpoint written before the check (or by another tool) that
    holds NaN is passed over for the newest finite one."""
    from mmkamim.utils.checkpoint_files import (
        last_finite_checkpoint,
        write_last_checkpoint,
    )
    good = dict(state_dict=dict(w=torch.ones(2)),
                optimizer=dict(state={0: dict(exp_avg=torch.ones(2))}))
    torch.save(good, tmp_path / 'iter_1.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(2)),
                    optimizer=dict(state={0: dict(
                        exp_avg=torch.tensor([1.0, math.nan]))})),
               tmp_path / 'iter_2.pth')
    os.utime(tmp_path / 'iter_1.pth', (1, 1))
    write_last_checkpoint(str(tmp_path), str(tmp_path / 'iter_2.pth'))
    assert last_finite_checkpoint(str(tmp_path)) == str(
        tmp_path / 'iter_1.pth')
    (tmp_path / 'iter_1.pth').unlink()
    assert last_finite_checkpoint(str(tmp_path)) is None


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
    # The loss scaler skipped the steps of iterations 2 and 3: their
    # checkpoints pass the pre-save check and are written.
    for name in ('iter_2.pth', 'iter_3.pth'):
        assert all_finite(tmp_path / 'work' / name)


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


POISON_ON_RANK_1 = '''
import math
import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class PoisonOnRank1(Hook):
    """After iteration 2's step, rank 1's class token overflows."""

    priority = 'HIGHEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == 2 and runner.rank == 1:
            with torch.no_grad():
                runner.model.module.backbone.cls_token.fill_(math.inf)
'''


@pytest.mark.slow
def test_all_ranks_stop_before_saving_one_rank_s_overflow(tmp_path,
                                                          image_folder):
    (tmp_path / 'poison_on_rank_1.py').write_text(POISON_ON_RANK_1)
    path = tiny_vit_config(tmp_path, image_folder,
                           'kamim_vit-base_8xb256_in1k.py',
                           EVERY_ITERATION + """
custom_imports = dict(imports=['mmkamim', 'poison_on_rank_1'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook'),
                dict(type='ReproducibilityHook'),
                dict(type='NonFiniteLossHook'), dict(type='PoisonOnRank1')]
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
    output = done.stdout + done.stderr
    # Both ranks stop; rank 0's own state was finite.
    assert output.count('Stopping before iter_2.pth is written') >= 2
    assert 'rank 1: 1 tensor (backbone.cls_token)' in output
    assert sorted(f for f in os.listdir(work) if f.endswith('.pth')) == [
        'iter_1.pth']
    assert f'The last complete checkpoint is {work / "iter_1.pth"}' in output


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
