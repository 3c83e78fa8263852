from .atomic_checkpoint_hook import AtomicCheckpointHook
from .check_load_from_hook import CheckLoadFromHook
from .check_pretrained_hook import CheckPretrainedHook
from .grid_probe_report_hook import GridProbeReportHook
from .loss_scale_monitor_hook import LossScaleMonitorHook
from .non_finite_loss_hook import NonFiniteLossHook
from .preemption_hook import PreemptionHook
from .reproducibility_hook import ReproducibilityHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = [
    'AtomicCheckpointHook', 'CheckLoadFromHook', 'CheckPretrainedHook',
    'GridProbeReportHook', 'LossScaleMonitorHook', 'NonFiniteLossHook',
    'PreemptionHook', 'ReproducibilityHook', 'WeightsOnlyCheckpointHook'
]
