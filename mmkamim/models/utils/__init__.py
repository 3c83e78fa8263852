from .encoder_features import encoder_features
from .frozen import FrozenBackboneMixin
from .kamim_data_preprocessor import KAMIMDataPreprocessor
from .keypoint_weights import expand_cells, stack_field

__all__ = [
    'FrozenBackboneMixin', 'KAMIMDataPreprocessor', 'encoder_features',
    'expand_cells',
    'stack_field'
]
