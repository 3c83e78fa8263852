from .compile_forward import compile_forward, python_scalars
from .encoder_features import encoder_features, keep_first_blocks
from .frozen import FrozenBackboneMixin
from .kamim_data_preprocessor import KAMIMDataPreprocessor
from .pipeline_weights_data_preprocessor import PipelineWeightsDataPreprocessor
from .stack_and_tile import expand_cells, stack_field

__all__ = [
    'compile_forward', 'python_scalars', 'FrozenBackboneMixin',
    'KAMIMDataPreprocessor', 'encoder_features', 'expand_cells',
    'keep_first_blocks',
    'PipelineWeightsDataPreprocessor', 'stack_field'
]
