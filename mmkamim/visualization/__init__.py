from .comparison_figure import draw_comparison, epoch_means
from .file_backend import use_file_backend
from .grid_figure import draw_grid, markdown_tables
from .keypoint_weight_figure import draw_keypoint_weights, draw_reconstructions

__all__ = [
    'draw_comparison', 'draw_grid', 'draw_keypoint_weights',
    'draw_reconstructions', 'epoch_means', 'markdown_tables',
    'use_file_backend'
]
