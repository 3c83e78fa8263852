from .comparison_figure import draw_comparison, epoch_means
from .keypoint_weight_figure import draw_keypoint_weights, draw_reconstructions

__all__ = [
    'draw_comparison', 'draw_keypoint_weights', 'draw_reconstructions',
    'epoch_means'
]
