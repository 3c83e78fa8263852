from .fused_adamw import fused_kernel_available, with_fused_adam

__all__ = ['fused_kernel_available', 'with_fused_adam']
