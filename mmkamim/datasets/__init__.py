from .image_folder import ImageFolder
from .places365 import Places365
from .samplers import ReproducibleSampler
from .seeded_pipeline import SampleKey, SeededPipeline
from .transforms import KeypointDensity

__all__ = [
    'ImageFolder', 'KeypointDensity', 'Places365', 'ReproducibleSampler',
    'SampleKey', 'SeededPipeline'
]
