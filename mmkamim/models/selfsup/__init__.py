from .kamim import KAMIM
from .keypoint_aware_mae import KeypointAwareMAE
from .keypoint_aware_pixmim import KeypointAwarePixMIM
from .pixmim import PixMIM

__all__ = ['KAMIM', 'KeypointAwareMAE', 'KeypointAwarePixMIM', 'PixMIM']
