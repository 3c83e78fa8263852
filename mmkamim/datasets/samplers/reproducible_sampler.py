"""A sampler that makes data randomness reproducible and resumable."""
from typing import Iterator, List, Optional, Sized, Tuple

import torch
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
    the position within the epoch on resume (:meth:`resume`), also on
    another number of processes or with another batch size.

    Args:
        dataset (Sized): A dataset with a ``pipeline`` attribute (mmengine's
            ``BaseDataset`` and MMPretrain's datasets).
        shuffle (bool): Shuffle the indices. Defaults to True.
        seed (int, optional): The run's seed; the runner passes its own.
        round_up (bool): As for ``DefaultSampler``. Defaults to True.
        skip_unreadable (int): How many distinct unreadable image files the
            run may skip (over all ranks, workers and epochs, each logged
            once) before it stops. Defaults to 0: the first one stops the
            run, naming it.
        max_pixels (int, optional): Refuse an image whose header declares
            more pixels, before decoding it; it counts as unreadable. None
            disables the limit. Defaults to 10^8.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True,
                 skip_unreadable: int = 0,
                 max_pixels: Optional[int] = 10**8) -> None:
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
        if max_pixels is not None and not max_pixels > 0:
            raise ValueError('max_pixels must be > 0 or None, got '
                             f'{max_pixels!r}')
        self.skip_unreadable = skip_unreadable
        self.max_pixels = max_pixels
        dataset.pipeline = SeededPipeline(dataset.pipeline, skip_unreadable,
                                          max_pixels)
        self.resume_epoch: Optional[int] = None
        self._resume_position = 0

    def resume(self, seed: int, epoch: int, position: int) -> None:
        """Continue a run in ``epoch`` after the first ``position`` samples
        of that epoch's order (over all ranks of the interrupted run).

        The epoch keeps its order (the seeded permutation); the samples at
        ``position`` and after, each dataset index once, are split over this
        run's ranks, whatever their number. With ``round_up`` they are
        padded, as ``DefaultSampler`` pads an epoch, to a multiple of the
        world size with the first indices of the epoch's order: at most
        ``world_size - 1`` repeats. Past the dataset's size (inside the
        interrupted run's own padding) nothing remains of the epoch. With
        the interrupted run's layout this is exactly the rest of its epoch.

        Args:
            seed (int): The interrupted run's seed.
            epoch (int): The epoch it was in.
            position (int): Samples of that epoch's order it had trained,
                over all its ranks.
        """
        if position < 0:
            raise ValueError(f'position must be >= 0, got {position}')
        self.seed = seed
        self.epoch = epoch
        self.resume_epoch = epoch
        self._resume_position = position

    def remaining(self) -> Tuple[List[int], int]:
        """The resumed epoch's untrained dataset indices, in order, and how
        many repeats pad them for this run's ranks."""
        order = self._order()
        remaining = order[min(self._resume_position, len(order)):]
        padding = (-len(remaining)) % self.world_size if self.round_up else 0
        return remaining, padding

    def _order(self) -> List[int]:
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            return torch.randperm(len(self.dataset),
                                  generator=generator).tolist()
        return list(range(len(self.dataset)))

    def _indices(self) -> List[int]:
        if self.epoch != self.resume_epoch:
            return list(super().__iter__())
        remaining, padding = self.remaining()
        order = self._order()
        padded = remaining + (order * (padding // len(order) + 1))[:padding]
        return padded[self.rank::self.world_size]

    def __iter__(self) -> Iterator[SampleKey]:
        return iter(SampleKey(index, self.seed, self.epoch)
                    for index in self._indices())

    def __len__(self) -> int:
        if self.epoch != self.resume_epoch:
            return self.num_samples
        remaining, padding = self.remaining()
        return len(range(self.rank, len(remaining) + padding,
                         self.world_size))
