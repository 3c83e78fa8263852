"""A sampler that makes data randomness reproducible and resumable."""
from typing import Iterator, Optional, Sized

from mmengine.dataset import DefaultSampler
from mmpretrain.registry import DATA_SAMPLERS

from ..seeded_pipeline import SampleKey, SeededPipeline


@DATA_SAMPLERS.register_module()
class ReproducibleSampler(DefaultSampler):
    """mmengine's ``DefaultSampler`` with per-sample seeds and exact resume.

    The order of the indices is ``DefaultSampler``'s (shuffled from seed +
    epoch, split across ranks). Each index is yielded as a
    :class:`~mmkamim.datasets.seeded_pipeline.SampleKey` that carries the
    seed and the epoch, and the dataset's pipeline is wrapped in a
    :class:`~mmkamim.datasets.seeded_pipeline.SeededPipeline`, which seeds
    every sample's crops, flips and masks from (seed, epoch, index). So a
    sample is augmented the same way whichever worker, rank or process
    count loads it, and whether or not the run was interrupted.
    :class:`~mmkamim.engine.hooks.ReproducibilityHook` restores the seed and
    the position within the epoch on resume (:meth:`resume`).

    Args:
        dataset (Sized): A dataset with a ``pipeline`` attribute (mmengine's
            ``BaseDataset`` and MMPretrain's datasets).
        shuffle (bool): Shuffle the indices. Defaults to True.
        seed (int, optional): The run's seed; the runner passes its own.
        round_up (bool): As for ``DefaultSampler``. Defaults to True.
        skip_unreadable (int): How many unreadable image files each
            dataloader process may skip (and report) before the run stops.
            Defaults to 0: the first one stops the run, naming it.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True,
                 skip_unreadable: int = 0) -> None:
        super().__init__(dataset, shuffle, seed, round_up)
        if not hasattr(dataset, 'pipeline'):
            raise TypeError(
                f'ReproducibleSampler needs a dataset with a pipeline, got '
                f'{type(dataset).__name__}; use DefaultSampler for dataset '
                'wrappers')
        if (isinstance(skip_unreadable, bool)
                or not isinstance(skip_unreadable, int)
                or skip_unreadable < 0):
            raise ValueError('skip_unreadable must be an integer >= 0, got '
                             f'{skip_unreadable!r}')
        self.skip_unreadable = skip_unreadable
        dataset.pipeline = SeededPipeline(dataset.pipeline, skip_unreadable)
        self._resume_epoch: Optional[int] = None
        self._resume_skip = 0

    def resume(self, seed: int, epoch: int, done: int) -> None:
        """Continue a run: its seed, and in ``epoch`` skip the ``done``
        samples of this rank it had already trained on.

        Args:
            seed (int): The interrupted run's seed.
            epoch (int): The epoch it was in.
            done (int): Samples of this rank it had used in that epoch.
        """
        self.seed = seed
        self.epoch = epoch
        self._resume_epoch = epoch
        self._resume_skip = done

    def _skip(self) -> int:
        return self._resume_skip if self.epoch == self._resume_epoch else 0

    def __iter__(self) -> Iterator[SampleKey]:
        indices = list(super().__iter__())[self._skip():]
        return iter(SampleKey(index, self.seed, self.epoch)
                    for index in indices)

    def __len__(self) -> int:
        return self.num_samples - self._skip()
