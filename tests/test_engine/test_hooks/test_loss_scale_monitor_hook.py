"""fp16 training through mmengine's Runner counts and reports skipped steps.

mmengine's ``AmpOptimWrapper`` refuses to build without CUDA, so the runs
here use a CPU twin of it: the same class with float16 CPU autocast and
``torch.amp.GradScaler('cpu')``. A tiny KAMIM ViT trains at T = 0.1
(weights up to e^10), where the scaler starts at 2^16 and skips the first
steps until the gradients fit.
"""
import glob
from contextlib import contextmanager

import pytest
import torch
from conftest import tiny_vit_config, train_in_process
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS

from mmkamim.engine.hooks import LossScaleMonitorHook

# Loss values and skipped steps depend on float rounding.
pytestmark = pytest.mark.numerics


@OPTIM_WRAPPERS.register_module(force=True)
class CPUFloat16AmpOptimWrapper(AmpOptimWrapper):
    """``AmpOptimWrapper`` with float16 autocast on the CPU."""

    def __init__(self, loss_scale='dynamic', **kwargs) -> None:
        OptimWrapper.__init__(self, **kwargs)
        if loss_scale == 'dynamic':
            self._scale_update_param = None
            self.loss_scaler = torch.amp.GradScaler('cpu')
        else:
            self._scale_update_param = loss_scale
            self.loss_scaler = torch.amp.GradScaler('cpu',
                                                    init_scale=loss_scale)
        self.cast_dtype = torch.float16

    @contextmanager
    def optim_context(self, model):
        with OptimWrapper.optim_context(self, model), torch.autocast(
                'cpu', dtype=torch.float16):
            yield


def fp16_config(tmp_path, image_folder, hook: str) -> str:
    return tiny_vit_config(
        tmp_path, image_folder, 'kamim_vit-base_8xb256_in1k.py', f"""
model['data_preprocessor'] = dict(temperature=0.1)
optim_wrapper = dict(type='CPUFloat16AmpOptimWrapper')
train_cfg['max_iters'] = 40
param_scheduler = []
default_hooks['checkpoint']['interval'] = 40
custom_hooks = [dict(type='WeightsOnlyCheckpointHook'),
                dict(type='ReproducibilityHook'), {hook}]
""")


def log_text(work_dir) -> str:
    return ''.join(open(path).read()
                   for path in glob.glob(f'{work_dir}/*/*.log'))


def monitor(runner) -> LossScaleMonitorHook:
    return next(h for h in runner.hooks
                if isinstance(h, LossScaleMonitorHook))


@pytest.mark.slow  # 40 steps at T = 0.1, about 40 s
@pytest.mark.numerics
def test_skipped_steps_are_the_steps_adamw_did_not_take(
        tmp_path, image_folder):
    config = fp16_config(
        tmp_path, image_folder,
        "dict(type='LossScaleMonitorHook', warmup_iters=20, window=20)")
    runner = train_in_process(config, tmp_path / 'work')
    hook = monitor(runner)
    # GradScaler skips optimizer.step() itself: AdamW counts only the steps
    # it took.
    param = next(iter(runner.model.parameters()))
    taken = int(runner.optim_wrapper.optimizer.state[param]['step'])
    assert hook.steps == 40
    assert hook.skipped == 40 - taken > 0
    hub = runner.message_hub
    assert hub.get_scalar('train/amp_skipped').current() == hook.skipped
    scaler = runner.optim_wrapper.loss_scaler
    assert hub.get_scalar('train/amp_scale').current() == scaler.get_scale()
    assert scaler.get_scale() < 2.0**16  # it did come down
    # Settled after the warm-up: no warning.
    assert hook.late_skipped == 0
    log = log_text(tmp_path / 'work')
    assert 'max_skip_ratio' not in log
    assert (f'loss scaler: {hook.skipped} of 40 optimizer steps skipped; '
            'after iteration 20: 0 of 20 (0.00 %)') in log
    assert 'amp_skipped: ' in log


def test_too_many_skips_warn_or_stop(tmp_path, image_folder):
    # Counting from the first iteration, the settling skips are too many.
    strict = ("dict(type='LossScaleMonitorHook', warmup_iters=0, window=5, "
              'max_skip_ratio=0.2{})')
    runner = train_in_process(
        fp16_config(tmp_path, image_folder, strict.format('')),
        tmp_path / 'warn', **{'train_cfg.max_iters': 5})
    assert monitor(runner).skipped >= 2
    assert ('optimizer steps (more than max_skip_ratio=0.2): the gradients '
            'keep overflowing') in log_text(tmp_path / 'warn')
    with pytest.raises(RuntimeError, match='--amp-dtype bfloat16'):
        train_in_process(
            fp16_config(tmp_path, image_folder, strict.format(', stop=True')),
            tmp_path / 'stop', **{'train_cfg.max_iters': 5})


def test_float32_runs_and_static_scales_are_left_alone(tmp_path,
                                                      image_folder):
    config = tiny_vit_config(tmp_path, image_folder,
                             'kamim_vit-base_8xb256_in1k.py')
    runner = train_in_process(config, tmp_path / 'fp32')
    assert monitor(runner).steps == 0
    assert 'train/amp_scale' not in runner.message_hub.log_scalars
    assert 'loss scaler' not in log_text(tmp_path / 'fp32')

    static = fp16_config(tmp_path, image_folder,
                         "dict(type='LossScaleMonitorHook')")
    runner = train_in_process(static, tmp_path / 'static', **{
        'train_cfg.max_iters': 2, 'optim_wrapper.loss_scale': 64.0})
    assert monitor(runner).steps == 0
    assert 'the loss scale is static' in log_text(tmp_path / 'static')


@pytest.mark.parametrize('kwargs', [
    dict(warmup_iters=-1), dict(window=0), dict(max_skip_ratio=1.0),
    dict(max_skip_ratio=-0.1)])
def test_bad_settings_are_named(kwargs):
    name, value = next(iter(kwargs.items()))
    with pytest.raises(ValueError, match=f'{name} must be .*{value}'):
        LossScaleMonitorHook(**kwargs)
