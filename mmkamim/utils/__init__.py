from .dist import process_group_closed_at_exit, setup_cpu_distributed
from .image_files import image_files
from .keypoints_in_pipeline import keypoints_in_pipeline
from .project_dirs import project_dir

__all__ = [
    'image_files', 'keypoints_in_pipeline', 'process_group_closed_at_exit',
    'project_dir', 'setup_cpu_distributed'
]
