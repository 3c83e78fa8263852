from .grid_accuracy import GridAccuracy
from .knn_accuracy import Features, KNNAccuracy, gather_unique

__all__ = ['Features', 'GridAccuracy', 'KNNAccuracy', 'gather_unique']
