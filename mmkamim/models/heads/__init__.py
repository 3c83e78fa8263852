from .kamim_head import KAMIMHead

__all__ = ['KAMIMHead']
