"""Checkpoints that ``torch.load(weights_only=True)`` accepts."""
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmpretrain.registry import HOOKS

from mmkamim.utils.checkpoint_files import (
    check_checkpoint_file,
    checkpoint_to_load,
)

# Marks a HistoryBuffer stored as plain tensors.
_BUFFER_TAG = '__history_buffer__'


def _encode(value: Any) -> Any:
    """Replace objects weights-only loading refuses by tensors and builtins."""
    if isinstance(value, HistoryBuffer):
        log, count = value.data
        return {
            _BUFFER_TAG: True,
            'log_history': torch.from_numpy(np.asarray(log)),
            'count_history': torch.from_numpy(np.asarray(count)),
            'max_length': value.max_length,
        }
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return type(value)((k, _encode(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_encode(v) for v in value)
    return value


def _decode(value: Any) -> Any:
    """Rebuild the HistoryBuffers that :func:`_encode` stored as tensors."""
    if isinstance(value, dict):
        if value.get(_BUFFER_TAG) is True:
            return HistoryBuffer(value['log_history'].numpy(),
                                 value['count_history'].numpy(),
                                 value['max_length'])
        return type(value)((k, _decode(v)) for k, v in value.items())
    return value


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Make checkpoints loadable with ``torch.load(weights_only=True)``.

    torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine
    0.10.7 calls ``torch.load`` without the argument, so resuming fails on
    the message hub's ``HistoryBuffer`` objects and numpy values. Allowing
    those globals would also allow ``builtins.getattr``, which numpy 2
    pickles need and which lets a checkpoint run code. Instead this hook
    stores them as tensors and Python builtins when a checkpoint is saved,
    and rebuilds the ``HistoryBuffer`` objects when one is loaded. Before a
    run resumes or loads a checkpoint, the file is checked
    (:func:`check_checkpoint_file`).
    """

    priority = 'VERY_LOW'

    def before_run(self, runner) -> None:
        """Check the checkpoint the run will resume or load from, if any:
        a truncated or code-running file stops the run with its name."""
        path = checkpoint_to_load(runner.cfg, runner.work_dir)
        if path:
            check_checkpoint_file(path)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Convert what weights-only loading refuses, in place."""
        for key in ('meta', 'message_hub'):
            if key in checkpoint:
                checkpoint[key] = _encode(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Rebuild the message hub's history buffers, in place."""
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = _decode(checkpoint['message_hub'])
