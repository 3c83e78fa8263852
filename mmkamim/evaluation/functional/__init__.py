from .knn import knn_classify, knn_correct, nearest_neighbours

__all__ = ['knn_classify', 'knn_correct', 'nearest_neighbours']
