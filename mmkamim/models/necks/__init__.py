from .layer_norm_neck import LayerNormNeck

__all__ = ['LayerNormNeck']
