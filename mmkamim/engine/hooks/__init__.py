from .check_pretrained_hook import CheckPretrainedHook
from .loss_scale_monitor_hook import LossScaleMonitorHook
from .reproducibility_hook import ReproducibilityHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = [
    'CheckPretrainedHook', 'LossScaleMonitorHook', 'ReproducibilityHook',
    'WeightsOnlyCheckpointHook'
]
