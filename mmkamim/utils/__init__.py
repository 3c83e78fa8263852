from .dist import setup_cpu_distributed
from .keypoints_in_pipeline import keypoints_in_pipeline
from .project_dirs import project_dir

__all__ = ['keypoints_in_pipeline', 'project_dir', 'setup_cpu_distributed']
