"""mmengine's CheckpointHook with checkpoints that survive a kill at any
moment."""
import glob
import logging
import os
import os.path as osp
from typing import List, Optional

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from mmkamim.utils.checkpoint_files import (
    latest_checkpoint,
    partial_name,
    publish,
    space_to_write,
    tensor_bytes,
    write_last_checkpoint,
)


class _AtomicSaves:
    """The runner as mmengine's ``CheckpointHook`` methods see it: its
    ``save_checkpoint`` goes through :meth:`AtomicCheckpointHook._write`."""

    def __init__(self, runner, hook: 'AtomicCheckpointHook') -> None:
        # mmengine's best save calls the interval save with what it got.
        self.runner = runner.runner if isinstance(runner,
                                                  _AtomicSaves) else runner
        self._hook = hook

    def __getattr__(self, name: str):
        return getattr(self.runner, name)

    def save_checkpoint(self, out_dir: str, filename: str,
                        file_client_args: Optional[dict] = None,
                        **kwargs) -> None:
        self._hook._write(self.runner, out_dir, filename, file_client_args,
                          **kwargs)


class _DeferredRemovals:
    """A file backend whose ``remove`` and ``rmtree`` only note the path,
    so that a file is deleted after the one replacing it is in place."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.paths: List[str] = []

    def __getattr__(self, name: str):
        return getattr(self.backend, name)

    def remove(self, path: str) -> None:
        self.paths.append(path)

    rmtree = remove


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose work dir always holds a complete checkpoint
    that ``--resume`` picks.

    mmengine's hook removes the checkpoint ``max_keep_ckpts`` retires
    *before* it writes the next one, writes files in place and points
    ``last_checkpoint`` at an absolute path: a kill during a save can leave
    no loadable checkpoint (with ``max_keep_ckpts=1``, none at all), and a
    copied work dir resumes from the original's files. On the local disk
    this hook, for every checkpoint (interval, ``save_last``, ``save_best``
    and :meth:`save_interrupted`):

    1. writes it under a hidden temporary name in its folder, flushes it
       (``fsync``), renames it to its name and flushes the folder;
    2. then points ``last_checkpoint`` at it, relative to the work dir, in
       the same way (not for ``save_best``, as mmengine);
    3. only then removes the files it retires (``max_keep_ckpts``, a former
       best, an interrupted run's checkpoint). Their names are recorded in
       the checkpoint first, so that a run killed before the removal removes
       them when it resumes.

    Before every save each rank runs the hooks'
    ``before_checkpoint_write(runner, filename)`` (``NonFiniteLossHook``
    refuses a non-finite state there, before anything is written or
    retired). The checkpoint paths mmengine keeps in the message hub (the
    best checkpoint, the last) are stored relative to the checkpoint folder,
    and a resumed run reads them in its own folder; it never removes a file
    outside that folder. So a copied work dir is independent of the
    original (mmengine removed the original's former best).

    It reads ``last_checkpoint`` in both forms (relative, and absolute as
    mmengine and older runs wrote it). Other storage backends (``out_dir``
    with a ``://`` prefix, ``backend_args``) keep mmengine's behaviour. Only
    rank 0 writes; every rank calls the save methods, as mmengine does.

    Takes :class:`~mmengine.hooks.CheckpointHook`'s arguments.
    """

    _atomic = False  # decided in before_train, from the file backend
    _meta_update: dict = {}  # for the interrupted checkpoint being saved
    _needed = 0  # bytes of the tensors of the checkpoint being saved

    def before_run(self, runner) -> None:
        """Resolve ``--resume`` without a path to the checkpoint
        ``last_checkpoint`` names (mmengine would read a relative name
        against the current directory)."""
        cfg = runner.cfg
        if cfg.get('resume') and not cfg.get('load_from'):
            resume_from(runner, latest_checkpoint(runner.work_dir))

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._atomic = isinstance(self.file_backend, LocalBackend)
        if not self._atomic:
            return
        self._own_paths(runner)
        if is_main_process():
            # Left by a run killed during a save, or before it removed
            # the files its last checkpoint retired.
            leftovers = glob.glob(osp.join(self.out_dir, '.*.partial'))
            leftovers += self._paths(
                runner.message_hub.get_info('retired_ckpts') or [])
            self._remove(leftovers)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the message hub's checkpoint paths (the best checkpoint,
        the last) relative to the checkpoint folder, so that a copied work
        dir never acts on the original's files."""
        if self._meta_update:
            checkpoint['meta'].update(self._meta_update)
            self._meta_update = {}
        self._needed = tensor_bytes(checkpoint)
        if not self._atomic:
            return
        info = (checkpoint.get('message_hub') or {}).get('runtime_info', {})
        for key, value in list(info.items()):
            if _holds_path(key, value) and self._inside(value):
                info[key] = osp.relpath(value, self.out_dir)

    def _own_paths(self, runner) -> None:
        """Make the resumed message hub's checkpoint paths this run's.

        mmengine keeps them absolute and removes the former best checkpoint
        by that path when a better one comes: resumed in a copy of the work
        dir, it removed the original's. A relative path (ours) is read in
        the checkpoint folder; an absolute one of another folder (mmengine,
        older runs, a copied work dir) is taken to mean the file of that
        name in this run's folder.
        """
        hub = runner.message_hub
        for key, value in list(hub.runtime_info.items()):
            if _holds_path(key, value):
                hub.update_info(key, self._local(value))
        if getattr(self, 'best_ckpt_path', None):
            self.best_ckpt_path = self._local(self.best_ckpt_path)
        paths = getattr(self, 'best_ckpt_path_dict', {})
        for key, value in paths.items():
            if value:
                paths[key] = self._local(value)

    def _local(self, path: str) -> str:
        if not osp.isabs(path):
            return osp.join(self.out_dir, path)
        if self._inside(path):
            return path
        return osp.join(self.out_dir, osp.basename(path))

    def _inside(self, path: str) -> bool:
        """Whether ``path`` lies in the checkpoint folder."""
        folder = osp.abspath(self.out_dir)
        return osp.commonpath([folder, osp.abspath(path)]) == folder

    def save_interrupted(self, runner, step: Optional[int] = None,
                         repeat_validation: bool = False) -> str:
        """Save the run where it is, before it stops: ``iter_{step}.pth``
        with the epoch the run is in (mmengine's ``by_epoch`` saves record
        ``epoch + 1``, which would skip the rest of the epoch on resume),
        pointed at by ``last_checkpoint``. It is removed once a later
        checkpoint is in place. Call it on every rank.

        Args:
            runner: The runner.
            step (int, optional): Iterations completed: ``runner.iter + 1``
                (the default) after a training iteration, ``runner.iter``
                during or after a validation.
            repeat_validation (bool): The run was stopped in the middle of a
                validation, which ``--resume`` runs again
                (``meta['validation_interrupted']``).

        Returns:
            str: Path of the checkpoint (the one the interval saved at this
            iteration, if any, unless a validation must be repeated).
        """
        step = runner.iter + 1 if step is None else step
        name = f'iter_{step}.pth'
        path = self.file_backend.join_path(self.out_dir, name)
        if path == self.last_ckpt and not repeat_validation:
            return path
        hub = runner.message_hub
        interrupted = hub.get_info('interrupted_ckpts') or []
        hub.update_info('interrupted_ckpts', interrupted + [name])
        hub.update_info('retired_ckpts', [])
        meta = dict(epoch=runner.epoch, iter=step)
        # Runner.save_checkpoint overwrites meta's iter with runner.iter + 1.
        self._meta_update = dict(iter=step)
        if repeat_validation:
            self._meta_update['validation_interrupted'] = True
        kwargs = dict(save_optimizer=self.save_optimizer,
                      save_param_scheduler=self.save_param_scheduler,
                      meta=meta, by_epoch=False,
                      backend_args=self.backend_args, **self.args)
        self._write(runner, self.out_dir, name, self.file_client_args,
                    **kwargs)
        self._meta_update = {}  # rank 0 used it; the other ranks save none
        if is_main_process():
            if self._atomic:
                write_last_checkpoint(runner.work_dir, path)
            else:
                with open(osp.join(runner.work_dir, 'last_checkpoint'),
                          'w') as f:
                    f.write(path)
        return path

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._atomic:
            return super()._save_checkpoint_with_step(
                _AtomicSaves(runner, self), step, meta)
        hub = runner.message_hub
        retired = list(hub.get_info('interrupted_ckpts') or [])
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                retired.append(
                    self.filename_tmpl.format(self.keep_ckpt_ids.popleft()))
            self.keep_ckpt_ids.append(step)
            hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        retired = [name for name in retired if name != filename]
        hub.update_info('retired_ckpts', retired)
        hub.update_info('interrupted_ckpts', [])
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        hub.update_info('last_ckpt', self.last_ckpt)

        self._write(runner, self.out_dir, filename,
                    file_client_args=self.file_client_args,
                    save_optimizer=self.save_optimizer,
                    save_param_scheduler=self.save_param_scheduler,
                    meta=meta, by_epoch=self.by_epoch,
                    backend_args=self.backend_args, **self.args)
        if is_main_process():
            write_last_checkpoint(runner.work_dir, self.last_ckpt)
            self._remove(self._paths(retired))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if not self._atomic:
            return super()._save_best_checkpoint(_AtomicSaves(runner, self),
                                                 metrics)
        backend = self.file_backend
        self.file_backend = _DeferredRemovals(backend)
        try:
            super()._save_best_checkpoint(_AtomicSaves(runner, self),
                                          metrics)
            former_best = self.file_backend.paths
        finally:
            self.file_backend = backend
        # A new best may have been written under the former one's name.
        current = {getattr(self, 'best_ckpt_path', None)}
        current.update(getattr(self, 'best_ckpt_path_dict', {}).values())
        if is_main_process():
            self._remove([p for p in former_best if p not in current])

    def _write(self, runner, out_dir: str, filename: str,
               file_client_args: Optional[dict] = None, **kwargs) -> None:
        """Write a checkpoint: on the local disk under a temporary name,
        then renamed.

        First every rank calls the hooks' ``before_checkpoint_write(runner,
        filename)``, where collective operations may run (gathering per-rank
        state, agreeing that the state is worth saving), since rank 0 alone
        runs the ``before_save_checkpoint`` hooks. A hook that raises there
        stops the run before anything is written or retired.
        """
        if isinstance(runner, _AtomicSaves):
            runner = runner.runner
        for hook in runner.hooks:
            if hasattr(hook, 'before_checkpoint_write'):
                hook.before_checkpoint_write(runner, filename)
        if not self._atomic:
            runner.save_checkpoint(out_dir, filename, file_client_args,
                                   **kwargs)
            return
        path = self.file_backend.join_path(out_dir, filename)
        partial = partial_name(path)
        with space_to_write(path, lambda: self._needed):
            runner.save_checkpoint(out_dir, osp.basename(partial),
                                   file_client_args, **kwargs)
            if is_main_process():
                publish(partial, path)

    def _paths(self, names: List[str]) -> List[str]:
        return [self.file_backend.join_path(self.out_dir, n) for n in names]

    def _remove(self, paths: List[str]) -> None:
        for path in paths:
            if not self._inside(path):
                print_log(
                    f'left {path} in place: it is not in this run\'s '
                    f'checkpoint folder {self.out_dir}', logger='current',
                    level=logging.WARNING)
            elif osp.isfile(path):
                os.remove(path)
                print_log(f'removed {path}', logger='current')


def resume_from(runner, checkpoint: Optional[str]) -> None:
    """Make a resuming ``runner`` resume from ``checkpoint`` (None: start
    afresh).

    mmengine's ``Runner`` has no public setter for it: ``load_or_resume``
    (called by ``train`` after ``before_run``) reads the private
    ``_load_from``. This is the one place that writes it, and
    ``test_mmengine_resumes_from_what_resume_from_sets`` fails if mmengine
    changes what the attribute means.
    """
    runner._load_from = checkpoint


def _holds_path(key: str, value) -> bool:
    """Whether a message hub entry is a checkpoint path (mmengine's
    ``best_ckpt``, ``best_ckpt_<metric>`` and ``last_ckpt``)."""
    return isinstance(value, str) and bool(value) and '://' not in value \
        and (key in ('best_ckpt', 'last_ckpt') or key.startswith('best_ckpt_'))
