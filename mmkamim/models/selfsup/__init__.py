from .kamae import KAMAE, KeypointAwareMAE, KeypointAwarePixMIM
from .kamim import KAMIM
from .pixmim import PixMIM

__all__ = [
    'KAMAE', 'KAMIM', 'KeypointAwareMAE', 'KeypointAwarePixMIM', 'PixMIM'
]
