from .reproducible_sampler import ReproducibleSampler

__all__ = ['ReproducibleSampler']
