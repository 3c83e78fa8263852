from .check_pretrained_hook import CheckPretrainedHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = ['CheckPretrainedHook', 'WeightsOnlyCheckpointHook']
