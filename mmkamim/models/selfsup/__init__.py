from .kamae import KAMAE
from .kamim import KAMIM
from .pixmim import PixMIM

__all__ = [
    'KAMAE', 'KAMIM', 'PixMIM'
]
