"""Checkpoint files on the local disk: written so that a kill at any moment
leaves a complete one, found again from a work dir that was moved, and
refused with their name when they cannot be loaded.

A file is written under a temporary name in its final folder, flushed to
the disk (``fsync``), renamed over its final name (``os.replace``, atomic
within a file system), and the folder is flushed so that the rename itself
survives a crash. Readers therefore see the old file or the new one, never
a part of one. ``last_checkpoint`` names its checkpoint relative to the
work dir, so a copied work dir resumes from its own files.
"""
import errno
import glob
import os
import os.path as osp
import shutil
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import torch

from .errors import UsageError

LAST_CHECKPOINT = 'last_checkpoint'


def partial_name(path: str) -> str:
    """The temporary name a file is written under before it is renamed to
    ``path``: hidden, in the same folder, never picked by ``--resume``."""
    folder, name = osp.split(path)
    return osp.join(folder, f'.{name}.partial')


def fsync_path(path: str) -> None:
    """Flush a file's or a folder's data and metadata to the disk."""
    if os.name == 'nt' and osp.isdir(path):
        return  # Windows opens no folder; its renames are journaled
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(partial: str, path: str) -> None:
    """Move a completely written file to its final name: flush it, rename
    it over ``path``, flush the folder."""
    fsync_path(partial)
    os.replace(partial, path)
    fsync_path(osp.dirname(osp.abspath(path)))


# A write that fails for want of space: the disk is full, or a quota.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextmanager
def space_to_write(path: str,
                   needed: Callable[[], int]) -> Iterator[None]:
    """Turn a write of ``path`` (under its temporary name) that runs out of
    space into one line naming the path, the bytes needed and the bytes
    free, with the temporary file removed.

    Args:
        path (str): The file being written.
        needed (Callable[[], int]): The bytes it needs (a checkpoint's
            tensors' total size), asked when the write has failed.

    Raises:
        UsageError: The disk (or a quota) is full.
    """
    partial = partial_name(path)
    try:
        yield
    except OSError as error:
        if error.errno not in DISK_FULL:
            raise
        if osp.exists(partial):
            os.remove(partial)
        folder = osp.dirname(osp.abspath(path))
        free = shutil.disk_usage(folder).free
        raise UsageError(
            f'cannot write {path}: {os.strerror(error.errno)}. It needs '
            f'{needed():,} bytes, {free:,} are free in {folder}. Make room '
            'there (remove older checkpoints; default_hooks.checkpoint.'
            'max_keep_ckpts keeps fewer) or save elsewhere '
            '(default_hooks.checkpoint.out_dir), then continue with '
            '--resume') from error


def tensor_bytes(value) -> int:
    """The total size of the tensors in a (nested) checkpoint."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(v) for v in value)
    return 0


def remove_partial_files(folder: str) -> List[str]:
    """Remove the temporary files a write killed or cut short left in
    ``folder`` (before a resumed run writes anything: on a full disk they
    hold the space it needs).

    Returns:
        List[str]: The files removed.
    """
    found = glob.glob(osp.join(folder, '.*.partial'))
    for path in found:
        os.remove(path)
    return found


def write_text_atomically(path: str, text: str) -> None:
    """Replace ``path`` by a file holding ``text``, atomically."""
    partial = partial_name(path)
    with space_to_write(path, lambda: len(text.encode())):
        with open(partial, 'w') as f:
            f.write(text)
        publish(partial, path)


def write_last_checkpoint(work_dir: str, checkpoint: str) -> None:
    """Point ``work_dir/last_checkpoint`` at ``checkpoint``, atomically.

    The path is stored relative to the work dir when the checkpoint lies
    inside it (mmengine stores it absolute), so that a copied or moved work
    dir resumes from its own files.
    """
    work_dir = osp.abspath(work_dir)
    checkpoint = osp.abspath(checkpoint)
    if osp.commonpath([work_dir, checkpoint]) == work_dir:
        checkpoint = osp.relpath(checkpoint, work_dir)
    write_text_atomically(osp.join(work_dir, LAST_CHECKPOINT), checkpoint)


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``work_dir/last_checkpoint`` names, or None when the
    work dir has none.

    Reads both forms: relative to the work dir (written by
    :func:`write_last_checkpoint`) and absolute (mmengine, older runs).

    Raises:
        UsageError: The file named there does not exist; the message lists
            the checkpoints the work dir does hold.
    """
    record = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(record):
        return None
    with open(record) as f:
        name = f.read().strip()
    if '://' in name:  # another storage backend: mmengine's business
        return name
    path = name if osp.isabs(name) else osp.join(work_dir, name)
    if not osp.isfile(path):
        found = sorted(f for f in os.listdir(work_dir) if f.endswith('.pth'))
        raise UsageError(
            f'{record} names {name}, which does not exist. Resume from one '
            f'of the checkpoints the work dir holds ({", ".join(found)})'
            if found else
            f'{record} names {name}, which does not exist, and the work '
            'dir holds no checkpoint: start the run without --resume')
    return path


