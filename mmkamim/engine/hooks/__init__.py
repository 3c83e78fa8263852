from .check_pretrained_hook import CheckPretrainedHook
from .reproducibility_hook import ReproducibilityHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = [
    'CheckPretrainedHook', 'ReproducibilityHook', 'WeightsOnlyCheckpointHook'
]
