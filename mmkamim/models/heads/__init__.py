from .kamae_head import KAMAEHead, KeypointAwareMAEHead
from .kamim_head import KAMIMHead

__all__ = ['KAMAEHead', 'KAMIMHead', 'KeypointAwareMAEHead']
