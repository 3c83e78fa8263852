from .comparison_figure import draw_comparison, epoch_means

__all__ = ['draw_comparison', 'epoch_means']