def non_finite(named_tensors: Iterable[Tuple[str, torch.Tensor]]
               ) -> List[str]:
    """The names of the floating-point tensors holding inf or NaN."""
    return [name for name, tensor in named_tensors
            if isinstance(tensor, torch.Tensor)
            and tensor.is_floating_point()
            and not bool(torch.isfinite(tensor).all())]


def optimizer_tensors(optimizer_state: dict,
                      names: Optional[dict] = None
                      ) -> List[Tuple[str, torch.Tensor]]:
    """The tensors of an optimizer's ``state_dict()['state']`` (or of its
    ``state``, keyed by parameter), named ``'exp_avg of <parameter>'``.

    Args:
        optimizer_state (dict): Per-parameter state.
        names (dict, optional): Parameter (or its index) to its name.
    """
    names = names or {}
    return [(f'{key} of {names.get(param, param)}', value)
            for param, state in optimizer_state.items()
            for key, value in state.items()]


def checkpoint_is_finite(path: str) -> bool:
    """Whether a checkpoint's weights and optimizer state are all finite
    (read without loading its tensors into memory)."""
    checkpoint = torch.load(path, map_location='cpu', weights_only=True,
                            mmap=True)
    if not isinstance(checkpoint, dict):
        return False
    tensors = list(checkpoint.get('state_dict', checkpoint).items())
    optimizer = checkpoint.get('optimizer')
    if isinstance(optimizer, dict):
        tensors += optimizer_tensors(optimizer.get('state', {}))
    return not non_finite(tensors)


