"""Resume a run exactly where it stopped, and account for skipped files."""
import logging
import random
from typing import Dict, List, Optional, Set, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import (
    all_gather_object,
    all_reduce,
    get_rank,
    get_world_size,
)
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS

from mmkamim.datasets.samplers import ReproducibleSampler
from mmkamim.datasets.seeded_pipeline import step_seed
from mmkamim.utils.checkpoint_files import checkpoint_to_load, resume_problems
from mmkamim.utils.errors import UsageError
from mmkamim.utils.random_state import rng_state, set_rng_state

from ..runners import ResumableIterBasedTrainLoop
from ..schedulers import ProgressSchedule


@HOOKS.register_module()
class ReproducibilityHook(Hook):
    """Make ``--resume`` continue the interrupted run, on any layout, and
    account for skipped files.

    mmengine restores the model, optimiser, schedulers and seed, but not the
    random generators of the main process (MAE's masks, MixUp and CutMix
    draw from them), and it builds the dataloader before it reads the
    checkpoint's seed, and restarts an interrupted epoch from its first
    batch. This hook saves the generators' states and the run's position in
    every checkpoint: the epoch and the samples of that epoch's order
    already trained, over all ranks (``meta['sample_position']``, updated
    at every iteration), with the number of processes and the batch size.
    When a run resumes it restores the generators and hands the seed and
    the position to a :class:`~mmkamim.datasets.samplers.ReproducibleSampler`,
    which continues at the first sample not yet trained, split over the new
    number of processes, each sample augmented as before. With the same
    layout the resumed run is the uninterrupted one. After a change of
    batch size or number of processes, the scheduled parameters (learning
    rate, ...) follow the config's schedule at the run's progress (completed
    epochs plus the fraction of the epoch's samples trained), from the base
    values the new config gives (``auto_scale_lr`` on the new batch), for
    the rest of the run (:class:`~mmkamim.engine.schedulers.ProgressSchedule`).
    A checkpoint written before positions were recorded resumes only on its
    own layout; otherwise the run stops before training, saying why.

    Epoch-based loops and
    :class:`~mmkamim.engine.runners.ResumableIterBasedTrainLoop` resume by
    position; mmengine's ``IterBasedTrainLoop`` replays the data up to the
    resumed iteration, which is right only on the same layout.

    Before every training step it seeds the main process's generators
    (Python's, NumPy's, torch's) from the run's seed, the epoch, the
    samples of the epoch trained before the step and the rank
    (:func:`~mmkamim.datasets.seeded_pipeline.step_seed`), so that what a
    model or a hook draws (MAE's masks, drop path, MixUp and CutMix) does
    not depend on the number of dataloader workers, on whether they
    persist, or on where a resumed run makes its data iterator: with 0, 2
    or 4 workers, straight or resumed, a run trains the same parameters.
    The ranks draw apart (mmengine's default gives every rank the same
    stream). ``seed_steps=False`` leaves the generators to run on as
    mmengine seeds them.

    With ``ReproducibleSampler(skip_unreadable=N)`` it also counts the
    distinct unreadable files the data workers skipped, over all ranks,
    workers and epochs (kept in checkpoints, so a resumed run goes on
    counting), logs each once, and stops the run once there are more than N.

    Args:
        seed_steps (bool): Seed the main process's generators before every
            training step. Defaults to True.
    """

    # Before RuntimeInfoHook logs the learning rate of an iteration.
    priority = 'HIGHEST'

    def __init__(self, seed_steps: bool = True) -> None:
        self.seed_steps = seed_steps
        self._resumed: Optional[dict] = None
        self._resumed_runtime: dict = {}
        self._gathered: Optional[List[dict]] = None
        self.skipped: Set[str] = set()
        self.schedule: Optional[ProgressSchedule] = None
        self._base_values: Dict[str, List[float]] = {}
        self._resume_epoch: Optional[int] = None
        self._resume_position = 0
        self._epoch: Optional[int] = None
        self._start = 0
        self._count = 0

    def before_run(self, runner) -> None:
        """Note the base values the config gives the scheduled parameters
        (after ``auto_scale_lr``), before a resume replaces them."""
        wrapper = runner.optim_wrapper
        if not isinstance(wrapper, OptimWrapper):
            return
        for group in wrapper.param_groups:
            for key, value in group.items():
                if key.startswith('initial_'):
                    self._base_values.setdefault(key[len('initial_'):],
                                                 []).append(value)

    def before_checkpoint_write(self, runner, filename: str) -> None:
        """Collect every rank's generators before a checkpoint is saved.

        A collective operation, called on every rank by
        :class:`AtomicCheckpointHook` before it saves:
        ``before_save_checkpoint`` runs on rank 0 alone, where none may
        happen. The ranks' generators differ with
        ``randomness.diff_rank_seed=True``.
        """
        state = rng_state()
        if get_world_size() > 1:
            self._gathered = all_gather_object(state)
        else:
            self._gathered = [state]

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the random generators (every rank's when they were
        gathered, else this process's) and the run's position."""
        checkpoint['rng_states'] = self._gathered or [rng_state()]
        self._gathered = None
        meta = checkpoint['meta']
        loader = runner.train_dataloader
        meta['sample_position'] = dict(
            epoch=meta['epoch'], samples=self.position(meta['epoch']),
            world_size=get_world_size(), batch_size=loader.batch_size,
            dataset_size=len(loader.dataset),
            progress_schedule=self.schedule is not None)
        meta['skipped_images'] = sorted(self.skipped)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Remember a resumed checkpoint's state until training starts
        (mmengine reseeds the generators after this call)."""
        if runner.cfg.get('resume'):
            problems = resume_problems(
                checkpoint, _unwrap(runner.model),
                getattr(runner.optim_wrapper, 'optimizer', None),
                runner.param_schedulers)
            if problems:
                path = checkpoint_to_load(runner.cfg, runner.work_dir)
                raise UsageError(
                    f'cannot resume from {path}: {"; ".join(problems)}. '
                    '--resume continues a run from a checkpoint it saved, '
                    'with the config it was saved with; to start a new run '
                    f'from these weights, pass --cfg-options load_from={path} '
                    'without --resume')
            states = checkpoint.get('rng_states', [])
            if 'rng_state' in checkpoint:  # earlier versions: rank 0's
                states = [checkpoint['rng_state']]
            # With seed_steps every training step's draws are seeded anew.
            if not states and not self.seed_steps:
                path = checkpoint_to_load(runner.cfg, runner.work_dir)
                print_log(
                    f'resuming from {path}, which holds no random '
                    'generator states (it was saved without '
                    'ReproducibilityHook): what the main process draws from '
                    'here on (MAE and PixMIM masks, drop path, MixUp and '
                    'CutMix, anything a model or hook draws) differs from '
                    "the uninterrupted run's, so the resumed run is not "
                    'exact where randomness matters',
                    logger='current', level=logging.WARNING)
            self._resumed = dict(meta=checkpoint['meta'], rng_states=states)
            self.skipped = set(checkpoint['meta'].get('skipped_images', []))
            hub = checkpoint.get('message_hub') or {}
            self._resumed_runtime = hub.get('runtime_info', {})

    def before_train(self, runner) -> None:
        """Restore the generators and the sampler's position."""
        if self._resumed is None:
            return
        meta, states = self._resumed['meta'], self._resumed['rng_states']
        self._resumed = None
        if states:
            rank, world = get_rank(), get_world_size()
            if len(states) > 1 and len(states) != world:
                print_log(
                    f'the checkpoint holds the random generators of '
                    f'{len(states)} ranks, this run has {world}: every rank '
                    "continues from rank 0's (the same unless "
                    'randomness.diff_rank_seed=True)', logger='current',
                    level=logging.WARNING)
            set_rng_state(states[rank] if len(states) == world else states[0])
        loader = runner.train_dataloader
        sampler = getattr(loader, 'sampler', None)
        if not isinstance(sampler, ReproducibleSampler):
            print_log(
                f'the training sampler is {type(sampler).__name__}, not '
                'ReproducibleSampler: the resumed run does not continue at '
                'the sample where the run stopped (an interrupted epoch '
                'starts again or goes on by mmengine\'s rules), and the '
                "crops, flips and masks differ from the uninterrupted run's",
                logger='current', level=logging.WARNING)
            return
        seed = meta.get('seed', sampler.seed)
        layout = (get_world_size(), loader.batch_size)
        position = meta.get('sample_position')
        dataset_size = len(loader.dataset)
        if position is not None and position.get(
                'dataset_size', dataset_size) != dataset_size:
            raise UsageError(
                'the checkpoint was saved training on '
                f"{position['dataset_size']} images, this run has "
                f'{dataset_size}: its position in the '
                'epoch means nothing here. Resume with the same data, or '
                'start a new run from its weights (--cfg-options '
                'load_from=CHECKPOINT, without --resume)')
        if position is None:
            print_log(
                'the checkpoint records no sample position (it was saved '
                'without ReproducibilityHook, or before mmkamim recorded '
                'positions): the position in the epoch is worked out from '
                'the iteration count, which is right only on the layout '
                '(processes x batch size) it was written with',
                logger='current', level=logging.WARNING)
        if not isinstance(runner.train_loop,
                          (EpochBasedTrainLoop, ResumableIterBasedTrainLoop)):
            # mmengine's IterBasedTrainLoop replays the data itself.
            if position is not None and _layout(position) != layout:
                raise UsageError(
                    'IterBasedTrainLoop resumes by replaying as many batches '
                    'as the run had trained, which is wrong on another '
                    f'layout ({_describe(_layout(position))} before, '
                    f"{_describe(layout)} now). Use train_cfg.type="
                    "'ResumableIterBasedTrainLoop', or resume on the "
                    'layout the checkpoint was written with')
            sampler.seed = seed
            return
        if position is None:
            position = self._older_position(runner, meta, loader)
            if position is None:  # replayed by the loop
                sampler.seed = seed
                return
        sampler.resume(seed, position['epoch'], position['samples'])
        self._resume_epoch = position['epoch']
        self._resume_position = position['samples']
        changed = _layout(position) != layout
        if changed or position.get('progress_schedule'):
            self.schedule = self._progress_schedule(runner)
        remaining, padding = sampler.remaining()
        message = (
            f"resuming epoch {position['epoch'] + 1} after "
            f"{min(position['samples'], dataset_size)} of its "
            f'{dataset_size} samples: {len(remaining)} remain')
        if padding:
            message += (f', with {padding} repeated to fill '
                        f'{layout[0]} processes')
        if changed:
            message += (f'. Layout changed: {_describe(_layout(position))} '
                        f'before, {_describe(layout)} now; the scheduled '
                        "parameters follow the config's schedule at the "
                        "run's progress from here")
        print_log(message, logger='current')

    def _older_position(self, runner, meta: dict,
                        loader) -> Optional[dict]:
        """The position of a checkpoint written before positions were
        recorded, which is known only on the layout it was written with."""
        runtime = self._resumed_runtime
        world, batch = get_world_size(), loader.batch_size
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            per_epoch = runtime.get('max_iters', 0) // max(
                runtime.get('max_epochs', 1), 1)
            same = per_epoch == len(loader)
            samples = (meta['iter'] - meta['epoch'] * len(loader)) * batch
        else:
            # ResumableIterBasedTrainLoop replays it, as mmengine does: right
            # with the same batch size (the number of processes an older
            # checkpoint does not tell).
            configured = _configured_batch(meta)
            if configured not in (None, batch):
                raise UsageError(
                    'this checkpoint was written before mmkamim recorded how '
                    'many samples of an epoch a run had trained, and it can '
                    'only continue with the batch size it was written with '
                    f'({configured}, now {batch})')
            return None
        if not same:
            raise UsageError(
                'this checkpoint was written before mmkamim recorded how '
                'many samples of an epoch a run had trained, and it can '
                'only continue on the layout it was written with '
                f'({per_epoch} iterations per epoch then, {len(loader)} '
                'now). Resume with the number of processes and the batch '
                'size it was written with')
        return dict(epoch=meta['epoch'], samples=samples * world,
                    world_size=world, batch_size=batch)

    def _progress_schedule(self, runner) -> ProgressSchedule:
        configs = runner.cfg.get('param_scheduler') or []
        if isinstance(configs, dict):
            configs = [configs]
        if not isinstance(runner.optim_wrapper, OptimWrapper) or not all(
                isinstance(c, dict) and 'type' in c for c in configs):
            raise UsageError(
                'the learning rate schedule cannot follow a change of layout '
                'with several optimizers; resume with the layout the '
                'checkpoint was written with')
        return ProgressSchedule(configs, self._base_values)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        """Track the epoch; seed the main process's generators for this
        step; after a change of layout, set the scheduled parameters for
        this step from the run's progress."""
        if runner.epoch != self._epoch:
            self._epoch = runner.epoch
            self._start = (self._resume_position
                           if runner.epoch == self._resume_epoch else 0)
            self._count = 0
        if self.seed_steps:
            # What the model and the hooks draw in this step (MAE's masks,
            # drop path, MixUp/CutMix) depends on nothing else: not on the
            # dataloader workers (with none, the seeded pipeline runs here
            # and reseeds for every sample; with some, the DataLoader draws
            # their base seed here whenever it makes an iterator).
            seed = step_seed(runner.seed, runner.epoch,
                             self.position(runner.epoch), get_rank())
            random.seed(seed)
            np.random.seed(seed)
            torch.manual_seed(seed)  # the accelerators' generators too
        if self.schedule is None:
            return
        dataset_size = len(runner.train_dataloader.dataset)
        samples = runner.epoch * dataset_size + self.position(runner.epoch)
        global_batch = runner.train_dataloader.batch_size * get_world_size()
        values = self.schedule.values(samples / dataset_size,
                                      samples / global_batch)
        for name, group_values in values.items():
            for group, value in zip(runner.optim_wrapper.param_groups,
                                    group_values):
                group[name] = value

    def position(self, epoch: int) -> int:
        """Samples of ``epoch``'s order trained so far, over all ranks."""
        if epoch == self._epoch:
            return self._start + self._count * get_world_size()
        if self._epoch is None and epoch == self._resume_epoch:
            return self._resume_position
        return 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Count the samples trained; collect the files the workers
        skipped, and stop past the limit."""
        if not isinstance(data_batch, dict):
            return
        self._count += len(data_batch['inputs'])
        limit = getattr(runner.train_dataloader.sampler, 'skip_unreadable',
                        0)
        if not limit:  # the pipeline stops at the first unreadable file
            return
        new = {
            name for sample in data_batch.get('data_samples') or []
            for name in sample.metainfo.get('skipped_images', [])
        } - self.skipped
        if get_world_size() > 1:
            count = torch.tensor(len(new))
            all_reduce(count)
            if not int(count):
                return
            new = set().union(*all_gather_object(sorted(new))) - self.skipped
        if not new:
            return
        self.skipped |= new
        print_log(
            f'skipped unreadable image(s) {sorted(new)}: '
            f'{len(self.skipped)} distinct so far, '
            f'train_dataloader.sampler.skip_unreadable={limit}',
            logger='current', level=logging.WARNING)
        if len(self.skipped) > limit:
            raise UsageError(
                f'{len(self.skipped)} distinct unreadable images, more than '
                f'train_dataloader.sampler.skip_unreadable={limit}: '
                f'{sorted(self.skipped)}. Remove or replace them (or raise '
                'the limit)')

    def after_train_epoch(self, runner) -> None:
        self._log_total()

    def after_train(self, runner) -> None:
        self._log_total()

    def _log_total(self) -> None:
        if self.skipped:  # each was named when first met
            print_log(f'{len(self.skipped)} distinct unreadable images '
                      'skipped so far', logger='current',
                      level=logging.WARNING)


def _layout(position: dict) -> Tuple[int, int]:
    return position['world_size'], position['batch_size']


def _describe(layout: Tuple[int, int]) -> str:
    world, batch = layout
    return (f'{world} process{"es" * (world > 1)} x batch {batch} = '
            f'{world * batch} per step')


def _configured_batch(meta: dict) -> Optional[int]:
    """The training batch size in a checkpoint's config text, if found."""
    try:
        cfg = Config.fromstring(meta['cfg'], '.py')
        return int(cfg.train_dataloader.batch_size)
    except Exception:  # no config or an unreadable one: nothing to compare
        return None


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model
