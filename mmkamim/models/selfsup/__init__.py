from .kamim import KAMIM

__all__ = ['KAMIM']
