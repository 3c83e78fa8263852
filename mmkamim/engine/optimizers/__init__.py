from .fused_adamw import fused_kernel_available, with_fused_adam
from .grid_probe_optim_wrapper import GridProbeOptimWrapper
from .grid_probe_optim_wrapper_constructor import (
    GridProbeOptimWrapperConstructor,
)

__all__ = [
    'GridProbeOptimWrapper', 'GridProbeOptimWrapperConstructor',
    'fused_kernel_available', 'with_fused_adam'
]
