from .keypoint_density import KeypointDensity

__all__ = ['KeypointDensity']
