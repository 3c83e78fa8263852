"""A data pipeline whose randomness depends only on (seed, epoch, index).

mmengine seeds each dataloader worker once (with the same seed every epoch
when workers are not persistent, and with nothing that a checkpoint holds),
so the crops, flips and masks a sample gets depend on which worker loads it
and on everything that worker loaded before. That makes a resumed run, or
the same run on another number of processes, see different data.
:class:`SeededPipeline` reseeds Python's, NumPy's and torch's generators
before each sample from the run's seed, the epoch and the sample's index,
which :class:`~mmkamim.datasets.samplers.ReproducibleSampler` sends along
with the index (a :class:`SampleKey`). It also makes every failure name its
file, refuses the silent ``None`` that mmengine answers with a random other
image, and, when asked to, skips unreadable files and reports them.
"""
import random
import warnings
from typing import Callable, List, Optional, Tuple

import numpy as np
import torch
from PIL import Image

_MASK64 = (1 << 64) - 1


class SampleKey(int):
    """A dataset index that carries the run's seed and the epoch.

    It is an ``int`` (datasets index with it as usual); the extra fields
    travel with it to the dataloader worker, where
    :class:`SeededPipeline` reads them from ``results['sample_idx']``.
    """

    def __new__(cls, index: int, seed: int, epoch: int) -> 'SampleKey':
        key = super().__new__(cls, index)
        key.seed = int(seed)
        key.epoch = int(epoch)
        return key

    def __reduce__(self):
        return SampleKey, (int(self), self.seed, self.epoch)


def _splitmix64(value: int) -> int:
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 32-bit seed that mixes the run's seed, the epoch and the index."""
    mixed = _splitmix64(seed & _MASK64)
    mixed = _splitmix64(mixed ^ (epoch & _MASK64))
    mixed = _splitmix64(mixed ^ (index & _MASK64))
    return mixed & 0xFFFFFFFF


# Keeps the main process's per-step seeds apart from the per-sample ones.
_STEP_DOMAIN = 0x6D61696E  # 'main'


def step_seed(seed: int, epoch: int, position: int, rank: int) -> int:
    """A 32-bit seed for a training step's draws in the main process, from
    the run's seed, the epoch, the samples of that epoch trained before the
    step (over all ranks) and the rank; never equal in construction to a
    sample's :func:`sample_seed`."""
    mixed = sample_seed(seed ^ _STEP_DOMAIN, epoch, position)
    return _splitmix64(mixed ^ (rank & _MASK64)) & 0xFFFFFFFF


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global (CPU) generators.

    Only torch's CPU generator, which data transforms draw from:
    ``torch.manual_seed`` also visits every accelerator backend, which costs
    about 0.2 ms per sample with the CUDA build of torch even on a machine
    without a GPU (12 us for this whole function).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.default_generator.manual_seed(seed)


def _is_loading(transform: Callable) -> bool:
    """Whether a transform reads the file (mmcv's ``LoadImageFromFile`` and
    its kind), so that its failure means an unreadable file."""
    return type(transform).__name__.startswith('LoadImage')


class UnreadableImageError(RuntimeError):
    """An image file that cannot be read or decoded."""


def declared_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height) an image file's header declares, without decoding
    it; None when PIL does not read the format (the decoder decides)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                return image.size
        except Image.DecompressionBombError:
            # PIL refuses to report sizes past its own limit; ours decides.
            limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                with Image.open(path) as image:
                    return image.size
            finally:
                Image.MAX_IMAGE_PIXELS = limit
        except Exception:
            return None


class SeededPipeline:
    """Wrap a dataset's pipeline: per-sample seeds, and failures that name
    the file.

    Args:
        pipeline (Callable): The dataset's ``Compose`` (or any callable on
            the results dict).
        skip_unreadable (int): The most distinct unreadable files the run
            may skip. 0 (the default) stops the run at the first one.
            Otherwise a file that cannot be read makes the pipeline return
            ``None``, on which mmengine's ``BaseDataset`` loads a random
            other index, drawn from the generators this sample seeded, so
            the replacement is the same in every run; the file's name
            travels with that replacement (``skipped_images`` in its
            metainfo), and :class:`~mmkamim.engine.hooks.ReproducibilityHook`
            counts the distinct files over all ranks and workers and stops
            past the limit.
        max_pixels (int, optional): Refuse, before decoding, an image whose
            header declares more pixels (a few KB of PNG can declare
            gigabytes); it counts as unreadable. None: no limit.
    """

    def __init__(self,
                 pipeline: Callable,
                 skip_unreadable: int = 0,
                 max_pixels: Optional[int] = None) -> None:
        if isinstance(pipeline, SeededPipeline):
            pipeline = pipeline.pipeline
        self.pipeline = pipeline
        self.skip_unreadable = skip_unreadable
        self.max_pixels = max_pixels
        self._pending: List[str] = []

    @property
    def transforms(self) -> List[Callable]:
        return list(getattr(self.pipeline, 'transforms', [self.pipeline]))

    def __call__(self, results: dict) -> Optional[dict]:
        key = results.get('sample_idx')
        if isinstance(key, SampleKey):
            seed_everything(sample_seed(key.seed, key.epoch, int(key)))
            results['sample_idx'] = int(key)
        path = results.get('img_path', f'sample {key}')
        for transform in self.transforms:
            if _is_loading(transform) and self.max_pixels is not None:
                size = declared_size(path)
                if size is not None and size[0] * size[1] > self.max_pixels:
                    return self._unreadable(path, ValueError(
                        f'its header declares {size[0]} x {size[1]} = '
                        f'{size[0] * size[1]} pixels, more than '
                        f'max_pixels={self.max_pixels} '
                        '(train_dataloader.sampler.max_pixels)'))
            try:
                results = transform(results)
            except Exception as error:
                if not _is_loading(transform):
                    raise RuntimeError(
                        f'{path}: {type(transform).__name__} failed: '
                        f'{type(error).__name__}: {error}') from error
                return self._unreadable(path, error)
            if results is None and _is_loading(transform):
                # e.g. LoadImageFromFile(ignore_empty=True) on a bad file
                return self._unreadable(path, ValueError('nothing loaded'))
            if results is None:
                raise ValueError(
                    f'{path}: {type(transform).__name__} returned None; '
                    'mmengine would silently train on a random other image '
                    'instead. Fix or remove the file (or the transform)')
        if self._pending:
            samples = results.get('data_samples')
            if samples is not None:
                samples.set_metainfo(dict(skipped_images=self._pending))
                self._pending = []
        return results

    def _unreadable(self, path: str, error: Exception) -> None:
        if not self.skip_unreadable:
            raise UnreadableImageError(
                f'cannot read image {path}: {type(error).__name__}: '
                f'{error}. Remove or replace the file, or let the run skip '
                'unreadable files: train_dataloader.sampler.'
                'skip_unreadable=N') from error
        self._pending.append(path)
        return None
