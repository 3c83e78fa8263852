from .checked_runner import CheckedRunner
from .knn_val_loop import KNNValLoop
from .resumable_iter_based_train_loop import ResumableIterBasedTrainLoop

__all__ = ['CheckedRunner', 'KNNValLoop', 'ResumableIterBasedTrainLoop']
