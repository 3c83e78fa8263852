"""Stop a probe or fine-tune that would start from random weights."""
from fnmatch import fnmatch
from typing import Dict, List, NamedTuple, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import CheckpointLoader
from mmpretrain.registry import HOOKS
from torch import nn

from mmkamim.utils.checkpoint_files import check_checkpoint_file

# Parameters MMPretrain resizes when it loads them, and the axis it resizes:
# position embeddings along the tokens, relative-position tables along the
# offsets. Every other axis (the width, the heads) must match.
RESIZED_ON_LOAD = {
    'pos_embed': 1,
    'absolute_pos_embed': 1,
    'relative_position_bias_table': 0,
}


class BackboneFill(NamedTuple):
    """How a checkpoint fills a backbone's parameters (prefix removed)."""
    filled: List[str]
    missing: List[str]
    mismatched: List[str]  # 'name: checkpoint (...) vs backbone (...)'
    allowed: List[str]  # missing or mismatched, but allowed to stay random


def shapes_fit(name: str, source: torch.Size, target: torch.Size) -> bool:
    """Whether a checkpoint tensor of shape ``source`` can fill ``name``."""
    if source == target:
        return True
    axis = RESIZED_ON_LOAD.get(name.rsplit('.', 1)[-1])
    if axis is None or len(source) != len(target):
        return False
    return all(a == b for i, (a, b) in enumerate(zip(source, target))
               if i != axis)


def check_backbone_weights(backbone: nn.Module,
                           state: Dict[str, torch.Tensor],
                           prefix: str,
                           allow_random: Sequence[str] = ()) -> BackboneFill:
    """Compare a backbone's parameters with the tensors under ``prefix``.

    Buffers are not compared: a checkpoint that holds only buffers (index
    tables, for example) fills nothing.

    Args:
        backbone (nn.Module): The backbone to initialise.
        state (dict): The checkpoint's state dict.
        prefix (str): Prefix of the backbone's keys in ``state``, e.g.
            ``'backbone.'``.
        allow_random (Sequence[str]): ``fnmatch`` patterns of parameter names
            that may stay random.

    Returns:
        BackboneFill: Filled, missing, mismatched and allowed parameters.
    """
    found = {
        key[len(prefix):]: value
        for key, value in state.items() if key.startswith(prefix)
    }
    result = BackboneFill([], [], [], [])
    for name, param in backbone.named_parameters():
        source = found.get(name)
        if source is not None and shapes_fit(name, source.shape, param.shape):
            result.filled.append(name)
        elif any(fnmatch(name, pattern) for pattern in allow_random):
            result.allowed.append(name)
        elif source is None:
            result.missing.append(name)
        else:
            result.mismatched.append(
                f'{name}: checkpoint {tuple(source.shape)} vs backbone '
                f'{tuple(param.shape)}')
    return result


def _some(items: List[str], count: int = 5) -> str:
    more = f' and {len(items) - count} more' if len(items) > count else ''
    return ', '.join(items[:count]) + more


@HOOKS.register_module()
class CheckPretrainedHook(Hook):
    """Check, before weights are initialised, that the checkpoint fills the
    backbone.

    mmengine's ``Pretrained`` initialiser loads with ``strict=False``: a
    checkpoint of another architecture or size, one with another key
    prefix, or one holding only buffers only logs warnings, and the run
    trains from random weights. This hook reads ``model.backbone.init_cfg``
    and stops the run unless every parameter of the backbone (every one the
    probe or fine-tune uses: a probe's backbone holds no others) is in the
    checkpoint with a fitting shape. Shapes fit when equal, or when they
    differ only along the axis MMPretrain resizes on load (the tokens of a
    position embedding, the offsets of a relative-position table). Runs that
    load all weights from ``load_from`` (testing, resuming) are not checked.

    Args:
        allow_random (Sequence[str]): ``fnmatch`` patterns of backbone
            parameter names allowed to keep their random init, for users who
            mean it (e.g. ``['ln1.*']``). Defaults to none.
    """

    priority = 'VERY_HIGH'

    def __init__(self, allow_random: Sequence[str] = ()) -> None:
        self.allow_random = list(allow_random)

    def before_run(self, runner) -> None:
        """Raise unless the configured checkpoint fills the backbone."""
        if runner.cfg.get('load_from'):
            return
        init_cfg = runner.cfg.model.get('backbone', {}).get('init_cfg') or {}
        checkpoint = init_cfg.get('checkpoint')
        if init_cfg.get('type') != 'Pretrained' or not checkpoint:
            raise ValueError(
                'no pre-trained backbone: set '
                '--cfg-options model.backbone.init_cfg.checkpoint=PATH to a '
                'KAMIM/SimMIM pre-training checkpoint (got init_cfg='
                f'{dict(init_cfg)})')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        prefix = init_cfg.get('prefix', '')
        prefix = prefix if not prefix or prefix.endswith('.') else prefix + '.'
        check_checkpoint_file(checkpoint)
        state = CheckpointLoader.load_checkpoint(
            checkpoint, map_location='cpu')
        state = state.get('state_dict', state)
        if not any(key.startswith(prefix) for key in state):
            heads = sorted({key.split('.', 1)[0] + '.' for key in state})
            raise ValueError(
                f'no key of {checkpoint} starts with prefix {prefix!r} (its '
                f'keys start with {_some(heads)}): set '
                'model.backbone.init_cfg.prefix to the backbone\'s prefix in '
                'that checkpoint')
        fill = check_backbone_weights(model.backbone, state, prefix,
                                      self.allow_random)
        if fill.missing or fill.mismatched:
            problems = []
            if fill.missing:
                problems.append(f'{len(fill.missing)} are missing '
                                f'({_some(fill.missing)})')
            if fill.mismatched:
                problems.append(f'{len(fill.mismatched)} have another shape '
                                f'({_some(fill.mismatched, 3)})')
            total = len(fill.filled) + len(fill.missing) + len(
                fill.mismatched) + len(fill.allowed)
            raise ValueError(
                f'{checkpoint} (prefix {prefix!r}) does not fill the '
                f'{type(model.backbone).__name__} backbone: of its {total} '
                f'parameters, {" and ".join(problems)}. Is it a checkpoint '
                'of this architecture? To let parameters stay random on '
                'purpose, list them in CheckPretrainedHook(allow_random=...)')
        if fill.allowed:
            print_log(
                f'{len(fill.allowed)} backbone parameters keep their random '
                f'init, as allow_random permits: {fill.allowed}',
                logger='current')
        print_log(
            f'{len(fill.filled)} backbone parameters come from {checkpoint}',
            logger='current')
