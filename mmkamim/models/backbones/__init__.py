from .linear_probe_swin import LinearProbeSwin
from .linear_probe_vit import LinearProbeViT
from .simmim_vit import SimMIMViT

__all__ = ['LinearProbeSwin', 'LinearProbeViT', 'SimMIMViT']