def last_finite_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to resume from after a run went non-finite: the one
    ``last_checkpoint`` names if its weights and optimizer state are
    finite, else the newest such checkpoint of the work dir; None if there
    is none (unreadable files are passed over)."""
    try:
        named = latest_checkpoint(work_dir)
    except UsageError:
        named = None
    others = sorted(glob.glob(osp.join(work_dir, '*.pth')),
                    key=osp.getmtime, reverse=True)
    for path in ([named] if named else []) + others:
        if '://' in path:
            return path  # another storage backend: not read here
        try:
            if checkpoint_is_finite(path):
                return path
        except Exception:  # cut off or not a checkpoint: look further
            continue
    return None


def checkpoint_to_load(cfg, work_dir: str) -> Optional[str]:
    """The checkpoint a runner with this config will resume or load."""
    if cfg.get('load_from'):
        return cfg.load_from
    if cfg.get('resume'):
        return latest_checkpoint(work_dir)
    return None


def check_checkpoint_file(path: str) -> None:
    """Refuse, with the reason and the file's name, a local checkpoint path
    that is missing, a folder, not a checkpoint, cut off, or holding objects
    which run code when unpickled.

    Reads only the file's first bytes, index and pickle opcodes, not its
    tensors. ``torch.load(weights_only=True)``, which loads every
    checkpoint, would refuse most of these too, with a message that does
    not name the file.

    Args:
        path (str): A checkpoint file; URLs and other backends are left to
            mmengine.
    """
    if '://' in path:
        return
    if osp.isdir(path):
        raise UsageError(
            f'checkpoint {path} is a folder. To continue the run saved in '
            f'it, pass --work-dir {path} and --resume without a path (it '
            f'takes the checkpoint {LAST_CHECKPOINT} names); or name one of '
            'its .pth files')
    if not osp.isfile(path):
        raise UsageError(f'checkpoint {path} does not exist')
    with open(path, 'rb') as f:
        head = f.read(4)
    # torch.save writes a zip archive; before torch 1.6, a bare pickle.
    if head != b'PK\x03\x04' and head[:1] != b'\x80':
        raise UsageError(
            f'{path} is not a PyTorch checkpoint (a file written by '
            'torch.save); check the path')
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception as error:  # zip index or pickle unreadable
        raise UsageError(
            f'checkpoint {path} cannot be read ({type(error).__name__}: '
            f'{error}); it may have been cut off while it was being written. '
            'Resume from an earlier checkpoint of the work dir') from error
    if unsafe:
        raise UsageError(
            f'checkpoint {path} holds Python objects that run code when '
            f'loaded ({", ".join(unsafe)}); mmkamim loads checkpoints with '
            'weights_only=True and will not load it. Re-save its tensors '
            '(e.g. {"state_dict": ...}) from an environment you trust')


def checkpoint_meta(path: str) -> dict:
    """A checkpoint's ``meta`` (empty if it has none), read without
    loading its tensors into memory."""
    check_checkpoint_file(path)
    checkpoint = torch.load(path, map_location='cpu', weights_only=True,
                            mmap=True)
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    return meta if isinstance(meta, dict) else {}


def apply_checkpoint_norm_eps(cfg, path: str) -> Optional[float]:
    """Give the backbone the LayerNorm epsilon its weights were trained
    with, when the checkpoint says (``meta['hf_layer_norm_eps']``, written
    by the Hugging Face converter: 1e-12 for ViTs, where MMPretrain uses
    1e-6); a converted MAE's decoder too.

    Returns:
        float, optional: The epsilon applied, or None.
    """
    meta = checkpoint_meta(path)
    eps = meta.get('hf_layer_norm_eps')
    if eps is None:
        return None
    parts = [cfg.model.backbone]
    if meta.get('family') == 'mae' and cfg.model.get('neck'):
        parts.append(cfg.model.neck)  # MAE's decoder has LayerNorms too
    for part in parts:
        part.norm_cfg = dict(part.get('norm_cfg') or dict(type='LN'),
                             eps=eps)
    return eps


def _unprefixed(name: str) -> str:
    """A weight's name without DistributedDataParallel's ``module.``."""
    return name[len('module.'):] if name.startswith('module.') else name


def _examples(names: List[str]) -> str:
    return ', '.join(names[:3]) + (', ...' if len(names) > 3 else '')


def resume_problems(checkpoint: dict, model, optimizer=None,
                    schedulers: Optional[list] = None) -> List[str]:
    """What keeps a checkpoint from continuing this run exactly.

    mmengine resumes from whatever it is given: weights of another model
    load partly (``strict=False``) and train on from random values, a
    checkpoint without schedulers restarts the schedule, another optimizer
    fails deep inside torch.

    Args:
        checkpoint (dict): The loaded checkpoint.
        model (nn.Module): The model to resume (unwrapped).
        optimizer (Optimizer, optional): Its optimizer.
        schedulers (list, optional): Its parameter schedulers.

    Returns:
        List[str]: One sentence per problem; empty if it can resume.
    """
    needed = ['meta', 'state_dict', 'message_hub']
    if optimizer is not None:
        needed.append('optimizer')
    if schedulers:
        needed.append('param_schedulers')
    missing = [key for key in needed if key not in checkpoint]
    if 'state_dict' in missing:
        return [f'it lacks {", ".join(missing)}']
    if len(missing) == len(needed) - 1:
        return ['it holds weights only (no training state: '
                f'{", ".join(missing)})']
    if missing:
        return [f'it lacks {", ".join(missing)}']
    problems = []
    state = {_unprefixed(k): v for k, v in checkpoint['state_dict'].items()}
    own = {_unprefixed(k): v for k, v in model.state_dict().items()}
    absent = [k for k in own if k not in state]
    foreign = [k for k in state if k not in own]
    shapes = [f'{k} ({tuple(state[k].shape)} saved, {tuple(v.shape)} here)'
              for k, v in own.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if absent or foreign or shapes:
        parts = []
        if absent:
            parts.append(f'{len(absent)} of the model\'s weights are not in '
                         f'it ({_examples(absent)})')
        if foreign:
            parts.append(f'{len(foreign)} of its weights are not the '
                         f'model\'s ({_examples(foreign)})')
        if shapes:
            parts.append(f'{len(shapes)} have another shape '
                         f'({_examples(shapes)})')
        problems.append('it was saved by another model: ' + '; '.join(parts))
    if optimizer is not None:
        saved = [len(g['params'])
                 for g in checkpoint['optimizer'].get('param_groups', [])]
        here = [len(g['params']) for g in optimizer.param_groups]
        if saved != here:
            problems.append(
                f'its optimizer has parameter groups of {saved} parameters, '
                f'this run\'s {here} (optim_wrapper or paramwise_cfg '
                'changed)')
    if schedulers:
        saved = checkpoint['param_schedulers']
        if isinstance(saved, list) and len(saved) != len(schedulers):
            problems.append(
                f'it holds {len(saved)} parameter schedulers, this run has '
                f'{len(schedulers)} (param_scheduler changed)')
    return problems
