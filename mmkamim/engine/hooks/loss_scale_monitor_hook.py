"""Count the optimizer steps that mixed precision's loss scaler skips.

With ``--amp`` (mmengine's ``AmpOptimWrapper``), a step whose scaled
gradients overflow is not taken, and the dynamic loss scale is halved. A few
such skips while the scale settles, and one now and then when it grows
again, are normal. A run that keeps skipping trains on a fraction of its
batches while its loss curve looks fine, which matters for KAMIM in float16:
its weights reach e^(1/T), 22026 at T = 0.1. A skip is read from the public
signal the scaler gives, its scale going down.
"""
import logging
from collections import deque
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class LossScaleMonitorHook(Hook):
    """Log the loss scale and the skipped steps; warn or stop when too many
    are skipped.

    Each iteration logs ``amp_scale`` (the current loss scale) and
    ``amp_skipped`` (optimizer steps skipped since this process started the
    run or resumed it). Once ``window`` optimizer steps after
    ``warmup_iters`` have been taken, more than ``max_skip_ratio`` of them
    skipped gives a warning, or stops the run with ``stop=True``; then the
    count starts over. When training ends, the totals are logged. Runs
    without a loss scaler (no ``--amp``) are left alone; a static loss scale
    never changes, so its skipped steps cannot be counted, and the hook says
    so once.

    Args:
        warmup_iters (int): Iterations during which skips are expected: the
            scale starts at 2^16 and halves until the gradients fit.
            Defaults to 100.
        window (int): Optimizer steps the ratio is taken over.
            Defaults to 1000.
        max_skip_ratio (float): Largest fraction of skipped steps in a window
            that passes silently, in [0, 1). Defaults to 0.01.
        stop (bool): Raise instead of warning. Defaults to False.
    """

    def __init__(self,
                 warmup_iters: int = 100,
                 window: int = 1000,
                 max_skip_ratio: float = 0.01,
                 stop: bool = False) -> None:
        if warmup_iters < 0:
            raise ValueError(
                f'warmup_iters must be >= 0, got {warmup_iters}')
        if window < 1:
            raise ValueError(f'window must be >= 1, got {window}')
        if not 0 <= max_skip_ratio < 1:
            raise ValueError(
                f'max_skip_ratio must be in [0, 1), got {max_skip_ratio}')
        self.warmup_iters = warmup_iters
        self.window = window
        self.max_skip_ratio = max_skip_ratio
        self.stop = stop
        self.recent: deque = deque(maxlen=window)
        self.steps = self.skipped = 0
        self.late_steps = self.late_skipped = 0
        self._scale: Optional[float] = None

    @staticmethod
    def _scaler(runner):
        """The optimizer wrapper's enabled dynamic loss scaler, or None."""
        wrapper = runner.optim_wrapper
        scaler = getattr(wrapper, 'loss_scaler', None)
        if scaler is None or not scaler.is_enabled():
            return None
        # mmengine keeps a static scale by passing it to every update().
        if getattr(wrapper, '_scale_update_param', None) is not None:
            return None
        return scaler

    def before_train(self, runner) -> None:
        """Take the starting scale (a resumed one included), or say once
        when a loss scaler is there but cannot be watched."""
        scaler = self._scaler(runner)
        if scaler is not None:
            self._scale = scaler.get_scale()
        elif getattr(runner.optim_wrapper, 'loss_scaler', None) is not None:
            print_log(
                'LossScaleMonitorHook: the loss scale is static (or the '
                'scaler disabled), so skipped steps cannot be counted; use '
                "loss_scale='dynamic' to have them counted",
                logger='current', level=logging.WARNING)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Count a skip, log, and check the recent ratio."""
        if self._scale is None:
            return
        # One read of the scale per iteration: on a GPU it waits for the
        # optimizer step, as mmengine already waits for the loss and the
        # gradient norm.
        scale = self._scaler(runner).get_scale()
        # With gradient accumulation, most iterations take no step.
        if runner.optim_wrapper.should_update():
            skipped = scale < self._scale
            self.steps += 1
            self.skipped += skipped
            if runner.iter >= self.warmup_iters:
                self.late_steps += 1
                self.late_skipped += skipped
                self.recent.append(skipped)
                self._check_window()
        self._scale = scale
        runner.message_hub.update_scalar('train/amp_scale', scale)
        runner.message_hub.update_scalar('train/amp_skipped', self.skipped)

    def _check_window(self) -> None:
        if len(self.recent) < self.window:
            return
        count = sum(self.recent)
        self.recent.clear()
        if count <= self.max_skip_ratio * self.window:
            return
        message = (
            f'the loss scaler skipped {count} of the last {self.window} '
            f'optimizer steps (more than max_skip_ratio='
            f'{self.max_skip_ratio}): the gradients keep overflowing, so '
            'those batches train nothing. Train with --amp-dtype bfloat16 '
            '(as the released KAMIM code does) or without --amp')
        if self.stop:
            raise RuntimeError(message)
        print_log(message, logger='current', level=logging.WARNING)

    def after_train(self, runner) -> None:
        """Log how many steps were skipped in all and after the warm-up."""
        if self.steps == 0:
            return
        late = (f'{self.late_skipped} of {self.late_steps} '
                f'({100 * self.late_skipped / self.late_steps:.2f} %)'
                if self.late_steps else 'none')
        print_log(
            f'loss scaler: {self.skipped} of {self.steps} optimizer steps '
            f'skipped; after iteration {self.warmup_iters}: {late}; final '
            f'scale {self._scaler(runner).get_scale():g}',
            logger='current')
