from .simmim_vit import SimMIMViT

__all__ = ['SimMIMViT']
