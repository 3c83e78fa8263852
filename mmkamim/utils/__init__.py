from .dist import setup_cpu_distributed
from .keypoints_in_pipeline import keypoints_in_pipeline

__all__ = ['keypoints_in_pipeline', 'setup_cpu_distributed']
