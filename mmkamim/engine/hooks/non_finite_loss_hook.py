"""Stop a run whose loss is no longer a number, before it saves."""
import logging
from typing import Iterator, List, Optional

import torch
from mmengine.dist import all_gather_object, all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapperDict
from mmpretrain.registry import HOOKS

from mmkamim.utils.checkpoint_files import (
    last_finite_checkpoint,
    non_finite,
    optimizer_tensors,
)


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first non-finite loss, on every rank, before any
    checkpoint holds its result; and before any checkpoint of non-finite
    parameters or optimizer state is written.

    Without ``--amp``, an iteration whose loss (any ``loss*`` term) or, with
    gradient clipping, whose gradient norm is inf or NaN has already put
    NaN into the parameters: mmengine would train on to the end, write
    checkpoints of NaN and exit 0. This hook runs before
    ``CheckpointHook`` in the same iteration and raises, naming the
    iteration, the term and the likely causes. A step can also overflow the
    parameters after a finite loss; the loss of the next iteration shows
    it, but a checkpoint may come first, so before every save
    (:meth:`before_checkpoint_write`) the parameters, buffers and optimizer
    state are checked too. The message names the newest checkpoint of the
    work dir whose state is finite, to resume from; with
    ``AtomicCheckpointHook`` no checkpoint was retired for the one that was
    refused. With ``--amp`` the loss scaler skips such
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
        what = '; '.join(problems)
        if amp:
            what = (f'{what}, for {self.amp_patience} consecutive iterations '
                    '(the loss scaler skipped every one)')
        self._stop(runner, f'iteration {runner.iter + 1}: {what}. Stopping '
                   'before anything of this iteration is saved', amp)

    def before_checkpoint_write(self, runner, filename: str) -> None:
        """Stop, on every rank, before a checkpoint of non-finite parameters
        or optimizer state is written.

        An optimizer step can overflow the parameters while the loss that
        led to it was finite (a learning rate far too high), and the
        interval checkpoint of that iteration would hold them. A step the
        fp16 loss scaler skips changes nothing, so it passes. Called by
        :class:`AtomicCheckpointHook` on every rank before each save.
        """
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        tensors = list(model.named_parameters()) + list(
            model.named_buffers())
        names = {param: name for name, param in model.named_parameters()}
        for optimizer in _optimizers(runner.optim_wrapper):
            tensors += optimizer_tensors(optimizer.state, names)
        bad = non_finite(tensors)
        if get_world_size() > 1:
            flag = torch.tensor(int(bool(bad)))
            all_reduce(flag, op='max')
            if not int(flag):
                return
            described = [f'rank {rank}: {_describe(names_)}'
                         for rank, names_ in enumerate(all_gather_object(bad))
                         if names_]
        elif not bad:
            return
        else:
            described = [_describe(bad)]
        amp = isinstance(runner.optim_wrapper, AmpOptimWrapper)
        self._stop(runner, 'the parameters or optimizer state are not '
                   f'finite after the last optimizer step: '
                   f'{"; ".join(described)}. Stopping before {filename} is '
                   'written', amp)

    def _stop(self, runner, what: str, amp: bool) -> None:
        """Log and raise: what went wrong, its likely causes, and the
        checkpoint to resume from (one whose state is finite)."""
        message = (f'{what}. Likely causes: '
                   f'{"; ".join(self._causes(runner, amp))}. ')
        checkpoint = last_finite_checkpoint(runner.work_dir)
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


def _optimizers(wrapper) -> Iterator:
    """The torch optimizers of an optim wrapper (or a dict of them)."""
    wrappers = wrapper.values() if isinstance(wrapper,
                                              OptimWrapperDict) else [wrapper]
    for each in wrappers:
        optimizer = getattr(each, 'optimizer', None)
        if optimizer is not None:
            yield optimizer


def _describe(names: List[str]) -> str:
    """``'2 tensors (a, b)'``, the first few named."""
    shown = ', '.join(names[:5]) + (', ...' if len(names) > 5 else '')
    return f'{len(names)} tensor{"s" * (len(names) > 1)} ({shown})'

