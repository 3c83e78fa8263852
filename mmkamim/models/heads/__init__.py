from .kamim_head import KAMIMHead
from .keypoint_aware_mae_head import KeypointAwareMAEHead

__all__ = ['KAMIMHead', 'KeypointAwareMAEHead']
