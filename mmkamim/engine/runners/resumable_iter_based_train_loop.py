"""An iteration-based training loop that resumes by sample position."""
import logging
from typing import Dict, List, Optional, Tuple, Union

from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.utils import calc_dynamic_intervals
from mmpretrain.registry import LOOPS
from torch.utils.data import DataLoader


class _Epochs:
    """Iterate a dataloader epoch after epoch, counting the epochs in the
    loop (so that ``runner.epoch`` is the data's epoch)."""

    def __init__(self, loop: 'ResumableIterBasedTrainLoop') -> None:
        self.loop = loop
        self._iterator = iter(loop.dataloader)

    def __iter__(self) -> '_Epochs':
        return self

    def __next__(self):
        try:
            return next(self._iterator)
        except StopIteration:
            self.loop._epoch += 1
            self.loop.set_sampler_epoch()
            self._iterator = iter(self.loop.dataloader)
            return next(self._iterator)


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` that resumes where the data stopped.

    mmengine's loop resumes by loading, and discarding, as many batches as
    the run had trained, in an epoch counter it does not restore: slow, and
    wrong once the batch size or the number of processes changed. This loop
    counts the data's epochs in ``runner.epoch`` (so checkpoints record
    them) and starts its iterator after ``before_train``, where
    :class:`~mmkamim.engine.hooks.ReproducibilityHook` has put the
    :class:`~mmkamim.datasets.samplers.ReproducibleSampler` at the resumed
    epoch and sample; nothing is replayed. A checkpoint without a recorded
    position (an older one, or another sampler) is replayed as mmengine
    does. Starting the iterator late also lets hooks set the dataloader's
    ``worker_init_fn`` before its workers start (``PreemptionHook``).

    Switch an MMPretrain config to it with
    ``train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=...)``
    (its arguments are ``IterBasedTrainLoop``'s).
    """

    def __init__(
            self,
            runner,
            dataloader: Union[DataLoader, Dict],
            max_iters: int,
            val_begin: int = 1,
            val_interval: int = 1000,
            dynamic_intervals: Optional[List[Tuple[int, int]]] = None) -> None:
        # IterBasedTrainLoop.__init__, less its first iter(dataloader): that
        # would start the workers before the sampler is in place.
        BaseLoop.__init__(self, runner, dataloader)
        if int(max_iters) != max_iters:
            raise ValueError(f'max_iters must be an integer, got {max_iters}')
        self._max_iters = int(max_iters)
        self._max_epochs = 1
        self._epoch = 0
        self._iter = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.stop_training = False
        if hasattr(self.dataloader.dataset, 'metainfo'):
            self.runner.visualizer.dataset_meta = \
                self.dataloader.dataset.metainfo
        self.dataloader_iterator: Optional[_Epochs] = None
        self.dynamic_milestones, self.dynamic_intervals = \
            calc_dynamic_intervals(self.val_interval, dynamic_intervals)

    def set_sampler_epoch(self) -> None:
        sampler = getattr(self.dataloader, 'sampler', None)
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(self._epoch)

    def run(self):
        """Train; the loop body is ``IterBasedTrainLoop.run``'s."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        sampler = getattr(self.dataloader, 'sampler', None)
        by_position = getattr(sampler, 'resume_epoch', None) is not None
        if not by_position:
            self.set_sampler_epoch()
        self.dataloader_iterator = _Epochs(self)
        if self._iter > 0 and not by_position:
            print_log(
                f'no sample position in the checkpoint: advancing the '
                f'dataloader {self._iter} steps, as IterBasedTrainLoop does',
                logger='current', level=logging.WARNING)
            for _ in range(self._iter):
                next(self.dataloader_iterator)
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None
                    and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model
