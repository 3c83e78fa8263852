"""Stop a run whose loss is no longer a number, before it saves."""
import logging
from typing import List, Optional

import torch
from mmengine.dist import all_gather_object, all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper
from mmpretrain.registry import HOOKS

from mmkamim.utils.checkpoint_files import latest_checkpoint


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first non-finite loss, on every rank, before any
    checkpoint holds its result.

    Without ``--amp``, an iteration whose loss (any ``loss*`` term) or, with
    gradient clipping, whose gradient norm is inf or NaN has already put
    NaN into the parameters: mmengine would train on to the end, write
    checkpoints of NaN and exit 0. This hook runs before
    ``CheckpointHook`` in the same iteration and raises, naming the
    iteration, the term and the likely causes; the last complete checkpoint
    stays the one to resume from. With ``--amp`` the loss scaler skips such
    steps itself, so the run stops only after ``amp_patience`` consecutive
    iterations with a non-finite loss (the scale stops falling once it
    reaches 0, so its changes cannot count them). The ranks agree through
    a flag all-reduced at every iteration, since one rank stopping alone
    would leave the others waiting.

    Args:
        amp_patience (int): Consecutive non-finite iterations allowed with
            ``--amp``. Defaults to 100.
    """

    # Before CheckpointHook (VERY_LOW) and PreemptionHook (LOWEST).
    priority = 'LOW'

    def __init__(self, amp_patience: int = 100) -> None:
        if isinstance(amp_patience, bool) or not isinstance(
                amp_patience, int) or amp_patience < 1:
            raise ValueError(
                f'amp_patience must be an integer >= 1, got {amp_patience!r}')
        self.amp_patience = amp_patience
        self._streak = 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Stop here if any rank's loss is not finite."""
        amp = isinstance(runner.optim_wrapper, AmpOptimWrapper)
        problem = self._problem(runner, outputs or {}, amp)
        if amp:
            self._streak = self._streak + 1 if problem else 0
            stop = self._streak >= self.amp_patience
        else:
            stop = problem is not None
        if get_world_size() > 1:
            flag = torch.tensor(int(stop))
            all_reduce(flag, op='max')
            if not int(flag):
                return
            gathered = all_gather_object(problem)
            problems = [f'rank {rank}: {p}' for rank, p in enumerate(gathered)
                        if p is not None]
        elif not stop:
            return
        else:
            problems = [problem]
        iteration = runner.iter + 1
        what = '; '.join(problems)
        if amp:
            what = (f'{what}, for {self.amp_patience} consecutive iterations '
                    '(the loss scaler skipped every one)')
        message = (
            f'iteration {iteration}: {what}. Stopping before anything of '
            f'this iteration is saved. Likely causes: '
            f'{"; ".join(self._causes(runner, amp))}. ')
        try:
            checkpoint = latest_checkpoint(runner.work_dir)
        except FileNotFoundError:
            checkpoint = None
        message += (f'The last complete checkpoint is {checkpoint}'
                    if checkpoint else 'No checkpoint was written yet')
        print_log(message, logger='current', level=logging.ERROR)
        raise RuntimeError(message)

    @staticmethod
    def _problem(runner, outputs: dict, amp: bool) -> Optional[str]:
        """The first non-finite term on this rank, described, or None."""
        terms = [(name, value) for name, value in outputs.items()
                 if 'loss' in name and isinstance(value, torch.Tensor)]
        if terms:
            finite = torch.stack(
                [value.detach().float().reshape(()) for _, value in terms])
            bad = (~torch.isfinite(finite)).nonzero()
            if len(bad):
                name, value = terms[int(bad[0])]
                return f'loss term {name!r} is {float(value)}'
        wrapper = runner.optim_wrapper
        if not amp and getattr(wrapper, 'clip_grad_kwargs', None):
            scalar = runner.message_hub.get_scalar(
                f'train/{wrapper.grad_name}')
            norm = scalar.current()
            if not torch.isfinite(torch.tensor(norm)):
                return f'gradient norm ({wrapper.grad_name}) is {norm}'
        return None

    @staticmethod
    def _causes(runner, amp: bool) -> List[str]:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        lrs = runner.optim_wrapper.get_lr().get('lr', [])
        causes = [f'a learning rate too high for this model (lr={lrs[0]:.3g}'
                  ' now)' if lrs else 'a learning rate too high']
        settings = getattr(model.data_preprocessor, 'settings', None)
        temperature = getattr(settings, 'temperature', None)
        if temperature is not None:
            causes.append(
                f'the keypoint temperature T={temperature}: weights reach '
                'e^(1/T); a smaller T makes larger steps')
        causes.append('an image the pipeline turned into inf/NaN (check the '
                      'data of this iteration)')
        if amp:
            causes.append('float16 overflowing: --amp-dtype bfloat16 keeps '
                          "float32's range")
        return causes
