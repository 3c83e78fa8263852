"""Stop a run whose ``load_from`` checkpoint does not fit its model."""
import re
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmpretrain.registry import HOOKS

from mmkamim.utils.errors import UsageError
from mmkamim.utils.weight_fill import some, weight_fill

# Below this share of the model's parameter values a load_from checkpoint
# is not the model's, whatever allow_random lets through.
MIN_SHARE = 0.5


@HOOKS.register_module()
class CheckLoadFromHook(Hook):
    """Check a ``load_from`` checkpoint against the model when it is loaded,
    before anything trains or is tested.

    mmengine loads ``load_from`` with ``strict=False``: a checkpoint of
    another width, depth or model only logs "size mismatch" and "missing
    keys" warnings, and the run trains (or tests) from random weights to
    the end. This hook stops the run, naming a few tensors and the counts,
    unless

    1. every tensor whose name is a parameter of the model has that
       parameter's shape, or differs only along the axis MMPretrain resizes
       on load (the tokens of a position embedding, the offsets of a
       relative-position table), which counts as filled;
    2. every parameter is in the checkpoint, except those ``allow_random``
       lists (a partial load that is meant, e.g. encoder-only weights into
       KAMIM: ``allow_random=['neck.*']``);
    3. and the checkpoint fills at least half of the model's parameter
       values, whatever ``allow_random`` says.

    The share loaded is logged; with ``allow_random``, also which parameters
    keep their initialisation. Resuming is checked by ``ReproducibilityHook``
    instead; a backbone's ``init_cfg`` by ``CheckPretrainedHook``. The names
    are the model's (``backbone.cls_token``), without DDP's ``module.``.

    Args:
        allow_random (Sequence[str]): ``fnmatch`` patterns of model parameter
            names that may be missing from the checkpoint or of another shape
            there, and keep their initialisation. Defaults to none.
    """

    priority = 'VERY_HIGH'

    def __init__(self, allow_random: Sequence[str] = ()) -> None:
        if isinstance(allow_random, str):
            raise ValueError(
                f'allow_random must be a list of patterns, got the string '
                f'{allow_random!r}: write [{allow_random!r}]')
        self.allow_random = list(allow_random)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Raise unless a ``load_from`` checkpoint fits the model."""
        if runner.cfg.get('resume'):
            return
        path = runner.cfg.get('load_from')
        state = checkpoint.get('state_dict', checkpoint)
        # mmengine's load_checkpoint removes DDP's prefix the same way.
        state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
        model = runner.model
        # mmengine loads into what DDP and a test-time augmentation wrap.
        while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        fill = weight_fill(model, state, allow_random=self.allow_random)
        problems = []
        if fill.mismatched:
            problems.append(f'{len(fill.mismatched)} have another shape '
                            f'({some(fill.mismatched, 3)})')
        if fill.missing:
            problems.append(f'{len(fill.missing)} are not in it '
                            f'({some(fill.missing, 3)})')
        if fill.share < MIN_SHARE:
            problems.append(f'it fills only {fill.describe_share()}, less '
                            'than half')
        own = {name for name, _ in model.named_parameters()}
        own.update(name for name, _ in model.named_buffers())
        foreign = [k for k in state if k not in own]
        if problems:
            extra = (f'; {len(foreign)} of its tensors are not the model\'s '
                     f'({some(foreign, 3)})' if foreign else '')
            raise UsageError(
                f'load_from={path} does not fit the '
                f'{type(model).__name__} model: of its {fill.total} '
                f'parameter tensors, {"; ".join(problems)}{extra}. Is it a '
                'checkpoint of this model and size? A checkpoint from '
                'elsewhere may need converting first (e.g. '
                'tools/model_converters/hf_simmim_to_mmkamim.py); to start '
                "only a probe's or fine-tune's backbone from it, set "
                'model.backbone.init_cfg instead; to let parameters keep '
                'their initialisation on purpose, list them in '
                "CheckLoadFromHook(allow_random=['neck.*', ...])")
        if fill.allowed:
            print_log(
                f'load_from={path}: {len(fill.allowed)} parameters keep their '
                f'initialisation, as allow_random permits '
                f'({some(fill.allowed, 10)}); the checkpoint fills the other '
                f'{len(fill.filled)}', logger='current')
        unused = (f'; {len(foreign)} of its tensors are not the model\'s and '
                  f'are not used ({some(foreign, 3)})' if foreign else '')
        print_log(f'load_from={path} fills {fill.describe_share()} of the '
                  f'{type(model).__name__} model{unused}', logger='current')
