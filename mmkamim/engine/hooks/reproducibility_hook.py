"""Resume a run exactly where it stopped, and account for skipped files."""
import logging
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import (
    all_gather_object,
    all_reduce,
    get_rank,
    get_world_size,
)
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS

from mmkamim.datasets.samplers import ReproducibleSampler


def rng_state() -> dict:
    """This process's random generators, as tensors and builtins (so that
    the checkpoint loads with ``weights_only=True``)."""
    version, python, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=dict(version=version, state=torch.tensor(python),
                    gauss=gauss),
        numpy=dict(keys=torch.from_numpy(keys.astype(np.int64)), pos=pos,
                   has_gauss=has_gauss, cached=cached),
        torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` saved."""
    python = state['python']
    random.setstate((python['version'], tuple(python['state'].tolist()),
                     python['gauss']))
    numpy = state['numpy']
    np.random.set_state(('MT19937', numpy['keys'].numpy().astype(np.uint32),
                         numpy['pos'], numpy['has_gauss'], numpy['cached']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class ReproducibilityHook(Hook):
    """Make ``--resume`` continue the interrupted run, and report skipped
    unreadable files.

    mmengine restores the model, optimiser, schedulers and seed, but not the
    random generators of the main process (MAE's masks, MixUp and CutMix
    draw from them), and it builds the dataloader before it reads the
    checkpoint's seed, and restarts an interrupted epoch from its first
    batch. This hook saves the generators' states in every checkpoint and,
    when a run resumes, restores them and hands the checkpoint's seed, epoch
    and position to a :class:`~mmkamim.datasets.samplers.ReproducibleSampler`,
    so that the resumed run trains on the same samples, augmented the same
    way, as the uninterrupted one. (``IterBasedTrainLoop`` replays the data
    up to the resumed iteration itself, which gives the same result.)

    With ``ReproducibleSampler(skip_unreadable=N)`` it also logs every
    unreadable file the data workers skipped (per rank, as they come; the
    sum over ranks after each epoch and at the end) and stops the run once
    this rank skipped more than N.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._resumed: Optional[dict] = None
        self._gathered: Optional[List[dict]] = None
        self.skipped: List[str] = []

    def gather_checkpoint_state(self, runner) -> None:
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
        """Store the random generators: every rank's when they were
        gathered, else this process's."""
        checkpoint['rng_states'] = self._gathered or [rng_state()]
        self._gathered = None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Remember a resumed checkpoint's state until training starts
        (mmengine reseeds the generators after this call)."""
        if runner.cfg.get('resume'):
            states = checkpoint.get('rng_states', [])
            if 'rng_state' in checkpoint:  # earlier versions: rank 0's
                states = [checkpoint['rng_state']]
            self._resumed = dict(meta=checkpoint['meta'], rng_states=states)

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
            return
        seed = meta.get('seed', sampler.seed)
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            # mmengine reruns the interrupted epoch from its start.
            batches = meta['iter'] - meta['epoch'] * len(loader)
            sampler.resume(seed, meta['epoch'], batches * loader.batch_size)
        else:
            sampler.seed = seed

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Collect the files the workers skipped; stop past the limit."""
        if not isinstance(data_batch, dict):
            return
        names = [
            name for sample in data_batch.get('data_samples') or []
            for name in sample.metainfo.get('skipped_images', [])
        ]
        if not names:
            return
        self.skipped += names
        print_log(f'rank {get_rank()} skipped unreadable images: {names}',
                  logger='current', level=logging.WARNING)
        limit = getattr(runner.train_dataloader.sampler, 'skip_unreadable',
                        0)
        if len(self.skipped) > limit:
            raise RuntimeError(
                f'rank {get_rank()} skipped {len(self.skipped)} unreadable '
                f'images, more than skip_unreadable={limit}: '
                f'{self.skipped}')

    def after_train_epoch(self, runner) -> None:
        self._log_total()

    def after_train(self, runner) -> None:
        self._log_total()

    def _log_total(self) -> None:
        total = torch.tensor(len(self.skipped))
        all_reduce(total)
        if total:
            print_log(f'{int(total)} unreadable images skipped so far on '
                      'all ranks; this rank: '
                      f'{self.skipped or "none"}', logger='current',
                      level=logging.WARNING)
