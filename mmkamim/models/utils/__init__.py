from .frozen import FrozenBackboneMixin
from .keypoint_weights import expand_cells, stack_field

__all__ = ['FrozenBackboneMixin', 'expand_cells', 'stack_field']
