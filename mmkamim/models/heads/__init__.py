from .kamae_head import KAMAEHead
from .kamim_head import KAMIMHead

__all__ = ['KAMAEHead', 'KAMIMHead']
