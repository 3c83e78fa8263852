from .samplers import ReproducibleSampler
from .seeded_pipeline import SampleKey, SeededPipeline
from .transforms import KeypointDensity

__all__ = [
    'KeypointDensity', 'ReproducibleSampler', 'SampleKey', 'SeededPipeline'
]
