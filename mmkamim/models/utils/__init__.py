from .frozen import FrozenBackboneMixin

__all__ = ['FrozenBackboneMixin']
