from .grid_probe_classifier import GridProbeClassifier
from .probe_classifier import ProbeClassifier, ProbeSetting

__all__ = ['GridProbeClassifier', 'ProbeClassifier', 'ProbeSetting']
