"""Training throughput of a finished run, from what it logged.

mmengine's ``IterTimerHook`` logs two times per iteration: ``time``, from
the end of one iteration to the end of the next, and ``data_time``, the
part of it spent waiting for the data loader's next batch. Averaged past
the warm-up (the loader's first batches, compilation), they give images
per second and the share of the step the device waits for data.
"""
import glob
import os.path as osp
import statistics
from typing import List

from mmengine.config import Config

from mmkamim.utils.errors import UsageError

from .logs import read_scalars


def training_throughput(records: List[dict], images_per_iter: int,
                        skip_iters: int) -> dict:
    """Images per second and data-wait share of the logged iterations.

    Each record's ``time`` and ``data_time`` are what the logger averaged
    since its last line; log with ``log_processor.window_size`` equal to
    the logger's ``interval`` so that every iteration counts once (in an
    epoch-based run whose epochs are not a multiple of the interval, the
    line at each epoch's end repeats some iterations of the line before).

    Args:
        records (list[dict]): Scalar records (:func:`read_scalars`).
        images_per_iter (int): Images per iteration, all processes together
            (batch size x processes).
        skip_iters (int): Records up to this iteration are warm-up, left
            out.

    Returns:
        dict: ``records`` (how many were averaged), ``first_iter``,
        ``last_iter``, ``seconds_per_iter``, ``images_per_s`` and
        ``data_wait_share`` (``data_time`` / ``time``, in [0, 1]).
    """
    if images_per_iter < 1:
        raise UsageError(f'images_per_iter must be >= 1, got '
                         f'{images_per_iter!r}')
    train = [r for r in records if 'time' in r and 'data_time' in r and
             'loss' in r]
    kept = [r for r in train if r['step'] > skip_iters]
    if not kept:
        last = max((r['step'] for r in train), default=None)
        raise UsageError(f'no training iteration logged after iteration '
                         f'{skip_iters} (the last logged is {last}): lower '
                         '--skip or train longer')
    seconds = statistics.mean(r['time'] for r in kept)
    waiting = statistics.mean(r['data_time'] for r in kept)
    return dict(records=len(kept), first_iter=kept[0]['step'],
                last_iter=kept[-1]['step'], seconds_per_iter=seconds,
                images_per_s=images_per_iter / seconds,
                data_wait_share=waiting / seconds)


def run_batch_size(work_dir: str) -> int:
    """The per-process training batch size of the config a run dumped into
    its work dir."""
    configs = sorted(glob.glob(osp.join(work_dir, '*.py')))
    if len(configs) != 1:
        raise UsageError(f'expected the one config tools/train.py dumps in '
                         f'{work_dir}, found {configs or "none"}: pass '
                         '--batch-size')
    return Config.fromfile(configs[0]).train_dataloader.batch_size


def work_dir_throughput(work_dir: str, skip_iters: int, processes: int = 1,
                        batch_size: int = None) -> dict:
    """:func:`training_throughput` of the run in ``work_dir``."""
    batch_size = batch_size or run_batch_size(work_dir)
    return training_throughput(read_scalars(work_dir),
                               batch_size * processes, skip_iters)
