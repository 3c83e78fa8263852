from .knn_accuracy import Features, KNNAccuracy, gather_unique

__all__ = ['Features', 'KNNAccuracy', 'gather_unique']
