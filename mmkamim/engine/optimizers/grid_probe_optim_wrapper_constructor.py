"""Parameter groups for the heads of a grid probe."""
import copy

from mmengine.optim import DefaultOptimWrapperConstructor
from mmpretrain.registry import (
    OPTIM_WRAPPER_CONSTRUCTORS,
    OPTIM_WRAPPERS,
    OPTIMIZERS,
)
from torch import nn


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GridProbeOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """One parameter group per head of a
    :class:`~mmkamim.models.GridProbeClassifier`, with the head's learning
    rate; everything else (weight decay, betas, ...) from the optimizer
    config, as each separate probe run would have it. The optimizer's own
    ``lr`` is replaced by the heads' (``model.grid.lrs``); the param
    schedulers then scale each head's rate as they scale a single probe's,
    and ``auto_scale_lr`` scales them all. The wrapper is a
    :class:`~mmkamim.engine.optimizers.GridProbeOptimWrapper`.
    """

    def __call__(self, model: nn.Module):
        model = getattr(model, 'module', model)
        if not hasattr(model, 'head_parameters'):
            raise ValueError(
                'GridProbeOptimWrapperConstructor builds the optimizer of a '
                f'GridProbeClassifier, not of a {type(model).__name__}')
        if self.paramwise_cfg:
            raise ValueError(
                'a grid probe gives each head its own parameter group; it '
                'takes no paramwise_cfg')
        wrapper_cfg = copy.deepcopy(self.optim_wrapper_cfg)
        wrapper_cfg.setdefault('type', 'GridProbeOptimWrapper')
        if wrapper_cfg['type'] != 'GridProbeOptimWrapper':
            raise ValueError(
                "a grid probe steps through optim_wrapper.type="
                f"'GridProbeOptimWrapper', got {wrapper_cfg['type']!r}")
        optimizer_cfg = copy.deepcopy(self.optimizer_cfg)
        optimizer_cfg['params'] = [
            dict(params=model.head_parameters(i), lr=setting.lr,
                 grid_head=i)
            for i, setting in enumerate(model.settings)]
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        wrapper = OPTIM_WRAPPERS.build(
            wrapper_cfg, default_args=dict(optimizer=optimizer))
        wrapper.model = model
        return wrapper
