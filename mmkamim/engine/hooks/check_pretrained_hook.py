"""Stop a probe or fine-tune that would start from random weights."""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import CheckpointLoader
from mmpretrain.registry import HOOKS

from mmkamim.utils.checkpoint_files import check_checkpoint_file
from mmkamim.utils.weight_fill import some, weight_fill


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
                f'keys start with {some(heads)}): set '
                'model.backbone.init_cfg.prefix to the backbone\'s prefix in '
                'that checkpoint')
        fill = weight_fill(model.backbone, state, prefix, self.allow_random,
                           what='backbone')
        if fill.missing or fill.mismatched:
            problems = []
            if fill.missing:
                problems.append(f'{len(fill.missing)} are missing '
                                f'({some(fill.missing)})')
            if fill.mismatched:
                problems.append(f'{len(fill.mismatched)} have another shape '
                                f'({some(fill.mismatched, 3)})')
            raise ValueError(
                f'{checkpoint} (prefix {prefix!r}) does not fill the '
                f'{type(model.backbone).__name__} backbone: of its '
                f'{fill.total} parameters, {" and ".join(problems)}. Is it a '
                'checkpoint of this architecture? To let parameters stay '
                'random on purpose, list them in '
                'CheckPretrainedHook(allow_random=...)')
        if fill.allowed:
            print_log(
                f'{len(fill.allowed)} backbone parameters keep their random '
                f'init, as allow_random permits: {fill.allowed}',
                logger='current')
        print_log(
            f'{checkpoint} fills {fill.describe_share()} of the '
            f'{type(model.backbone).__name__} backbone', logger='current')
